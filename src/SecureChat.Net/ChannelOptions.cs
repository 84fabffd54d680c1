namespace SecureChat.Net;

/// <summary>Limits and timeouts of secure connections.</summary>
public sealed record ChannelOptions
{
    /// <summary>How long a TCP connect may take.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// This node's listen address and port, which dials to a global IPv6 address leave from, so a
    /// contact behind a stateful firewall that dials back at the same time meets this node's SYN in
    /// a TCP simultaneous open (docs/discovery.md, "Through IPv6 firewalls"); null dials from an
    /// ephemeral port. The node sets it while it listens.
    /// </summary>
    public System.Net.IPEndPoint? DialFrom { get; init; }

    /// <summary>
    /// How long a TCP connect from the listen port may take. Longer than <see cref="ConnectTimeout"/>:
    /// behind a firewall the SYN is answered only once the contact dials back, and the kernel keeps
    /// resending it meanwhile, so the longer it waits the likelier the two dials overlap.
    /// </summary>
    public TimeSpan ListenPortConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long the whole handshake may take, from the first byte to the last message.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a clean close waits for the peer's close frame.</summary>
    public TimeSpan CloseTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The largest frame accepted from a peer. The protocol lets peers send frames up to 65535
    /// bytes and negotiates no lower limit, so a lower value is for tests and hardened setups
    /// that accept refusing large messages; anything above is refused with a stated reason.
    /// </summary>
    public int MaxFrameSize { get; init; } = Protocol.Channel.FrameReader.MaxFrameSize;

    /// <summary>Messages sent under one key before rotating it.</summary>
    public int RekeyAfterMessages { get; init; } = 10_000;

    /// <summary>Time under one sending key before rotating it.</summary>
    public TimeSpan RekeyInterval { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Inbound handshakes in progress at once. When all are taken, a new connection cuts the oldest
    /// (see <see cref="InboundAdmission"/>): a real peer needs its slot for one round trip, a flood
    /// of silent connections would otherwise hold every slot for the whole handshake timeout.
    /// </summary>
    public int MaxPendingHandshakes { get; init; } = 128;

    /// <summary>
    /// Inbound handshakes in progress from one address (an IPv6 /64 counts as one). When all are
    /// taken, a new connection from it cuts that address's oldest: strangers sharing a contact's
    /// address (a carrier NAT, a campus, a relay) cannot keep the contact out by staying silent.
    /// </summary>
    public int MaxPendingHandshakesPerAddress { get; init; } = 16;

    /// <summary>
    /// Inbound connections held at once, handshaking or open. When all are taken, a new one cuts
    /// the oldest handshake in progress; only when every one is authenticated is it closed.
    /// </summary>
    public int MaxConnections { get; init; } = 4096;

    /// <summary>
    /// Inbound connections held at once from one address, handshaking or open, so one host cannot
    /// take every place. As with <see cref="MaxConnections"/>, a handshake in progress gives way to
    /// a newcomer; only authenticated connections can fill the cap and turn newcomers away.
    /// </summary>
    public int MaxConnectionsPerAddress { get; init; } = 1024;

    /// <summary>
    /// How a TCP connection whose peer vanished without a word is noticed (see <see cref="TcpKeepAlive"/>);
    /// null leaves the operating system's defaults, under which such a connection lives for hours.
    /// </summary>
    public TcpKeepAlive? KeepAlive { get; init; } = TcpKeepAlive.Default;

    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>
/// Keepalive settings for every TCP connection, dialed or accepted. A peer whose router took a
/// new address, lost power or left the network sends no FIN and no reset: without these the
/// connection looks open until the kernel gives up (about two hours idle, or some fifteen minutes
/// of retransmission), and the contact is shown online, messages queue into a dead socket and no
/// one redials. The kernel's probes cost no frame of the protocol and no ratchet step, and the
/// peer's kernel answers them whatever the peer's process is doing.
/// </summary>
/// <param name="Idle">Silence after which the first probe goes out (TCP_KEEPIDLE).</param>
/// <param name="Interval">Time between unanswered probes (TCP_KEEPINTVL).</param>
/// <param name="Probes">Unanswered probes after which the connection is dead (TCP_KEEPCNT).</param>
/// <param name="UserTimeout">
/// How long sent data (or a probe) may stay unacknowledged before the connection is dead
/// (TCP_USER_TIMEOUT, Linux only; elsewhere the probes alone decide). Without it a connection
/// that is sending never probes, and retransmits for many minutes.
/// </param>
public sealed record TcpKeepAlive(TimeSpan Idle, TimeSpan Interval, int Probes, TimeSpan UserTimeout)
{
    /// <summary>
    /// A dead peer is noticed about 30 s after it last answered: the first probe after 15 s of
    /// silence, then every 5 s, and 30 s without an acknowledgement ends it. Three empty segments
    /// a minute on an idle connection are nothing, and keep a home router's NAT entry alive too.
    /// </summary>
    public static TcpKeepAlive Default { get; } = new(TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(5), 3, TimeSpan.FromSeconds(30));
}
