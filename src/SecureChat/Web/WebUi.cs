using System.Collections.Frozen;
using System.Globalization;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace SecureChat.Web;

/// <summary>
/// The web UI's pages: static files embedded in the program (<c>Web/wwwroot</c>), nothing fetched
/// from elsewhere. <c>/</c> is the app for a browser with a session, and for anyone else an explainer
/// whose script trades the <c>#token=</c> of a link for a session cookie (<c>POST /session</c>), so
/// the token never travels in a URL the server sees. A link's token is good once, for a short time
/// (<see cref="LoginLinks"/>): the address a browser keeps in its history holds a dead token.
/// <c>POST /api/ui-link</c> (bearer token only: <c>securechat ui</c>) makes a fresh link.
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

    private const string LinkRoute = "/api/ui-link";

    /// <summary>What a browser without a session may load: the explainer's own script, style and icon.</summary>
    private static readonly FrozenSet<string> PublicAssets = FrozenSet.ToFrozenSet(["login.js", "style.css", "icon.svg"], StringComparer.Ordinal);

    private readonly FrozenDictionary<string, Asset> _assets;

    private readonly Api.AccessToken _token;
    private readonly Func<int> _port;

    public WebUi(Api.AccessToken token, WebSessions sessions, LoginLinks links, Func<int> port)
    {
        _token = token;
        _port = port;
        Sessions = sessions;
        Links = links;
        _assets = LoadAssets();
    }

    public WebSessions Sessions { get; }

    public LoginLinks Links { get; }

    /// <summary>A fresh link to the window, <c>http://127.0.0.1:PORT/#token=…</c>: it opens one browser, once, within <see cref="LoginLinks.Lifetime"/>.</summary>
    public string NewLink() => string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{_port()}/#token={Links.Issue()}");

    /// <summary>For a node without the UI: <c>POST /api/ui-link</c> answers why there is no link to make.</summary>
    public static void MapWithoutUi(WebApplication app, Api.AccessToken token) =>
        app.MapPost(LinkRoute, (HttpContext context) => token.IsBearerOf(context.Request)
            ? Results.Json(new { error = "This node runs with --no-ui: it has no window to open. Restart it without --no-ui for one." }, statusCode: StatusCodes.Status409Conflict)
            : BearerOnly());

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
        app.MapPost(LinkRoute, (HttpContext context) =>
        {
            if (!_token.IsBearerOf(context.Request))
            {
                return BearerOnly();
            }

            context.Response.Headers.CacheControl = "no-store";
            return Results.Json(new { link = NewLink(), expiresInSeconds = (long)Links.Lifetime.TotalSeconds }, Api.LocalApi.Json, statusCode: StatusCodes.Status201Created);
        });
        app.MapPost("/session", (HttpContext context, SessionRequest? request) =>
        {
            var outcome = Links.Redeem(request?.Token);
            if (outcome != LinkRedemption.Accepted)
            {
                return Results.Json(new { error = Links.Refusal(outcome) }, statusCode: StatusCodes.Status401Unauthorized);
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

    /// <summary>A browser session must not mint links (a script that got into the page would hand them out): only the CLI's bearer token does.</summary>
    private static IResult BearerOnly() =>
        Results.Json(new { error = "A new link to the window is made only for the bearer token in api.json: run `securechat ui` in a terminal." }, statusCode: StatusCodes.Status403Forbidden);

    internal sealed record SessionRequest(string? Token);

    private sealed record Asset(byte[] Bytes, string ContentType, string ETag, bool IsPage);
}
