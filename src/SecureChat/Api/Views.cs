using SecureChat.Storage;

namespace SecureChat.Api;

/// <summary>A contact as the local API and the CLI's <c>--json</c> show it.</summary>
internal sealed record ContactView(
    string Name,
    string Id,
    string Fingerprint,
    string DisplayName,
    bool Met,
    bool Verified,
    DateTimeOffset? VerifiedAt,
    DateTimeOffset FirstSeen,
    DateTimeOffset LastSeen,
    IReadOnlyList<string> Endpoints,
    long Messages,
    long Unread,
    bool Online,
    string? KeyWarning = null)
{
    public static ContactView From(Contact c, MessageLog messages, bool online, string? keyWarning = null) => new(
        c.Name, c.Account, c.AccountId.Fingerprint, c.DisplayName, c.Certificate is not null, c.VerifiedAt is not null, c.VerifiedAt,
        c.FirstSeen, c.LastSeen, c.Endpoints, messages.Count(c), messages.UnseenCount(c), online, keyWarning);
}

/// <summary>A search result: the message, and where in its text the query's words hit (start and length, in UTF-16 units).</summary>
internal sealed record SearchHitView(MessageView Message, IReadOnlyList<int[]> Hits);

/// <summary>A message as the local API and the CLI's <c>--json</c> show it.</summary>
internal sealed record MessageView(
    string Id,
    string Contact,
    string ContactId,
    string Direction,
    DateTimeOffset SentAt,
    DateTimeOffset? ReceivedAt,
    string State,
    string Text,
    long Lamport)
{
    [System.Text.Json.Serialization.JsonIgnore]
    public bool Outgoing => Direction == "out";

    public static MessageView From(StoredMessage m) => new(
        m.MessageId, m.ContactName, m.ContactAccount, m.Outgoing ? "out" : "in", m.SentAt, m.ReceivedAt, StateName(m.State), m.Text, m.Lamport);

    public static string StateName(MessageState state) => state.ToString().ToLowerInvariant();
}
