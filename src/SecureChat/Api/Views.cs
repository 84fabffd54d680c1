using SecureChat.Node;
using SecureChat.Node.Reachability;
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
    string? KeyWarning = null,
    bool Named = true,
    ConnectionView? Connection = null)
{
    public static ContactView From(Contact c, ConversationCounts counts, bool online, string? keyWarning = null) => new(
        c.Name, c.Account, c.AccountId.Fingerprint, c.DisplayName, c.Certificate is not null, c.VerifiedAt is not null, c.VerifiedAt,
        c.FirstSeen, c.LastSeen, c.Endpoints, counts.Messages, counts.Unseen, online, keyWarning, c.Named);
}

/// <summary>
/// A contact request as the local API and the CLI's <c>--json</c> show it: a stranger that
/// connected on its own, what it calls itself, and the messages held from it so far.
/// </summary>
internal sealed record RequestView(
    string Id,
    string Fingerprint,
    string DisplayName,
    DateTimeOffset FirstSeen,
    DateTimeOffset LastSeen,
    string? Endpoint,
    IReadOnlyList<MessageView> Messages,
    int Held)
{
    /// <summary>The most held messages a request view shows.</summary>
    public const int MaxShown = 20;

    /// <summary>The request of <paramref name="c"/>, with the newest of what it sent (<see cref="MaxShown"/> at most) and how many it sent in all.</summary>
    public static RequestView From(Contact c, IReadOnlyList<StoredMessage> held, long count, string? endpoint) =>
        new(c.Account, c.AccountId.Fingerprint, c.DisplayName, c.FirstSeen, c.LastSeen, endpoint, [.. held.Select(MessageView.From)], (int)count);
}

/// <summary>A blocked account as the local API and the CLI's <c>--json</c> show it.</summary>
internal sealed record BlockedView(string Id, string Fingerprint, DateTimeOffset BlockedAt)
{
    public static BlockedView From(Contact c) => new(c.Account, c.AccountId.Fingerprint, c.FirstSeen);
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

/// <summary>
/// How a contact is connected now (docs/discovery.md, "What the node shows"): who dialed
/// (<c>outbound</c>, <c>inbound</c>), over <c>IPv4</c> or <c>IPv6</c>, the contact's end and this
/// node's, and the sentence that says it.
/// </summary>
internal sealed record ConnectionView(string Direction, string Family, string? Remote, string? Local, DateTimeOffset Since, string Sentence)
{
    public static ConnectionView? Of(ContactConnection? connection) => connection is null ? null : new(
        connection.Direction == ConnectionDirection.Outbound ? "outbound" : "inbound",
        connection.Family, connection.Remote?.ToString(), connection.Local?.ToString(), connection.Since, connection.Sentence);
}

/// <summary>
/// This node's reachability as the API shows it: the class (<c>public</c>, <c>mapped</c>,
/// <c>punchable</c>, <c>symmetric</c>, <c>unknown</c>, <c>notListening</c>), the endpoint, the
/// sentence, and what it was classified from.
/// </summary>
internal sealed record ReachabilityView(string Kind, string? Endpoint, string Sentence, string? Ipv6, IReadOnlyList<ObservationView> Observed)
{
    public static ReachabilityView Of(ChatNode node)
    {
        var report = node.Reachability();
        return new(KindName(report.Kind), report.Endpoint?.ToString(), report.Sentence, report.Ipv6, [.. node.Observations().Select(ObservationView.Of)]);
    }

    public static string KindName(ReachabilityKind kind) => System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(kind.ToString());
}

/// <summary>One report of where this node is seen: by whom (an account ID, or <c>dht</c>), from where, on which local endpoint, and whether the port was kept.</summary>
internal sealed record ObservationView(string Source, string Witness, string? WitnessAddress, string Local, string Observed, string Direction, bool PortKept, DateTimeOffset At, bool Live)
{
    public static ObservationView Of(AddressObservation o) => new(
        o.Source == ObservationSource.Dht ? "dht" : "peer", o.Witness, o.WitnessAddress?.ToString(), o.Local.ToString(), o.Observed.ToString(),
        o.Direction == ConnectionDirection.Outbound ? "outbound" : "inbound", o.PortKept, o.At, o.Live);
}

/// <summary>The views of a running node's contacts and requests, as the API and its event stream show them.</summary>
internal static class Views
{
    public static ContactView Contact(ChatNode node, Contact c) =>
        ContactView.From(c, node.Counts(c), node.IsOnline(c), node.KeyWarning(c)) with { Connection = ConnectionView.Of(node.ConnectionOf(c)) };

    public static RequestView Request(ChatNode node, Contact c) =>
        RequestView.From(c, node.History(c, RequestView.MaxShown), node.Counts(c).Messages, node.OnlineEndpoint(c));
}
