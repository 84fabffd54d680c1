using System.Net;
using System.Net.Sockets;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Identity;

namespace SecureChat.Net;

/// <summary>Opens secure connections to a <c>HOST:PORT</c>.</summary>
public static class ChannelDialer
{
    /// <summary>
    /// Connects and runs the handshake: IK when <paramref name="knownResponderKey"/> is given, else
    /// XX. If an IK attempt is refused during the handshake (the responder's key may have changed),
    /// it falls back to XX once, whose result <paramref name="verify"/> judges against the pins.
    /// </summary>
    public static async Task<SecureConnection> ConnectAsync(
        PeerEndpoint endpoint,
        LocalIdentity identity,
        ReadOnlyMemory<byte> knownResponderKey,
        PeerVerifier verify,
        ChannelOptions options,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentNullException.ThrowIfNull(verify);
        ArgumentNullException.ThrowIfNull(options);
        if (!knownResponderKey.IsEmpty)
        {
            try
            {
                var socket = await OpenAsync(endpoint, options, cancellationToken).ConfigureAwait(false);
                return await SecureConnection.HandshakeAsync(socket, identity, knownResponderKey, initiator: true, verify, options, cancellationToken).ConfigureAwait(false);
            }
            catch (ChannelException ex) when (ex.Error is ChannelError.ClosedDuringHandshake or ChannelError.HandshakeFailed)
            {
                // Fall through to XX: it reveals which key answers, so the verifier can explain a change.
            }
        }

        var xxSocket = await OpenAsync(endpoint, options, cancellationToken).ConfigureAwait(false);
        return await SecureConnection.HandshakeAsync(xxSocket, identity, ReadOnlyMemory<byte>.Empty, initiator: true, verify, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Resolves and connects a TCP socket, turning socket errors into sentences.</summary>
    public static async Task<Socket> OpenAsync(PeerEndpoint endpoint, ChannelOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(options);
        IPAddress[] addresses;
        try
        {
            addresses = IPAddress.TryParse(endpoint.Host, out var literal)
                ? [literal]
                : await Dns.GetHostAddressesAsync(endpoint.Host, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            throw new NetworkException(NetworkError.HostNotFound, $"The host name '{endpoint.Host}' could not be resolved: check its spelling, or use an IP address.", ex);
        }

        if (addresses.Length == 0)
        {
            throw new NetworkException(NetworkError.HostNotFound, $"The host name '{endpoint.Host}' has no address.");
        }

        using var timeout = new CancellationTokenSource(options.ConnectTimeout, options.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, endpoint.Port, linked.Token).ConfigureAwait(false);
            return socket;
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
}
