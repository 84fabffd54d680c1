using System.Net;
using System.Net.Sockets;

namespace SecureChat.Tests.Node;

/// <summary>
/// A network between nodes that the test can cut. The nodes listen on 127.0.0.1; the network is
/// the address 127.0.0.2, where a <see cref="TcpRelay"/> stands in front of each node's port and
/// every relayed connection comes from 127.0.0.2. A node dialed through the network therefore
/// sees its peer at 127.0.0.2 and learns the peer's address there (it dials the remote address with
/// the listen port the hello announces, and keeps it once the peer's key answers), so its own dials go through the network too, and
/// <see cref="CutAll"/> reaches every connection between the nodes, whichever side dialed.
/// Linux routes all of 127.0.0.0/8 to loopback; macOS needs <c>ifconfig lo0 alias 127.0.0.2</c>.
/// </summary>
internal sealed class CuttableNetwork : IAsyncDisposable
{
    public static readonly IPAddress Address = IPAddress.Parse("127.0.0.2");

    private readonly List<TcpRelay> _relays = [];

    /// <summary>The address that reaches, through the network, a node listening on 127.0.0.1:<paramref name="port"/>.</summary>
    public static string AddressOf(int port) => $"{Address}:{port}";

    /// <summary>Puts a relay at 127.0.0.2:<paramref name="port"/> in front of 127.0.0.1:<paramref name="port"/>.</summary>
    public void Front(int port)
    {
        try
        {
            _relays.Add(TcpRelay.Start(new IPEndPoint(Address, port), new IPEndPoint(IPAddress.Loopback, port), Address));
        }
        catch (SocketException ex)
        {
            throw new InvalidOperationException($"Could not listen on {AddressOf(port)} ({ex.SocketErrorCode}): this test needs 127.0.0.2 on the loopback interface.", ex);
        }
    }

    /// <summary>Connections relayed so far, over all relays.</summary>
    public int Relayed => _relays.Sum(r => r.Relayed);

    /// <summary>Resets every connection between the nodes; returns how many there were.</summary>
    public int CutAll() => _relays.Sum(r => r.CutAll());

    public async ValueTask DisposeAsync()
    {
        foreach (var relay in _relays)
        {
            await relay.DisposeAsync();
        }
    }
}
