using SecureChat.Net;
using SecureChat.Node.Discovery;

namespace SecureChat.Node;

/// <summary>How a <see cref="ChatNode"/> listens, dials and paces itself.</summary>
public sealed record NodeOptions
{
    /// <summary>
    /// The address to accept peers on; null to not listen. The default, <c>::</c>, takes IPv4 and
    /// IPv6 on one socket (IPv4 alone on a machine without IPv6); <c>0.0.0.0</c> takes IPv4 only.
    /// </summary>
    public string? ListenHost { get; init; } = "::";

    /// <summary>The port to accept peers on (0 picks a free one).</summary>
    public int ListenPort { get; init; } = PeerEndpoint.DefaultPort;

    public ChannelOptions Channel { get; init; } = new();

    /// <summary>The first wait before redialing a contact that could not be reached; it doubles up to <see cref="MaxRedialDelay"/>.</summary>
    public TimeSpan MinRedialDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    public TimeSpan MaxRedialDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a peer has to send its hello after the handshake.</summary>
    public TimeSpan HelloTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Messages encrypted, persisted and sent as one batch.</summary>
    public int SendBatch { get; init; } = 256;

    /// <summary>Messages sent on a connection and not yet acknowledged, at most (flow control).</summary>
    public int MaxInFlight { get; init; } = 2048;

    /// <summary>
    /// How much text one contact may have stored per <see cref="QuotaWindow"/>. Its texts beyond
    /// it are refused with a reason its node shows, and wait in its outbox until the window allows.
    /// </summary>
    public QuotaLimit ContactQuota { get; init; } = QuotaLimit.ContactDefault;

    /// <summary>
    /// How much a stranger's contact request may have stored before the person answers it: its
    /// first few texts, shown with the request. Beyond, its texts wait in its own outbox (it is
    /// told so) and are asked for again every <see cref="RequestRetry"/>.
    /// </summary>
    public QuotaLimit RequestQuota { get; init; } = new(5, 8 * 1024);

    /// <summary>How often a stranger over <see cref="RequestQuota"/> is asked to try again (after its request is accepted, its texts flow then).</summary>
    public TimeSpan RequestRetry { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>The sliding window <see cref="ContactQuota"/> counts over (a day).</summary>
    public TimeSpan QuotaWindow { get; init; } = TimeSpan.FromDays(1);

    /// <summary>
    /// Dials every contact with a known address at start, as <c>securechat run</c> does. The
    /// terminal <c>connect</c> turns it off: it talks to the one peer it dials.
    /// </summary>
    public bool DialContactsAtStart { get; init; } = true;

    /// <summary>How contacts are found without a typed address (the DHT, LAN beacons); null for neither.</summary>
    public DiscoveryOptions? Discovery { get; init; }

    /// <summary>How the node asks its router to forward its ports; null: it does not ask (and <see cref="ChatNode.PortMapping"/> stays null).</summary>
    public Reachability.PortMappingOptions? PortMapping { get; init; }

    /// <summary>
    /// Takes every account that connects as a contact at once, without a request (the terminal
    /// chat's open door, for a classroom); off by default.
    /// </summary>
    public bool OpenDoor { get; init; }

    /// <summary>Contact requests waiting at once, at most; strangers beyond are refused until the person answers some.</summary>
    public int MaxRequests { get; init; } = 50;

    /// <summary>New contact requests taken from one network address per hour, at most.</summary>
    public int RequestsPerAddressPerHour { get; init; } = 5;

    public TimeProvider Time => Channel.Time;

    /// <summary>
    /// How contact links reach an address: TCP unless a test gives in-memory pipes (and, next, a
    /// relay circuit). The typed <see cref="ChatNode.ConnectAsync"/> dials through it too.
    /// </summary>
    internal ILinkDialer Dialer { get; init; } = TcpLinkDialer.Instance;

    /// <summary>
    /// The addresses of a host name the person typed (A and AAAA records), which
    /// <see cref="ChatNode.ConnectAsync"/> races; the system's resolver unless a test gives its
    /// own. A name without an address is a <see cref="NetworkException"/>, as from the dialer.
    /// </summary>
    internal Func<string, CancellationToken, Task<System.Net.IPAddress[]>> Resolve { get; init; } = TcpTransport.ResolveAsync;

    /// <summary>Where contact links look contacts up in place of the DHT; null: the DHT (when discovery runs it). For tests of the lookup schedule.</summary>
    internal Discovery.IContactLocator? Locator { get; init; }
}
