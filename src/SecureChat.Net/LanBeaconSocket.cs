using System.Net;
using System.Net.Sockets;

namespace SecureChat.Net;

/// <summary>
/// The UDP socket that LAN discovery sends and hears beacons on: bound to the beacon port (shared
/// with other nodes on the same machine), joined to the multicast group on one interface, and
/// sending with TTL 1 so that a beacon never leaves the local network. What a beacon says and who
/// may read it is the node's business (<c>LanBeacons</c>); this type only moves datagrams.
/// </summary>
public sealed class LanBeaconSocket : IDisposable
{
    private readonly Socket _socket;
    private readonly IPEndPoint _group;

    private LanBeaconSocket(Socket socket, IPEndPoint group)
    {
        _socket = socket;
        _group = group;
    }

    /// <summary>Binds <paramref name="port"/> on every IPv4 address and joins <paramref name="group"/> on <paramref name="localInterface"/> (<see cref="IPAddress.Any"/>: the system's choice).</summary>
    /// <exception cref="NetworkException">This system cannot bind the port or join the group; LAN discovery cannot run.</exception>
    public static LanBeaconSocket Open(IPAddress group, int port, IPAddress localInterface)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(localInterface);
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            // Several nodes on one machine share the beacon port.
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(new IPEndPoint(IPAddress.Any, port));
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.AddMembership, new MulticastOption(group, localInterface));
            if (!localInterface.Equals(IPAddress.Any))
            {
                socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastInterface, localInterface.GetAddressBytes());
            }

            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastTimeToLive, 1);

            // Nodes on the same machine hear each other's beacons.
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastLoopback, true);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw NetworkException.FromBind(ex, $"the multicast group {group} on UDP {port} could not be joined ({ex.Message})");
        }

        return new LanBeaconSocket(socket, new IPEndPoint(group, port));
    }

    /// <summary>Sends one beacon to the multicast group.</summary>
    /// <exception cref="SocketException">The datagram was not sent (no route, say); the next beacon may be.</exception>
    /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
    public async ValueTask SendAsync(ReadOnlyMemory<byte> beacon, CancellationToken cancellationToken)
    {
        await _socket.SendToAsync(beacon, SocketFlags.None, _group, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Waits for the next datagram on the beacon port (from anyone: the caller decides what it is).</summary>
    /// <returns>How many bytes of <paramref name="buffer"/> it filled (a longer datagram is cut), and its source address.</returns>
    /// <exception cref="SocketException">The receive failed (a network change, say).</exception>
    /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
    public async ValueTask<(int Length, IPAddress Source)> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cancellationToken).ConfigureAwait(false);
        return (received.ReceivedBytes, ((IPEndPoint)received.RemoteEndPoint).Address);
    }

    /// <summary>Closes the socket; a send or receive in progress ends with <see cref="ObjectDisposedException"/> or <see cref="OperationCanceledException"/>.</summary>
    public void Dispose() => _socket.Dispose();
}
