using System.Net;
using System.Net.Sockets;

namespace SecureChat.Net;

/// <summary>
/// Lets the node's dials to a contact's global IPv6 address leave from its own listen port, which
/// the listener holds as well. Behind a stateful IPv6 firewall (no NAT) a SYN from outside is
/// dropped unless it matches a connection the inside opened: when both contacts dial each other
/// from their listen ports, each SYN leaves state in its own firewall that lets the other's SYN
/// through, and the two sockets meet in a TCP simultaneous open (docs/discovery.md, "Through IPv6
/// firewalls: simultaneous open"; the handshake's rule for it is protocol 3.11).
/// </summary>
/// <remarks>
/// Two sockets may hold one port only when both ask to share it: SO_REUSEADDR, and SO_REUSEPORT,
/// without which Linux refuses to bind a port that a listening socket holds. A SYN for a socket
/// that is itself dialing (SYN_SENT) goes to that socket and not to the listener, because the
/// kernel looks for a socket with the exact address pair before it looks for a listener. Sharing
/// is limited to sockets of the same user, and the listener first checks that no one else holds
/// its port (<see cref="ShareListener"/>), so a second node started on a taken port still fails
/// to start instead of taking half of the first one's connections.
/// Only global IPv6 is dialed this way for now: over IPv4 the listen port is behind a NAT that
/// may change it, and punching through NATs is the next issue's work.
/// </remarks>
public static class ListenPortSharing
{
    private const int LinuxSolSocket = 1;
    private const int LinuxSoReusePort = 15;
    private const int BsdSolSocket = 0xffff;
    private const int BsdSoReusePort = 0x200;

    /// <summary>True where a dialing socket can share the listener's port (Linux, macOS, FreeBSD); elsewhere dials leave from ephemeral ports.</summary>
    public static bool IsSupported => OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD();

    /// <summary>
    /// Where a dial to <paramref name="endpoint"/> leaves from, and the address it goes to: the
    /// listen port, when the endpoint is a global IPv6 address and the node listens
    /// (<paramref name="dialFrom"/>); null for an ordinary dial from an ephemeral port.
    /// </summary>
    public static (IPEndPoint Source, IPEndPoint Remote)? SourceFor(PeerEndpoint endpoint, IPEndPoint? dialFrom)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (dialFrom is null || dialFrom.Port == 0 || !IsSupported
            || !IPAddress.TryParse(endpoint.Host, out var remote) || !DualStack.IsGlobalUnicast(remote))
        {
            return null;
        }

        // A listener on one IPv6 address dials from it; one on any address (or IPv4 alone) lets the
        // kernel choose the source address, as for any dial, and keeps the port.
        var source = dialFrom.Address is { AddressFamily: AddressFamily.InterNetworkV6, IsIPv4MappedToIPv6: false } own && !own.Equals(IPAddress.IPv6Any)
            ? own
            : IPAddress.IPv6Any;
        return (new IPEndPoint(source, dialFrom.Port), new IPEndPoint(remote, endpoint.Port));
    }

    /// <summary>Marks a socket, before it binds, as one that shares its port with the node's other sockets.</summary>
    internal static void Allow(Socket socket)
    {
        if (!IsSupported)
        {
            return;
        }

        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        socket.SetRawSocketOption(
            OperatingSystem.IsLinux() ? LinuxSolSocket : BsdSolSocket,
            OperatingSystem.IsLinux() ? LinuxSoReusePort : BsdSoReusePort,
            BitConverter.GetBytes(1));
    }

    /// <summary>
    /// Prepares the listener's socket to share its port with the node's dials: first checks, with a
    /// socket that shares nothing, that no one holds the port (a taken port still fails with
    /// "address in use"), then marks the listener's socket as sharing.
    /// </summary>
    internal static void ShareListener(Socket listener, IPEndPoint local)
    {
        if (!IsSupported)
        {
            return;
        }

        if (local.Port != 0)
        {
            using var probe = new Socket(local.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            if (local.AddressFamily == AddressFamily.InterNetworkV6)
            {
                probe.DualMode = listener.DualMode;
            }

            probe.Bind(local);
        }

        Allow(listener);
    }
}
