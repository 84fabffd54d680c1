using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using SecureChat.Dht;

namespace SecureChat.Net.Dht;

/// <summary>
/// Runs a <see cref="DhtNode"/> on a UDP socket: one loop receives datagrams, a timer ticks the
/// node, and every call into the node happens under one lock. Operations return the node's tasks,
/// which complete outside the lock. Bound to the wildcard address the socket is dual-stack (one
/// IPv6 socket that also carries IPv4), and the node is in both DHTs (BEP 32); bound to one
/// address it is in that address's family's DHT only.
/// </summary>
public sealed class DhtHost : IAsyncDisposable
{
    /// <summary>The public routers that introduce new nodes to the Mainline DHT; used when no --bootstrap is given.</summary>
    public static readonly IReadOnlyList<string> PublicRouters =
        ["router.bittorrent.com:6881", "router.utorrent.com:6881", "dht.transmissionbt.com:6881", "dht.libtorrent.org:25401"];

    private readonly Socket _socket;
    private readonly DhtNode _node;
    private readonly Lock _gate = new();
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _receiving;
    private readonly Task _ticking;

    /// <summary>Where datagrams could not be sent since the last tick (no route); the tick fails their queries at once.</summary>
    private readonly List<IPEndPoint> _unsent = [];

    private DhtHost(Socket socket, DhtFamilies families, DhtOptions options, NodeId id, TimeProvider time, ILogger logger)
    {
        _socket = socket;
        _logger = logger;
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        Families = families;
        _node = new DhtNode(id, options with { Families = families }, time, Send);
        _receiving = ReceiveLoopAsync(_stop.Token);
        _ticking = TickLoopAsync(time, _stop.Token);
    }

    /// <summary>The socket's address: <c>[::]:port</c> when dual-stack.</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>The DHTs the node is in: both on a dual-stack socket, else the bound address's family.</summary>
    public DhtFamilies Families { get; }

    public NodeId Id => _node.Id;

    /// <summary>
    /// Binds a UDP socket and starts the node on it. The wildcard address (0.0.0.0 or ::) gives a
    /// dual-stack socket on [::], or an IPv4 one where the machine has no IPv6; a specific address
    /// gives a socket of its family only, so that 127.0.0.1 still means IPv4 alone.
    /// </summary>
    /// <exception cref="NetworkException">The address cannot be bound.</exception>
    public static DhtHost Start(IPEndPoint bind, DhtOptions options, ILogger logger, TimeProvider? time = null, NodeId? id = null)
    {
        ArgumentNullException.ThrowIfNull(bind);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        bind = Compact.Normalize(bind);
        var wildcard = bind.Address.Equals(IPAddress.Any) || bind.Address.Equals(IPAddress.IPv6Any);
        if (wildcard && Socket.OSSupportsIPv6 && TryBindDualStack(bind.Port, logger) is { } dual)
        {
            return new DhtHost(dual, DhtFamilies.Both, options, id ?? NodeId.Random(), time ?? TimeProvider.System, logger);
        }

        if (wildcard)
        {
            bind = new IPEndPoint(IPAddress.Any, bind.Port);
        }

        var socket = new Socket(bind.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (bind.AddressFamily == AddressFamily.InterNetworkV6)
            {
                socket.DualMode = false;
            }

            socket.Bind(bind);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw NetworkException.FromBind(ex, $"The DHT could not use UDP {bind}: {ex.Message}. Choose another port with --dht-port.");
        }

        var families = bind.AddressFamily == AddressFamily.InterNetworkV6 ? DhtFamilies.IPv6 : DhtFamilies.IPv4;
        return new DhtHost(socket, families, options, id ?? NodeId.Random(), time ?? TimeProvider.System, logger);
    }

    /// <summary>
    /// A socket on [::] that carries IPv4 too (IPv4-mapped addresses), or null when the system
    /// refuses IPv6 sockets (IPv6 turned off): the caller then takes IPv4 alone. A port that is
    /// taken is not such a case: it fails as it would for IPv4.
    /// </summary>
    private static Socket? TryBindDualStack(int port, ILogger logger)
    {
        Socket socket;
        try
        {
            socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp) { DualMode = true };
        }
        catch (SocketException ex)
        {
            logger.LogDebug("No IPv6 UDP socket ({Reason}): the DHT runs on IPv4 only", ex.SocketErrorCode);
            return null;
        }

        try
        {
            socket.Bind(new IPEndPoint(IPAddress.IPv6Any, port));
            return socket;
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.AddressFamilyNotSupported or SocketError.ProtocolNotSupported)
        {
            socket.Dispose();
            logger.LogDebug("IPv6 UDP cannot be bound ({Reason}): the DHT runs on IPv4 only", ex.SocketErrorCode);
            return null;
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw NetworkException.FromBind(ex, $"The DHT could not use UDP port {port}: {ex.Message}. Choose another port with --dht-port.");
        }
    }

    /// <summary>
    /// Resolves HOST:PORT texts (IPv6 literals as [ADDRESS]:PORT) to endpoints of both families,
    /// up to four of each per name, so that a dual-stack node joins both DHTs; names that do not
    /// resolve are skipped (with a debug log line).
    /// </summary>
    public static async Task<List<IPEndPoint>> ResolveAsync(IEnumerable<string> hostPorts, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(hostPorts);
        ArgumentNullException.ThrowIfNull(logger);
        var result = new List<IPEndPoint>();
        foreach (var text in hostPorts)
        {
            if (!PeerEndpoint.TryParse(text, out var endpoint, out var problem))
            {
                throw new NetworkException(NetworkError.InvalidAddress, $"Bootstrap node: {problem}");
            }

            if (IPAddress.TryParse(endpoint.Host, out var literal))
            {
                result.Add(Compact.Normalize(new IPEndPoint(literal, endpoint.Port)));
                continue;
            }

            try
            {
                var addresses = (await Dns.GetHostAddressesAsync(endpoint.Host, cancellationToken).ConfigureAwait(false))
                    .Select(a => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a)
                    .Distinct()
                    .ToList();
                foreach (var family in new[] { AddressFamily.InterNetwork, AddressFamily.InterNetworkV6 })
                {
                    result.AddRange(addresses.Where(a => a.AddressFamily == family).Take(4).Select(a => new IPEndPoint(a, endpoint.Port)));
                }
            }
            catch (SocketException ex)
            {
                logger.LogDebug("The DHT bootstrap node {Host} could not be resolved: {Reason}", endpoint.Host, ex.Message);
            }
        }

        return result;
    }

    /// <summary>Calls into the node under the host's lock; use it to start operations or read state.</summary>
    public T Call<T>(Func<DhtNode, T> operation)
    {
        ArgumentNullException.ThrowIfNull(operation);
        lock (_gate)
        {
            return operation(_node);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        await Task.WhenAll(_receiving, _ticking).ConfigureAwait(false);
        _stop.Dispose();
    }

    private void Send(byte[] datagram, IPEndPoint to)
    {
        try
        {
            // On the dual-stack socket an IPv4 node is written as its IPv4-mapped IPv6 address.
            var destination = _socket.AddressFamily == AddressFamily.InterNetworkV6 && to.AddressFamily == AddressFamily.InterNetwork
                ? new IPEndPoint(to.Address.MapToIPv6(), to.Port)
                : to;
            _socket.SendTo(datagram, SocketFlags.None, destination);
        }
        catch (SocketException ex)
        {
            _logger.LogDebug("DHT datagram to {EndPoint} not sent: {Reason}", to, ex.SocketErrorCode);
            if (ex.SocketErrorCode is SocketError.NetworkUnreachable or SocketError.HostUnreachable or SocketError.AddressFamilyNotSupported && _unsent.Count < 256)
            {
                // Sends happen inside calls into the node (under the lock): its queries fail at the next tick, not from within.
                _unsent.Add(to);
            }
        }
        catch (ObjectDisposedException)
        {
            // Stopping.
        }
    }

    private async Task ReceiveLoopAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();

        // One byte more than the largest datagram the node reads, so that a larger one is seen as such.
        var buffer = new byte[KrpcMessage.MaxDatagram + 1];
        EndPoint any = new IPEndPoint(_socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!cancellationToken.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.OperationAborted)
            {
                return;
            }
            catch (SocketException ex)
            {
                // An ICMP error for an earlier datagram, an oversized one, a network change: nothing to
                // read now. A short pause keeps a socket that keeps failing from spinning.
                _logger.LogDebug("DHT receive failed: {Reason}", ex.SocketErrorCode);
                if (ex.SocketErrorCode is not (SocketError.ConnectionReset or SocketError.ConnectionRefused or SocketError.MessageSize))
                {
                    try
                    {
                        await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                }

                continue;
            }

            // A dual-stack socket reports IPv4 senders as ::ffff:a.b.c.d: the node sees them as IPv4.
            var from = Compact.Normalize((IPEndPoint)received.RemoteEndPoint);
            var datagram = buffer.AsMemory(0, received.ReceivedBytes).ToArray();
            lock (_gate)
            {
                _node.Receive(datagram, from);
            }
        }
    }

    private async Task TickLoopAsync(TimeProvider time, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100), time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                lock (_gate)
                {
                    // Failing a query can send the next one, which may fail to send in turn: that one waits for the next tick.
                    var unsent = _unsent.Distinct().ToList();
                    _unsent.Clear();
                    foreach (var to in unsent)
                    {
                        _node.Unreachable(to);
                    }

                    _node.Tick();
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }
}
