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
                return await HandshakeAsync(endpoint, identity, knownResponderKey, verify, options, cancellationToken).ConfigureAwait(false);
            }
            catch (ChannelException ex) when (ex.Error is ChannelError.ClosedDuringHandshake or ChannelError.HandshakeFailed)
            {
                // Fall through to XX: it reveals which key answers, so the verifier can explain a change.
            }
        }

        return await HandshakeAsync(endpoint, identity, ReadOnlyMemory<byte>.Empty, verify, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// One TCP connection and its handshake. A dial to a global IPv6 address leaves from the listen
    /// port (<see cref="ChannelOptions.DialFrom"/>) and then accepts a simultaneous open; where that
    /// port cannot be shared just now (a closed connection to the same address still in TIME_WAIT,
    /// or one open already), it leaves from an ephemeral port like any other dial.
    /// </summary>
    private static async Task<SecureConnection> HandshakeAsync(
        PeerEndpoint endpoint, LocalIdentity identity, ReadOnlyMemory<byte> knownResponderKey, PeerVerifier verify, ChannelOptions options, CancellationToken cancellationToken)
    {
        if (ListenPortSharing.SourceFor(endpoint, options.DialFrom) is var (source, remote)
            && await TcpTransport.ConnectFromAsync(source, remote, options, cancellationToken).ConfigureAwait(false) is { } shared)
        {
            return await SecureConnection.ConnectFromListenPortAsync(shared, identity, knownResponderKey, verify, options, cancellationToken).ConfigureAwait(false);
        }

        var transport = await TcpTransport.ConnectAsync(endpoint, options, cancellationToken).ConfigureAwait(false);
        return await SecureConnection.ConnectAsync(transport, identity, knownResponderKey, verify, options, cancellationToken).ConfigureAwait(false);
    }
}
