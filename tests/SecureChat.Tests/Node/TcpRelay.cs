using System.Net;
using System.Net.Sockets;

namespace SecureChat.Tests.Node;

/// <summary>
/// A TCP relay in front of a node's listen port, so a test can cut every connection through it at
/// once (each side gets a reset, as when a route or a NAT mapping dies). Its connections to the
/// target come from <c>source</c>, so the target sees the relay's address, not the dialer's. While
/// the target is down, a relayed connection is reset just as the target would have refused it.
/// </summary>
internal sealed class TcpRelay : IAsyncDisposable
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    private readonly TcpListener _listener;
    private readonly IPEndPoint _target;
    private readonly IPAddress _source;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly HashSet<Pair> _open = [];
    private readonly List<Task> _relays = [];
    private Task _accepting = Task.CompletedTask;
    private int _relayed;

    private TcpRelay(IPEndPoint listen, IPEndPoint target, IPAddress source)
    {
        _listener = new TcpListener(listen);
        _target = target;
        _source = source;
    }

    /// <summary>Where to dial instead of the target.</summary>
    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

    /// <summary>Connections relayed to the target so far.</summary>
    public int Relayed => Volatile.Read(ref _relayed);

    public static TcpRelay Start(IPEndPoint listen, IPEndPoint target, IPAddress source)
    {
        var relay = new TcpRelay(listen, target, source);
        relay._listener.Start();
        relay._accepting = relay.AcceptAllAsync(relay._stop.Token);
        return relay;
    }

    /// <summary>Resets every open relayed connection, both sides; returns how many there were.</summary>
    public int CutAll()
    {
        List<Pair> open;
        lock (_gate)
        {
            open = [.. _open];
            _open.Clear();
        }

        foreach (var pair in open)
        {
            pair.Reset();
        }

        return open.Count;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        CutAll();
        Task[] relays;
        lock (_gate)
        {
            relays = [.. _relays];
        }

        await Task.WhenAll(relays).WaitAsync(ChatProcess.Timeout);
        _stop.Dispose();
    }

    private async Task AcceptAllAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket inbound;
            try
            {
                inbound = await _listener.AcceptSocketAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            var outbound = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            var pair = new Pair(inbound, outbound);
            try
            {
                outbound.Bind(new IPEndPoint(_source, 0));
                using var connecting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                connecting.CancelAfter(ConnectTimeout);
                await outbound.ConnectAsync(_target, connecting.Token);
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException)
            {
                // The target is down: the dialer sees a reset, as it would have seen a refusal.
                pair.Reset();
                continue;
            }

            Interlocked.Increment(ref _relayed);
            lock (_gate)
            {
                _open.Add(pair);
                _relays.RemoveAll(t => t.IsCompleted);
                _relays.Add(RelayAsync(pair));
            }
        }
    }

    private async Task RelayAsync(Pair pair)
    {
        await Task.WhenAll(CopyAsync(pair, pair.Inbound, pair.Outbound), CopyAsync(pair, pair.Outbound, pair.Inbound));
        lock (_gate)
        {
            _open.Remove(pair);
        }

        pair.Reset();
    }

    /// <summary>Copies one direction; an end of stream is passed on as one, a failure resets both sides.</summary>
    private static async Task CopyAsync(Pair pair, Socket from, Socket to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None);
                if (read == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }

                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            pair.Reset();
        }
    }

    /// <summary>The two sockets of one relayed connection.</summary>
    private sealed class Pair(Socket inbound, Socket outbound)
    {
        private int _reset;

        public Socket Inbound { get; } = inbound;

        public Socket Outbound { get; } = outbound;

        /// <summary>Closes both sockets with a linger of 0, so each peer gets an RST rather than a clean end.</summary>
        public void Reset()
        {
            if (Interlocked.Exchange(ref _reset, 1) != 0)
            {
                return;
            }

            Abort(Inbound);
            Abort(Outbound);
        }

        private static void Abort(Socket socket)
        {
            try
            {
                socket.LingerState = new LingerOption(enable: true, seconds: 0);
            }
            catch (SocketException)
            {
                // Not connected (any more): closing is all there is to do.
            }

            socket.Dispose();
        }
    }
}
