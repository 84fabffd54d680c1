using Microsoft.AspNetCore.Http;
using SecureChat.Web;

namespace SecureChat.Api;

/// <summary>
/// The checks every request to the node's HTTP server passes before any endpoint sees it:
/// <list type="bullet">
/// <item>the Host header must name the loopback address and the server's port (against DNS rebinding): 421;</item>
/// <item>an Origin header, if any, must be the server's own, and a browser's <c>Sec-Fetch-Site</c> of an API
/// call must say same-origin (against cross-site requests): 403;</item>
/// <item>the caller must hold the token, as a bearer token (the CLI, scripts) or through a web UI
/// session cookie (<see cref="WebSessions"/>): 401, or for a page the explainer of <see cref="WebUi"/>;</item>
/// <item>a request that changes something and does not carry the bearer token must carry the Origin
/// header, which browsers send and cannot fake: 403.</item>
/// </list>
/// Every answer carries the security headers of <see cref="WebUi.SecurityHeaders"/>.
/// </summary>
internal sealed class ApiGuard(AccessToken token, Func<int> port, WebUi? ui)
{
    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        WebUi.SecurityHeaders(context.Response);
        var request = context.Request;
        var (status, problem) = Check(request);
        if (problem is null)
        {
            await next(context);
            return;
        }

        context.Response.StatusCode = status;
        context.Response.Headers.CacheControl = "no-store";
        if (status == StatusCodes.Status401Unauthorized && ui is not null && WebUi.IsPage(request))
        {
            await ui.WriteExplainerAsync(context);
            return;
        }

        await context.Response.WriteAsJsonAsync(new { error = problem });
    }

    private (int Status, string? Problem) Check(HttpRequest request)
    {
        var p = port();
        string[] authorities = [$"127.0.0.1:{p}", $"localhost:{p}", $"[::1]:{p}"];
        if (!authorities.Contains(request.Host.Value ?? string.Empty, StringComparer.OrdinalIgnoreCase))
        {
            return (StatusCodes.Status421MisdirectedRequest, "This server answers only to its loopback address (Host header refused).");
        }

        var origins = request.Headers.Origin;
        if (origins.Count > 0 && !origins.All(o => authorities.Any(a => string.Equals(o, "http://" + a, StringComparison.OrdinalIgnoreCase))))
        {
            return (StatusCodes.Status403Forbidden, "Requests from other web origins are refused.");
        }

        // Browsers say where a request comes from; a page of this server is same-origin, a typed address "none".
        if (!WebUi.IsPage(request) && request.Headers["Sec-Fetch-Site"] is { Count: > 0 } site && site.ToString() is not ("same-origin" or "none"))
        {
            return (StatusCodes.Status403Forbidden, "Requests from other web sites are refused.");
        }

        var bearer = HasBearer(request);
        if (!bearer && !HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method) && origins.Count == 0)
        {
            return (StatusCodes.Status403Forbidden, "A request that changes something needs the bearer token, or must come from the node's own page (with an Origin header).");
        }

        if (bearer || (ui is not null && (ui.IsPublic(request) || ui.HasSession(request))))
        {
            return (StatusCodes.Status200OK, null);
        }

        return (StatusCodes.Status401Unauthorized, ui is null
            ? "A valid access token is required: it is in api.json in the node's data directory."
            : "A valid access token is required: open a link from `securechat ui` (each opens one browser, once), or use the bearer token in api.json in the node's data directory.");
    }

    private bool HasBearer(HttpRequest request) => token.IsBearerOf(request);
}
