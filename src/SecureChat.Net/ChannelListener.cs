using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Identity;

namespace SecureChat.Net;

/// <summary>An inbound connection attempt: a connection, or why its handshake failed.</summary>
public sealed record InboundConnection(EndPoint Remote, SecureConnection? Connection, Exception? Failure);

/// <summary>
/// Accepts TCP connections (the listening half of the TCP transport), admits them through
/// <see cref="InboundAdmission"/>, and runs the responder handshake on each over a
/// <see cref="TcpTransport"/>, a bounded number at a time; results come out of
/// <see cref="AcceptAsync"/> in the order the handshakes finish.
/// </summary>
public sealed class ChannelListener : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly LocalIdentity _identity;
    private readonly PeerVerifier _verify;
    private readonly ChannelOptions _options;
    private readonly ILogger _logger;
    private readonly Channel<InboundConnection> _inbound = Channel.CreateBounded<InboundConnection>(16);
    private readonly InboundAdmission _admission;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _acceptLoop;
    private int _stopped;

    private ChannelListener(TcpListener listener, LocalIdentity identity, PeerVerifier verify, ChannelOptions options, ILogger logger)
    {
        _listener = listener;
        _identity = identity;
        _verify = verify;
        _options = options;
        _logger = logger;
        _admission = new InboundAdmission(options);
        LocalEndPoint = (IPEndPoint)listener.LocalEndpoint;
        _acceptLoop = AcceptLoopAsync();
    }

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Handshakes in progress, connections open, and what the limits refused or cut so far.</summary>
    public AdmissionCounters Admission => _admission.Counters;

    /// <summary>
    /// Binds <paramref name="host"/>:<paramref name="port"/> (port 0 picks a free one) and starts
    /// accepting. <c>::</c> takes IPv4 and IPv6 on one socket (dual-stack), and falls back to IPv4
    /// alone, saying so in the log, on a machine without IPv6; <c>0.0.0.0</c> takes IPv4 only, and
    /// any other address that one only.
    /// </summary>
    public static ChannelListener Start(string host, int port, LocalIdentity identity, PeerVerifier verify, ChannelOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentNullException.ThrowIfNull(verify);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        if (!IPAddress.TryParse(host, out var address))
        {
            address = host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
                ? IPAddress.Loopback
                : throw new NetworkException(NetworkError.InvalidAddress, $"'{host}' is not an IP address this machine can listen on: use an address such as 127.0.0.1, 0.0.0.0 or ::.");
        }

        if (port is < 0 or > 65535)
        {
            throw new NetworkException(NetworkError.InvalidAddress, $"{port} is not a valid port: use a number from 1 to 65535 (or 0 for any free port).");
        }

        var listener = Bind(address, port, logger);
        try
        {
            ListenPortSharing.ShareListener(listener.Server, (IPEndPoint)listener.LocalEndpoint);
            listener.Start();
        }
        catch (SocketException ex)
        {
            listener.Dispose();
            throw ex.SocketErrorCode switch
            {
                SocketError.AddressAlreadyInUse => new NetworkException(NetworkError.AddressInUse, $"Port {port} on {host} is already in use: choose another with --port, or stop the program that holds it.", ex),
                SocketError.AddressNotAvailable => new NetworkException(NetworkError.AddressNotAvailable, $"{host} is not an address of this machine: listen on one of its own addresses, or on :: for all.", ex),
                SocketError.AccessDenied => new NetworkException(NetworkError.PermissionDenied, $"Listening on port {port} needs privileges: choose a port above 1023.", ex),
                _ => new NetworkException(NetworkError.Other, $"Listening on {host}:{port} failed: {ex.Message}.", ex),
            };
        }

        return new ChannelListener(listener, identity, verify, options, logger);
    }

    /// <summary>
    /// A listener for <paramref name="address"/>: for the IPv6 "any" address one that also takes
    /// IPv4 (its peers then appear as IPv4-mapped addresses, which <see cref="DualStack"/> undoes),
    /// or an IPv4 one where this machine has no IPv6.
    /// </summary>
    private static TcpListener Bind(IPAddress address, int port, ILogger logger)
    {
        if (!address.Equals(IPAddress.IPv6Any))
        {
            return new TcpListener(address, port);
        }

        if (Socket.OSSupportsIPv6)
        {
            TcpListener? dual = null;
            try
            {
                dual = new TcpListener(IPAddress.IPv6Any, port);
                dual.Server.DualMode = true;
                return dual;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.AddressFamilyNotSupported or SocketError.ProtocolNotSupported or SocketError.OperationNotSupported)
            {
                dual?.Dispose();
            }
        }

        logger.LogWarning("This machine has no IPv6: listening on IPv4 only (0.0.0.0)");
        return new TcpListener(IPAddress.Any, port);
    }

    /// <summary>The next inbound connection attempt, successful or not.</summary>
    public ValueTask<InboundConnection> AcceptAsync(CancellationToken cancellationToken = default) =>
        _inbound.Reader.ReadAsync(cancellationToken);

    /// <summary>
    /// Stops taking connections: the port closes and handshakes under way are abandoned, but
    /// connections that finished theirs stay readable through <see cref="AcceptAsync"/>, which then
    /// reports the end. (They are authenticated peers whose side already counts them as connected.)
    /// </summary>
    public async Task StopAcceptingAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            await _acceptLoop.ConfigureAwait(false);
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        await _acceptLoop.ConfigureAwait(false);
        _inbound.Writer.TryComplete();
    }

    /// <summary>Stops accepting and closes the connections no one took.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAcceptingAsync().ConfigureAwait(false);
        while (_inbound.Reader.TryRead(out var pending))
        {
            if (pending.Connection is not null)
            {
                await pending.Connection.DisposeAsync().ConfigureAwait(false);
            }
        }

        _listener.Dispose();
        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        var token = _stopping.Token;
        var handshakes = new List<Task>();
        while (!token.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (SocketException ex)
            {
                _logger.LogWarning("Accepting a connection failed: {Reason}", ex.SocketErrorCode);
                if (ex.SocketErrorCode is not (SocketError.ConnectionReset or SocketError.ConnectionAborted))
                {
                    // Out of descriptors or memory: accepting again at once would only spin.
                    await PauseAsync(token).ConfigureAwait(false);
                }

                continue;
            }

            // A dual-stack listener names an IPv4 peer ::ffff:a.b.c.d; admission counts it as the IPv4 address it is.
            var remote = DualStack.Normalize(socket.RemoteEndPoint) as IPEndPoint;
            if (_admission.TryAdmit(remote?.Address ?? IPAddress.None, out var refusal) is not { } ticket)
            {
                // No handshake and no result: a flood is answered with closed sockets, not with work.
                _logger.LogDebug("Closed a connection from {Remote} at once: {Refusal}", remote, refusal);
                TcpTransport.Refuse(socket);
                continue;
            }

            handshakes.RemoveAll(t => t.IsCompleted);
            handshakes.Add(HandshakeAsync(new TcpTransport(socket, _options.KeepAlive), ticket, token));
        }

        await Task.WhenAll(handshakes).ConfigureAwait(false);
    }

    private async Task PauseAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), _options.Time, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping: the loop ends on its own check.
        }
    }

    private async Task HandshakeAsync(TcpTransport transport, InboundAdmission.Ticket ticket, CancellationToken cancellationToken)
    {
        var remote = transport.RemoteEndPoint ?? new IPEndPoint(IPAddress.None, 0);
        InboundConnection result;
        using var cut = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, ticket.Eviction);
        try
        {
            var connection = await SecureConnection.AcceptAsync(transport, _identity, _verify, _options, cut.Token).ConfigureAwait(false);
            ticket.Opened();
            connection.Lease = ticket;
            _logger.LogInformation("Accepted {Remote} with {Pattern}", remote, connection.Pattern);
            result = new InboundConnection(remote, connection, null);
        }
        catch (Exception ex)
        {
            var evicted = ticket.Eviction.IsCancellationRequested;
            ticket.Dispose();
            if (evicted)
            {
                // Cut for a newer connection (from its own address, or from any when every slot
                // was taken): part of a flood, or a peer too slow to finish; either way not worth
                // a report (it would flood too).
                _logger.LogDebug("Cut the handshake from {Remote} for a newer connection", remote);
                return;
            }

            // Whatever stopped this handshake (the peer, a timeout, or the verifier's own store)
            // is reported as this attempt's result; the listener goes on with the others.
            var reason = ex switch
            {
                ChannelException channel => channel.Error.ToString(),
                OperationCanceledException => "the listener stopped",
                _ => ex.GetType().Name,
            };
            _logger.LogInformation("Inbound handshake from {Remote} failed: {Error}", remote, reason);
            result = new InboundConnection(remote, null, ex);
        }

        try
        {
            // A finished connection is queued even when the listener is stopping (see StopAcceptingAsync).
            if (!_inbound.Writer.TryWrite(result))
            {
                await _inbound.Writer.WriteAsync(result, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ChannelClosedException)
        {
            if (result.Connection is not null)
            {
                await result.Connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
