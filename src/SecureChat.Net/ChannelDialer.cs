using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Identity;

namespace SecureChat.Net;

/// <summary>Opens secure connections over TCP to a <c>HOST:PORT</c> (the dialing half of the TCP transport).</summary>
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
                var transport = await TcpTransport.ConnectAsync(endpoint, options, cancellationToken).ConfigureAwait(false);
                return await SecureConnection.ConnectAsync(transport, identity, knownResponderKey, verify, options, cancellationToken).ConfigureAwait(false);
            }
            catch (ChannelException ex) when (ex.Error is ChannelError.ClosedDuringHandshake or ChannelError.HandshakeFailed)
            {
                // Fall through to XX: it reveals which key answers, so the verifier can explain a change.
            }
        }

        var xxTransport = await TcpTransport.ConnectAsync(endpoint, options, cancellationToken).ConfigureAwait(false);
        return await SecureConnection.ConnectAsync(xxTransport, identity, ReadOnlyMemory<byte>.Empty, verify, options, cancellationToken).ConfigureAwait(false);
    }
}
