using System.Net;
using Microsoft.Extensions.Logging;
using SecureChat.Net;
using SecureChat.Protocol.Identity;

namespace SecureChat.Node;

/// <summary>
/// The dialer contact links use: the node's own (<see cref="NodeOptions.Dialer"/>), told where the
/// node listens at the moment of each dial (<see cref="ChannelOptions.DialFrom"/>), so that a dial to
/// a contact's global IPv6 address leaves from the listen port. Two contacts behind stateful IPv6
/// firewalls then meet in a TCP simultaneous open, as docs/discovery.md ("Through IPv6 firewalls:
/// simultaneous open") explains. The listen endpoint is read per dial, since the node may move it.
/// </summary>
internal sealed class ListenPortDialer(ILinkDialer inner, Func<IPEndPoint?> listenEndPoint, ILogger logger) : ILinkDialer
{
    public async Task<SecureConnection> DialAsync(
        PeerEndpoint endpoint,
        LocalIdentity identity,
        ReadOnlyMemory<byte> knownKey,
        PeerVerifier verify,
        ChannelOptions options,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var from = listenEndPoint();
        var connection = await inner.DialAsync(endpoint, identity, knownKey, verify, from is null ? options : options with { DialFrom = from }, cancellationToken).ConfigureAwait(false);
        if (connection.WasSimultaneousOpen)
        {
            logger.LogInformation(
                "Met {Endpoint} in a TCP simultaneous open from port {Port}: this side {Role}",
                endpoint,
                from?.Port,
                connection.IsInitiator ? "stayed initiator" : "answered as responder");
        }

        return connection;
    }
}
