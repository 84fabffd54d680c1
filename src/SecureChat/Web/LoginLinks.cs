using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace SecureChat.Web;

/// <summary>What became of a token presented to <see cref="LoginLinks.Redeem"/>.</summary>
internal enum LinkRedemption
{
    /// <summary>A live token, now spent: the caller opens one session for it.</summary>
    Accepted,

    /// <summary>The token was traded before: a second trade opens nothing.</summary>
    Spent,

    /// <summary>The token was not traded within <see cref="LoginLinks.Lifetime"/>.</summary>
    Expired,

    /// <summary>Not a token of this run of the node: another run's, mistyped, or made up.</summary>
    Unknown,
}

/// <summary>
/// The tokens of the web UI's links (<c>http://127.0.0.1:PORT/#token=…</c>): each opens one browser
/// session, once, within <see cref="Lifetime"/> of being made. A browser keeps every address it
/// visited in its history and session files, so the token in a link must be worthless once the
/// page has traded it for its session cookie; a link nobody used dies by itself.
/// Only SHA-256 hashes of the tokens are kept, in memory; a spent or expired one is remembered
/// (up to <see cref="MaxRemembered"/> in all) so that its refusal can say why.
/// The API's bearer token (<c>api.json</c>) is another secret and never opens a session.
/// </summary>
internal sealed class LoginLinks(TimeProvider clock, TimeSpan lifetime)
{
    /// <summary>Long enough to copy a link from a terminal into a browser; short enough that a link left in a scrollback or a log is soon dead.</summary>
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromMinutes(10);

    /// <summary>Tokens issued, spent and expired that are remembered; past it the oldest is forgotten (a forgotten live one can no longer be used).</summary>
    public const int MaxRemembered = 256;

    private readonly Lock _gate = new();
    private readonly LinkedList<string> _order = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    public LoginLinks()
        : this(TimeProvider.System, DefaultLifetime)
    {
    }

    public TimeSpan Lifetime { get; } = lifetime > TimeSpan.Zero ? lifetime : throw new ArgumentOutOfRangeException(nameof(lifetime), lifetime, "A link's lifetime must be positive.");

    /// <summary>A new token: 256 random bits in base64url (no escaping in a URL fragment), good once, for <see cref="Lifetime"/>.</summary>
    public string Issue()
    {
        var token = WebSessions.Base64Url(RandomNumberGenerator.GetBytes(32));
        var key = Hash(token);
        var expires = clock.GetUtcNow() + Lifetime;
        lock (_gate)
        {
            if (_entries.Count >= MaxRemembered && _order.First is { } oldest)
            {
                _entries.Remove(oldest.Value);
                _order.RemoveFirst();
            }

            _order.AddLast(key);
            _entries[key] = new Entry(expires);
        }

        return token;
    }

    /// <summary>Trades <paramref name="candidate"/> (as the page sent it, untrusted): <see cref="LinkRedemption.Accepted"/> once at most.</summary>
    public LinkRedemption Redeem(string? candidate)
    {
        if (candidate is null || candidate.Trim() is not { Length: > 0 and <= 256 } token)
        {
            return LinkRedemption.Unknown;
        }

        var key = Hash(token);
        var now = clock.GetUtcNow();
        lock (_gate)
        {
            if (!_entries.TryGetValue(key, out var entry))
            {
                return LinkRedemption.Unknown;
            }

            if (entry.Outcome is { } known)
            {
                return known;
            }

            var outcome = now >= entry.Expires ? LinkRedemption.Expired : LinkRedemption.Accepted;
            entry.Outcome = outcome == LinkRedemption.Accepted ? LinkRedemption.Spent : outcome;
            return outcome;
        }
    }

    /// <summary>The sentence the explainer shows for a refused trade: why, and how to get a link that works.</summary>
    public string Refusal(LinkRedemption outcome) => outcome switch
    {
        LinkRedemption.Spent => "This link has been used already: each link opens one browser, once. For a fresh link, run `securechat ui` in a terminal and open the link it prints.",
        LinkRedemption.Expired => $"This link has expired: a link is good for {Describe(Lifetime)} after the node made it. For a fresh link, run `securechat ui` in a terminal and open the link it prints.",
        LinkRedemption.Unknown => "This link is not one of the running node's: the node has restarted since it made the link, or the link was copied incompletely. For a fresh link, run `securechat ui` in a terminal and open the link it prints.",
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome, "An accepted token is not refused."),
    };

    /// <summary>"10 minutes", "1 minute", "2 seconds".</summary>
    public static string Describe(TimeSpan span) => span.TotalSeconds % 60 == 0
        ? string.Create(CultureInfo.InvariantCulture, $"{span.TotalMinutes:0} minute{(span.TotalMinutes == 1 ? string.Empty : "s")}")
        : string.Create(CultureInfo.InvariantCulture, $"{span.TotalSeconds:0.#} second{(span.TotalSeconds == 1 ? string.Empty : "s")}");

    private static string Hash(string token) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private sealed class Entry(DateTimeOffset expires)
    {
        public DateTimeOffset Expires { get; } = expires;

        /// <summary>Null while the token is live; then how every later trade of it ends.</summary>
        public LinkRedemption? Outcome { get; set; }
    }
}
