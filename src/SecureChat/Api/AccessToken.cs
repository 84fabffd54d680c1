using System.Security.Cryptography;
using System.Text;
using SecureChat.Web;

namespace SecureChat.Api;

/// <summary>The random token that opens a running node's HTTP server, made anew at every start; compared in constant time.</summary>
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

    public bool Matches(string? candidate) =>
        candidate is { Length: > 0 and <= 256 } && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(candidate.Trim()), _bytes);
}
