using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using SecureChat.Web;

namespace SecureChat.Api;

/// <summary>
/// The random bearer token of a running node's local API (the CLI, scripts), made anew at every
/// start and kept in <c>api.json</c> (0600); compared in constant time. It never opens a browser
/// session: the web UI's links carry one-time tokens of their own (<see cref="LoginLinks"/>).
/// </summary>
internal sealed class AccessToken
{
    private readonly byte[] _bytes;

    private AccessToken(string text)
    {
        Text = text;
        _bytes = Encoding.UTF8.GetBytes(text);
    }

    /// <summary>256 random bits in base64url, which needs no escaping in a URL fragment or a header.</summary>
    public string Text { get; }

    public static AccessToken Create() => new(WebSessions.Base64Url(RandomNumberGenerator.GetBytes(32)));

    /// <summary>True when <paramref name="request"/> carries <c>Authorization: Bearer TOKEN</c> with this token.</summary>
    public bool IsBearerOf(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        const string Scheme = "Bearer ";
        return authorization.StartsWith(Scheme, StringComparison.Ordinal) && Matches(authorization[Scheme.Length..]);
    }

    public bool Matches(string? candidate) =>
        candidate is { Length: > 0 and <= 256 } && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(candidate.Trim()), _bytes);
}
