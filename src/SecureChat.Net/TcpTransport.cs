using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;

namespace SecureChat.Net;

/// <summary>
/// The channel's transport over one TCP connection (protocol 3.1). With <see cref="ChannelListener"/>
/// (which accepts and admits connections) and <see cref="ChannelDialer"/> (which dials them), this
/// is the only place SecureChat.Net touches a TCP socket.
/// </summary>
public sealed partial class TcpTransport : ChannelTransport
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _input;
    private readonly SocketOutput _output;
    private int _disposed;

    /// <summary>Takes a connected socket; the transport owns it from here on.</summary>
    internal TcpTransport(Socket socket, TcpKeepAlive? keepAlive = null)
    {
        _socket = socket;
        _socket.NoDelay = true;
        if (keepAlive is not null)
        {
            KeepAlive(socket, keepAlive);
        }

        // A dual-stack socket names an IPv4 peer ::ffff:a.b.c.d: the node sees it as the IPv4 address it is.
        RemoteEndPoint = DualStack.Normalize(socket.RemoteEndPoint);
        LocalEndPoint = DualStack.Normalize(socket.LocalEndPoint);
        _stream = new NetworkStream(socket, ownsSocket: true);
        // 64 KiB reads: a full frame in one or two. A waiting read first asks for zero bytes, so an
        // idle connection (most of a node's) holds no buffer at all until data comes.
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 4 * 1024, leaveOpen: true, useZeroByteReads: true));
        // Frames are written whole and flushed at once: the writer passes them straight to the
        // socket, and the socket's send buffer is what holds a sender back from a slow reader.
        _output = new SocketOutput(PipeWriter.Create(_stream, new StreamPipeWriterOptions(leaveOpen: true)), socket);
    }

    public override PipeReader Input => _input;

    /// <summary>The connection's socket, for tests that read its options back from the kernel.</summary>
    internal Socket Socket => _socket;

    public override PipeWriter Output => _output;

    public override EndPoint? RemoteEndPoint { get; }

    public override EndPoint? LocalEndPoint { get; }

    /// <summary>The addresses of a host name (A and AAAA records); a name that has none, or cannot be resolved, is a <see cref="NetworkException"/> with a sentence.</summary>
    public static async Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(host);
        IPAddress[] addresses;
        try
        {
            addresses = await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            throw new NetworkException(NetworkError.HostNotFound, $"The host name '{host}' could not be resolved: check its spelling, or use an IP address.", ex);
        }

        return addresses.Length > 0
            ? addresses
            : throw new NetworkException(NetworkError.HostNotFound, $"The host name '{host}' has no address.");
    }

    /// <summary>Resolves <paramref name="endpoint"/> and connects to it, turning socket errors into sentences.</summary>
    public static async Task<TcpTransport> ConnectAsync(PeerEndpoint endpoint, ChannelOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(options);
        var addresses = IPAddress.TryParse(endpoint.Host, out var literal)
            ? [literal]
            : await ResolveAsync(endpoint.Host, cancellationToken).ConfigureAwait(false);

        using var timeout = new CancellationTokenSource(options.ConnectTimeout, options.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(addresses, endpoint.Port, linked.Token).ConfigureAwait(false);
            return new TcpTransport(socket, options.KeepAlive);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new NetworkException(NetworkError.ConnectTimeout, $"Connecting to {endpoint} timed out after {options.ConnectTimeout.TotalSeconds:0.#} seconds: the host may be down or a firewall drops the connection.");
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw ex.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => new NetworkException(NetworkError.ConnectionRefused, $"Nothing is listening at {endpoint} (connection refused): check the address, and that the peer runs `securechat listen`.", ex),
                SocketError.TimedOut => new NetworkException(NetworkError.ConnectTimeout, $"Connecting to {endpoint} timed out: the host may be down or a firewall drops the connection.", ex),
                SocketError.NetworkUnreachable or SocketError.HostUnreachable or SocketError.HostDown => new NetworkException(NetworkError.Unreachable, $"{endpoint} cannot be reached from this machine: check the address and the network.", ex),
                _ => new NetworkException(NetworkError.Other, $"Connecting to {endpoint} failed: {ex.Message}.", ex),
            };
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The Linux option TCP_USER_TIMEOUT at IPPROTO_TCP (linux/tcp.h), which .NET does not name.</summary>
    private const int TcpUserTimeout = 18;

    /// <summary>
    /// Turns on the kernel's keepalive probes with <paramref name="keepAlive"/>'s timing, so a peer
    /// that vanished without a word ends the connection within seconds (<see cref="TcpKeepAlive"/>).
    /// </summary>
    internal static void KeepAlive(Socket socket, TcpKeepAlive keepAlive)
    {
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, WholeSeconds(keepAlive.Idle));
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, WholeSeconds(keepAlive.Interval));
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, Math.Max(1, keepAlive.Probes));
            if (OperatingSystem.IsLinux())
            {
                var milliseconds = (int)Math.Clamp(keepAlive.UserTimeout.TotalMilliseconds, 1, int.MaxValue);
                socket.SetRawSocketOption((int)SocketOptionLevel.Tcp, TcpUserTimeout, BitConverter.GetBytes(milliseconds));
            }
        }
        catch (SocketException)
        {
            // The peer already reset the connection: the first read will say so.
        }
    }

    /// <summary>The kernel counts keepalive times in whole seconds, and at least one.</summary>
    private static int WholeSeconds(TimeSpan time) => (int)Math.Clamp(Math.Ceiling(time.TotalSeconds), 1, short.MaxValue);

    /// <summary>Closes a connection the listener will not serve at once, with a reset rather than an orderly end: a flood gets no more of this side's time.</summary>
    internal static void Refuse(Socket socket)
    {
        socket.LingerState = new LingerOption(true, 0);
        socket.Dispose();
    }

    public override void Abort() => Shutdown(_socket, SocketShutdown.Both);

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // A read still waiting ends as cancelled (a pipe's reader must not be completed under it);
        // closing the socket fails a write still waiting; the writer then holds nothing to flush.
        _input.CancelPendingRead();
        await _input.CompleteAsync().ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
        await _output.CompleteAsync().ConfigureAwait(false);
    }

    private static void Shutdown(Socket socket, SocketShutdown how)
    {
        try
        {
            socket.Shutdown(how);
        }
        catch (SocketException)
        {
            // Already disconnected.
        }
        catch (ObjectDisposedException)
        {
            // Already disposed.
        }
    }

    /// <summary>
    /// The stream's writer, except that completing it also ends the TCP stream in this direction
    /// (FIN): that is what a completed writer means to the reader on the other side of a pipe.
    /// </summary>
    private sealed class SocketOutput(PipeWriter inner, Socket socket) : PipeWriter
    {
        public override void Advance(int bytes) => inner.Advance(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) =>
            inner.FlushAsync(cancellationToken);

        public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default) =>
            inner.WriteAsync(source, cancellationToken);

        public override void Complete(Exception? exception = null)
        {
            inner.Complete(exception);
            Shutdown(socket, SocketShutdown.Send);
        }

        public override async ValueTask CompleteAsync(Exception? exception = null)
        {
            await inner.CompleteAsync(exception).ConfigureAwait(false);
            Shutdown(socket, SocketShutdown.Send);
        }
    }
}
