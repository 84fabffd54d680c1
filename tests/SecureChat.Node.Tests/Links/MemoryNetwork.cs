using System.Net;
using SecureChat.Net;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Identity;

namespace SecureChat.Node.Tests.Links;

/// <summary>
/// A network of in-memory pipes for contact links (<see cref="ILinkDialer"/>): an address either
/// has something that answers there (a node, which takes the connection as a listener would hand
/// it over, or a peer that refuses it), a black hole (a firewall that drops the connect: the dial
/// times out after the connect timeout on the dial's clock), a slow peer (it answers once the test
/// lets it, whatever the dialer meanwhile wants), or nothing, and a dial there fails as a refused
/// TCP connect would. A refused IK handshake is retried as XX, as <see cref="ChannelDialer"/> does,
/// so a wrong key at an address is found by the verifier. Every dial is recorded in order with the
/// time it started, every connection made as the pair of its two ends.
/// </summary>
internal sealed class MemoryNetwork : ILinkDialer
{
    private readonly Lock _lock = new();
    private readonly Dictionary<PeerEndpoint, Answer> _answers = [];
    private readonly List<PeerEndpoint> _attempts = [];
    private readonly List<DateTimeOffset> _attemptTimes = [];
    private readonly HashSet<PeerEndpoint> _blackHoles = [];
    private readonly List<PeerEndpoint> _abandoned = [];
    private readonly List<Pair> _pairs = [];
    private readonly List<Task> _taking = [];
    private int _inboundPort = 40000;

    /// <summary>Awaited before each dial's handshake, with the dial's index (from 0): a test holds dials back to make them cross.</summary>
    public Func<int, Task>? BeforeHandshake { get; set; }

    /// <summary>Every address dialed, in order (a dial that found nothing included).</summary>
    public List<PeerEndpoint> Attempts
    {
        get
        {
            lock (_lock)
            {
                return [.. _attempts];
            }
        }
    }

    /// <summary>When each dial of <see cref="Attempts"/> started, on the dial's clock.</summary>
    public List<DateTimeOffset> AttemptTimes
    {
        get
        {
            lock (_lock)
            {
                return [.. _attemptTimes];
            }
        }
    }

    /// <summary>The dials into a black hole that the dialer cancelled before they timed out, in order.</summary>
    public List<PeerEndpoint> Abandoned
    {
        get
        {
            lock (_lock)
            {
                return [.. _abandoned];
            }
        }
    }

    /// <summary>Every connection made, in order.</summary>
    public List<Pair> Pairs
    {
        get
        {
            lock (_lock)
            {
                return [.. _pairs];
            }
        }
    }

    /// <summary>The node of <paramref name="home"/> takes connections to <paramref name="at"/>, as its listener would.</summary>
    public void Listen(PeerEndpoint at, NodeHome home) =>
        Add(at, new Answer(home.Identity, PeerTrust.ForInbound(home.Store.Contacts), async connection =>
        {
            IPEndPoint remote;
            lock (_lock)
            {
                remote = new IPEndPoint(IPAddress.Loopback, _inboundPort++);
            }

            try
            {
                await home.Node.TakeInboundAsync(connection, remote);
            }
            catch (InvalidOperationException)
            {
                // The node stopped meanwhile: nothing takes the connection, as with a closed listener.
                await connection.DisposeAsync();
            }
        }));

    /// <summary>At <paramref name="at"/> answers <paramref name="identity"/>, which finishes the handshake and closes at once, before any hello (as a node refusing a stranger does).</summary>
    public void Refuse(PeerEndpoint at, LocalIdentity identity) =>
        Add(at, new Answer(identity, _ => null, async connection =>
        {
            await connection.CloseAsync(CloseReason.Normal, "this node takes no more contact requests now; try later", CancellationToken.None);
            await connection.DisposeAsync();
        }));

    /// <summary>Connects to <paramref name="at"/> are dropped: a dial there ends only when its connect timeout passes or the dialer gives up.</summary>
    public void BlackHole(PeerEndpoint at)
    {
        lock (_lock)
        {
            _blackHoles.Add(at);
        }
    }

    /// <summary>
    /// At <paramref name="at"/> answers <paramref name="identity"/>, but only once
    /// <paramref name="answering"/> completes, and then it finishes the handshake whether or not
    /// the dialer still wants it (a connection that was made as the dialer gave up). It keeps its
    /// end of each connection in <paramref name="kept"/>.
    /// </summary>
    public void Slow(PeerEndpoint at, LocalIdentity identity, Task answering, List<SecureConnection> kept) =>
        Add(at, new Answer(identity, _ => null, connection =>
        {
            lock (kept)
            {
                kept.Add(connection);
            }

            return Task.CompletedTask;
        }, answering));

    public async Task<SecureConnection> DialAsync(
        PeerEndpoint endpoint, LocalIdentity identity, ReadOnlyMemory<byte> knownKey, PeerVerifier verify, ChannelOptions options, CancellationToken cancellationToken)
    {
        Answer? answer;
        int index;
        bool blackHole;
        lock (_lock)
        {
            index = _attempts.Count;
            _attempts.Add(endpoint);
            _attemptTimes.Add(options.Time.GetUtcNow());
            _answers.TryGetValue(endpoint, out answer);
            blackHole = _blackHoles.Contains(endpoint);
        }

        if (blackHole)
        {
            try
            {
                await Task.Delay(options.ConnectTimeout, options.Time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                lock (_lock)
                {
                    _abandoned.Add(endpoint);
                }

                throw;
            }

            throw new NetworkException(NetworkError.ConnectTimeout, $"Connecting to {endpoint} timed out.");
        }

        if (BeforeHandshake is { } gate)
        {
            await gate(index);
        }

        if (answer is null)
        {
            throw new NetworkException(NetworkError.ConnectionRefused, $"Nothing answers at {endpoint}.");
        }

        if (answer.Answering is { } answering)
        {
            await answering;
            cancellationToken = CancellationToken.None;
        }

        SecureConnection dialed, accepted;
        try
        {
            (dialed, accepted) = await HandshakeAsync(identity, knownKey, verify, answer.Identity, answer.Verify, options, cancellationToken);
        }
        catch (ChannelException ex) when (!knownKey.IsEmpty && ex.Error is ChannelError.ClosedDuringHandshake or ChannelError.HandshakeFailed)
        {
            // Another key answers there: XX shows which, for the verifier to judge (ChannelDialer's fallback).
            (dialed, accepted) = await HandshakeAsync(identity, ReadOnlyMemory<byte>.Empty, verify, answer.Identity, answer.Verify, options, cancellationToken);
        }

        lock (_lock)
        {
            _taking.Add(Task.Run(() => answer.Take(accepted), CancellationToken.None));
        }

        return dialed;
    }

    /// <summary>
    /// A connection between two identities over a fresh pipe, recorded as a pair: the
    /// dialer's end and the listener's.
    /// </summary>
    public async Task<Pair> HandshakeAsync(LocalIdentity dialer, LocalIdentity listener, ChannelOptions options, CancellationToken cancellationToken)
    {
        var (dialed, accepted) = await HandshakeAsync(dialer, ReadOnlyMemory<byte>.Empty, _ => null, listener, _ => null, options, cancellationToken);
        return new Pair(dialed, accepted);
    }

    /// <summary>Waits until every answering peer has taken (or refused) its connection.</summary>
    public async Task SettleAsync()
    {
        Task[] taking;
        lock (_lock)
        {
            taking = [.. _taking];
        }

        await Task.WhenAll(taking);
    }

    private async Task<(SecureConnection Dialed, SecureConnection Accepted)> HandshakeAsync(
        LocalIdentity dialer, ReadOnlyMemory<byte> knownKey, PeerVerifier verify, LocalIdentity listener, PeerVerifier admit, ChannelOptions options, CancellationToken cancellationToken)
    {
        var (near, far) = MemoryTransport.CreatePair();
        var accepting = SecureConnection.AcceptAsync(far, listener, admit, options, cancellationToken);
        SecureConnection dialed;
        try
        {
            dialed = await SecureConnection.ConnectAsync(near, dialer, knownKey, verify, options, cancellationToken);
        }
        catch (ChannelException)
        {
            try
            {
                await (await accepting).DisposeAsync();
            }
            catch (ChannelException)
            {
                // The listener's end failed too, as it should when the dialer gave up.
            }

            throw;
        }

        var accepted = await accepting;
        lock (_lock)
        {
            _pairs.Add(new Pair(dialed, accepted));
        }

        return (dialed, accepted);
    }

    private void Add(PeerEndpoint at, Answer answer)
    {
        lock (_lock)
        {
            _answers[at] = answer;
        }
    }

    /// <summary>The two ends of one connection.</summary>
    public sealed record Pair(SecureConnection Dialed, SecureConnection Accepted)
    {
        /// <summary>True when <paramref name="one"/> and <paramref name="other"/> are this connection's two ends.</summary>
        public bool Joins(SecureConnection? one, SecureConnection? other) =>
            (one == Dialed && other == Accepted) || (one == Accepted && other == Dialed);
    }

    private sealed record Answer(LocalIdentity Identity, PeerVerifier Verify, Func<SecureConnection, Task> Take, Task? Answering = null);
}
