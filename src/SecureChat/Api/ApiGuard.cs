using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace SecureChat.Api;

/// <summary>
/// The checks every request to the local API passes before any endpoint sees it: the Host header
/// must name the loopback address and the API's port (against DNS rebinding), an Origin header, if
/// any, must be the API's own (against cross-site requests), and the bearer token must match.
/// </summary>
internal sealed class ApiGuard(string token, Func<int> port)
{
    private readonly byte[] _token = Encoding.UTF8.GetBytes(token);

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var (status, problem) = Check(context.Request);
        if (problem is not null)
        {
            context.Response.StatusCode = status;
            context.Response.Headers.CacheControl = "no-store";
            await context.Response.WriteAsJsonAsync(new { error = problem });
            return;
        }

        await next(context);
    }

    private (int Status, string? Problem) Check(HttpRequest request)
    {
        var allowedHosts = AllowedAuthorities();
        if (!allowedHosts.Contains(request.Host.Value ?? string.Empty, StringComparer.OrdinalIgnoreCase))
        {
            return (StatusCodes.Status421MisdirectedRequest, "This API answers only to its loopback address (Host header refused).");
        }

        if (request.Headers.Origin is { Count: > 0 } origins
            && !origins.All(o => allowedHosts.Any(h => string.Equals(o, "http://" + h, StringComparison.OrdinalIgnoreCase))))
        {
            return (StatusCodes.Status403Forbidden, "Requests from other web origins are refused.");
        }

        var authorization = request.Headers.Authorization.ToString();
        const string Scheme = "Bearer ";
        if (!authorization.StartsWith(Scheme, StringComparison.Ordinal)
            || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(authorization[Scheme.Length..].Trim()), _token))
        {
            return (StatusCodes.Status401Unauthorized, "A valid access token is required: it is in api.json in the node's data directory.");
        }

        return (StatusCodes.Status200OK, null);
    }

    private string[] AllowedAuthorities()
    {
        var p = port();
        return [$"127.0.0.1:{p}", $"localhost:{p}", $"[::1]:{p}"];
    }
}
