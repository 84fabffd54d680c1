using System.Net;
using System.Net.Sockets;

namespace SecureChat.Net.Tests;

/// <summary>
/// The transports the channel's contract tests run over, one registry for all of them: whatever
/// carries the bytes, the channel must behave the same.
/// </summary>
internal static class Transports
{
    public const string Memory = "memory";
    public const string Tcp = "tcp";

    public static TheoryData<string> All { get; } = [Memory, Tcp];

    /// <summary>Two connected transports, the first to dial (the initiator's) and the second to accept.</summary>
    public static async Task<(ChannelTransport Dialer, ChannelTransport Listener)> CreatePairAsync(string kind, CancellationToken cancellationToken)
    {
        if (kind == Memory)
        {
            return MemoryTransport.CreatePair();
        }

        Assert.Equal(Tcp, kind);
        using var door = new TcpListener(IPAddress.Loopback, 0);
        door.Start();
        var accepting = door.AcceptSocketAsync(cancellationToken);
        var dialer = await TcpTransport.ConnectAsync(new PeerEndpoint("127.0.0.1", ((IPEndPoint)door.LocalEndpoint).Port), new ChannelOptions(), cancellationToken);
        return (dialer, new TcpTransport(await accepting));
    }
}
