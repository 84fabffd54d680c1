using System.Net.Sockets;

namespace SecureChat.Net.Tests;

/// <summary>
/// Every TCP connection, dialed or accepted, carries the keepalive of its <see cref="ChannelOptions"/>,
/// read back from the kernel: without it a peer that vanished silently (its router renumbered, its
/// power cut) leaves a connection that looks open for hours. That the kernel then really ends such a
/// connection is proven in the simulated internet (KeepAliveTests there), where packets can be dropped.
/// </summary>
public sealed class KeepAliveTests
{
    /// <summary>TCP_USER_TIMEOUT at IPPROTO_TCP (linux/tcp.h).</summary>
    private const int TcpUserTimeout = 18;

    [Fact]
    public async Task DialedAndAcceptedConnections_CarryTheConfiguredKeepalive()
    {
        var keepAlive = new TcpKeepAlive(TimeSpan.FromSeconds(7), TimeSpan.FromSeconds(3), 4, TimeSpan.FromSeconds(11));
        var options = new ChannelOptions { KeepAlive = keepAlive };
        await using var loop = new Loopback();
        var listener = loop.Listen(options);
        var dialed = await loop.DialAsync(listener, options: options);
        var accepted = await loop.AcceptAsync(listener);

        foreach (var (side, connection) in new[] { ("dialed", dialed), ("accepted", accepted) })
        {
            var socket = Assert.IsType<TcpTransport>(connection.Transport).Socket;
            Assert.True((int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive)! != 0, $"SO_KEEPALIVE is off on the {side} socket");
            Assert.Equal(7, (int)socket.GetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime)!);
            Assert.Equal(3, (int)socket.GetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval)!);
            Assert.Equal(4, (int)socket.GetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount)!);
            if (OperatingSystem.IsLinux())
            {
                var value = new byte[4];
                Assert.Equal(4, socket.GetRawSocketOption((int)SocketOptionLevel.Tcp, TcpUserTimeout, value));
                Assert.Equal(11_000, BitConverter.ToInt32(value));
            }
        }
    }

    [Fact]
    public async Task DefaultOptions_TurnKeepaliveOn()
    {
        await using var loop = new Loopback();
        var listener = loop.Listen();
        var dialed = await loop.DialAsync(listener);
        var accepted = await loop.AcceptAsync(listener);

        foreach (var connection in new[] { dialed, accepted })
        {
            var socket = Assert.IsType<TcpTransport>(connection.Transport).Socket;
            Assert.True((int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive)! != 0);
            Assert.Equal((int)TcpKeepAlive.Default.Idle.TotalSeconds, (int)socket.GetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime)!);
        }
    }

    [Fact]
    public async Task NoKeepalive_LeavesTheSocketAsTheSystemMadeIt()
    {
        var options = new ChannelOptions { KeepAlive = null };
        await using var loop = new Loopback();
        var listener = loop.Listen(options);
        var dialed = await loop.DialAsync(listener, options: options);
        var socket = Assert.IsType<TcpTransport>(dialed.Transport).Socket;
        Assert.Equal(0, (int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive)!);
    }
}
