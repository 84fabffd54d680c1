using SecureChat.Net;
using SecureChat.Protocol.Identity;

namespace SecureChat.Node;

/// <summary>
/// How a <see cref="ContactLink"/> reaches a peer at an address and runs the channel handshake
/// there: over TCP today (<see cref="TcpLinkDialer"/>), over a relay circuit next. Tests pass one
/// that dials over in-memory pipes, fails or counts, so a link's dialing, backoff and choice of
/// connection run without sockets.
/// </summary>
internal interface ILinkDialer
{
    /// <summary>
    /// Opens a secure connection to <paramref name="endpoint"/> as <paramref name="identity"/>:
    /// IK when <paramref name="knownKey"/> is given, else XX, with <paramref name="verify"/>
    /// judging the responder. Throws <see cref="NetworkException"/> when nothing answers and
    /// <see cref="Protocol.Channel.ChannelException"/> when the handshake fails.
    /// </summary>
    Task<SecureConnection> DialAsync(
        PeerEndpoint endpoint,
        LocalIdentity identity,
        ReadOnlyMemory<byte> knownKey,
        PeerVerifier verify,
        ChannelOptions options,
        CancellationToken cancellationToken);
}

/// <summary>The default dialer: a TCP connection to the address (<see cref="ChannelDialer"/>).</summary>
internal sealed class TcpLinkDialer : ILinkDialer
{
    public static readonly TcpLinkDialer Instance = new();

    private TcpLinkDialer()
    {
    }

    public Task<SecureConnection> DialAsync(
        PeerEndpoint endpoint,
        LocalIdentity identity,
        ReadOnlyMemory<byte> knownKey,
        PeerVerifier verify,
        ChannelOptions options,
        CancellationToken cancellationToken) =>
        ChannelDialer.ConnectAsync(endpoint, identity, knownKey, verify, options, cancellationToken);
}
