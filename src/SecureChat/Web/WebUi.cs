using System.Collections.Frozen;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace SecureChat.Web;

/// <summary>
/// The web UI's pages: static files embedded in the program (<c>Web/wwwroot</c>), nothing fetched
/// from elsewhere. <c>/</c> is the app for a browser with a session, and for anyone else an explainer
/// whose script trades the <c>#token=</c> of the printed link for a session cookie
/// (<c>POST /session</c>), so the token never travels in a URL the server sees.
/// </summary>
internal sealed class WebUi
{
    /// <summary>
    /// Scripts and styles only from this server, no inline code, no plugins, no framing, forms and
    /// fetches to this server only; pictures may be data: or blob: URLs (the QR code, a camera frame).
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; media-src 'self' blob:; "
        + "manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    private const string AssetPrefix = "/assets/";

    /// <summary>What a browser without a session may load: the explainer's own script, style and icon.</summary>
    private static readonly FrozenSet<string> PublicAssets = FrozenSet.ToFrozenSet(["login.js", "style.css", "icon.svg"], StringComparer.Ordinal);

    private readonly FrozenDictionary<string, Asset> _assets;

    private readonly Api.AccessToken _token;

    public WebUi(Api.AccessToken token, WebSessions sessions)
    {
        _token = token;
        Sessions = sessions;
        _assets = LoadAssets();
    }

    public WebSessions Sessions { get; }

    public static void SecurityHeaders(HttpResponse response)
    {
        var headers = response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        headers["Cross-Origin-Resource-Policy"] = "same-origin";
        headers["Permissions-Policy"] = "camera=(self), microphone=(), geolocation=(), interest-cohort=()";
    }

    /// <summary>
    /// A request a browser makes for a page or a file of it, rather than an API call. Routing ignores
    /// case, so <c>/API/status</c> is an API call too.
    /// </summary>
    public static bool IsPage(HttpRequest request) =>
        (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method))
        && !request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase)
        && !request.Path.StartsWithSegments("/session", StringComparison.OrdinalIgnoreCase);

    public bool IsPublic(HttpRequest request) =>
        (IsPage(request) && request.Path.Value is { } path && path.StartsWith(AssetPrefix, StringComparison.Ordinal) && PublicAssets.Contains(path[AssetPrefix.Length..]))
        || (HttpMethods.IsPost(request.Method) && request.Path.Equals("/session", StringComparison.Ordinal));

    public bool HasSession(HttpRequest request) => Sessions.IsValid(request.Cookies[Sessions.CookieName]);

    /// <summary>The page every visitor without a session sees: how to get the link, nothing of the node.</summary>
    public Task WriteExplainerAsync(HttpContext context) => WriteAssetAsync(context, "welcome.html");

    public void Map(WebApplication app)
    {
        app.MapGet("/", (HttpContext context) => WriteAssetAsync(context, "index.html"));
        app.MapGet("/favicon.ico", () => Results.Redirect("/assets/icon.svg"));
        app.MapGet(AssetPrefix + "{name}", (HttpContext context, string name) => WriteAssetAsync(context, name));
        app.MapPost("/session", (HttpContext context, SessionRequest? request) =>
        {
            if (!_token.Matches(request?.Token))
            {
                return Results.Json(new { error = "This link's token is not the node's: the node has restarted since it printed the link (each start makes a new one). Open the link it printed last." }, statusCode: StatusCodes.Status401Unauthorized);
            }

            context.Response.Cookies.Append(Sessions.CookieName, Sessions.Create(), new CookieOptions
            {
                HttpOnly = true,
                SameSite = SameSiteMode.Strict,
                Path = "/",
                Secure = false,
                IsEssential = true,
            });
            return Results.NoContent();
        });
        app.MapDelete("/session", (HttpContext context) =>
        {
            Sessions.Revoke(context.Request.Cookies[Sessions.CookieName]);
            context.Response.Cookies.Delete(Sessions.CookieName, new CookieOptions { Path = "/", SameSite = SameSiteMode.Strict, HttpOnly = true });
            return Results.NoContent();
        });
    }

    private async Task WriteAssetAsync(HttpContext context, string name)
    {
        var response = context.Response;
        if (!_assets.TryGetValue(name, out var asset))
        {
            response.StatusCode = StatusCodes.Status404NotFound;
            response.ContentType = "text/plain; charset=utf-8";
            await response.WriteAsync("No such page.");
            return;
        }

        response.ContentType = asset.ContentType;
        if (asset.IsPage)
        {
            response.Headers.CacheControl = "no-store";
        }
        else
        {
            // Revalidated at every load, so a new version of the program is never mixed with an old file.
            response.Headers.CacheControl = "no-cache";
            response.Headers.ETag = asset.ETag;
            if (context.Request.Headers.IfNoneMatch.ToString() == asset.ETag && response.StatusCode == StatusCodes.Status200OK)
            {
                response.StatusCode = StatusCodes.Status304NotModified;
                return;
            }
        }

        response.ContentLength = asset.Bytes.Length;
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await response.Body.WriteAsync(asset.Bytes);
        }
    }

    private static FrozenDictionary<string, Asset> LoadAssets()
    {
        var assembly = typeof(WebUi).Assembly;
        const string Prefix = "wwwroot/";
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var name = resource[Prefix.Length..];
            var bytes = copy.ToArray();
            var etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(bytes).AsSpan(0, 12)) + "\"";
            assets[name] = new Asset(bytes, ContentTypeOf(name), etag, name.EndsWith(".html", StringComparison.Ordinal));
        }

        return assets.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static string ContentTypeOf(string name) => Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        ".png" => "image/png",
        ".webmanifest" => "application/manifest+json",
        _ => "application/octet-stream",
    };

    internal sealed record SessionRequest(string? Token);

    private sealed record Asset(byte[] Bytes, string ContentType, string ETag, bool IsPage);
}
