using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using SecureChat.Dht;

namespace SecureChat.Net.Dht;

/// <summary>
/// Runs a <see cref="DhtNode"/> on a UDP socket: one loop receives datagrams, a timer ticks the
/// node, and every call into the node happens under one lock. Operations return the node's tasks,
/// which complete outside the lock.
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

    private DhtHost(Socket socket, DhtOptions options, NodeId id, TimeProvider time, ILogger logger)
    {
        _socket = socket;
        _logger = logger;
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        _node = new DhtNode(id, options, time, Send);
        _receiving = ReceiveLoopAsync(_stop.Token);
        _ticking = TickLoopAsync(time, _stop.Token);
    }

    public IPEndPoint LocalEndPoint { get; }

    public NodeId Id => _node.Id;

    /// <summary>Binds a UDP socket (IPv4) and starts the node on it.</summary>
    /// <exception cref="NetworkException">The address cannot be bound.</exception>
    public static DhtHost Start(IPEndPoint bind, DhtOptions options, ILogger logger, TimeProvider? time = null, NodeId? id = null)
    {
        ArgumentNullException.ThrowIfNull(bind);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.Bind(bind);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw NetworkException.FromBind(ex, $"The DHT could not use UDP {bind}: {ex.Message}. Choose another port with --dht-port.");
        }

        return new DhtHost(socket, options, id ?? NodeId.Random(), time ?? TimeProvider.System, logger);
    }

    /// <summary>Resolves HOST:PORT texts to IPv4 endpoints; names that do not resolve are skipped (with a debug log line).</summary>
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
                result.Add(new IPEndPoint(literal, endpoint.Port));
                continue;
            }

            try
            {
                var addresses = await Dns.GetHostAddressesAsync(endpoint.Host, AddressFamily.InterNetwork, cancellationToken).ConfigureAwait(false);
                result.AddRange(addresses.Take(4).Select(a => new IPEndPoint(a, endpoint.Port)));
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
            _socket.SendTo(datagram, SocketFlags.None, to);
        }
        catch (SocketException ex)
        {
            _logger.LogDebug("DHT datagram to {EndPoint} not sent: {Reason}", to, ex.SocketErrorCode);
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
        EndPoint any = new IPEndPoint(IPAddress.Any, 0);
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

            var from = (IPEndPoint)received.RemoteEndPoint;
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
