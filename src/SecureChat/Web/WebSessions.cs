using System.Security.Cryptography;
using System.Text;

namespace SecureChat.Web;

/// <summary>
/// The browser sessions of the web UI: a page that traded a link's one-time token
/// (<see cref="LoginLinks"/>) gets a random session secret as an HttpOnly, SameSite=Strict cookie.
/// Only the secrets' SHA-256 hashes are kept, in memory: a restart ends every session. The oldest session goes
/// when a new one would pass <see cref="MaxSessions"/>.
/// </summary>
internal sealed class WebSessions(Func<int> port)
{
    public const int MaxSessions = 32;

    private readonly Lock _gate = new();
    private readonly LinkedList<string> _order = new();
    private readonly Dictionary<string, LinkedListNode<string>> _sessions = new(StringComparer.Ordinal);

    /// <summary>Named by the port: cookies are not kept apart by port, and two nodes on one machine must not overwrite each other's.</summary>
    public string CookieName => $"sc-session-{port()}";

    /// <summary>A new session's secret, for the cookie.</summary>
    public string Create()
    {
        var secret = Base64Url(RandomNumberGenerator.GetBytes(32));
        var key = Hash(secret);
        lock (_gate)
        {
            if (_sessions.Count >= MaxSessions && _order.First is { } oldest)
            {
                _sessions.Remove(oldest.Value);
                _order.RemoveFirst();
            }

            _sessions[key] = _order.AddLast(key);
        }

        return secret;
    }

    public bool IsValid(string? secret)
    {
        if (string.IsNullOrEmpty(secret) || secret.Length > 128)
        {
            return false;
        }

        var key = Hash(secret);
        lock (_gate)
        {
            return _sessions.ContainsKey(key);
        }
    }

    public void Revoke(string? secret)
    {
        if (string.IsNullOrEmpty(secret) || secret.Length > 128)
        {
            return;
        }

        var key = Hash(secret);
        lock (_gate)
        {
            if (_sessions.Remove(key, out var node))
            {
                _order.Remove(node);
            }
        }
    }

    public static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string Hash(string secret) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
}
