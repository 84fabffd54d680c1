using System.Net;

namespace SecureChat.NetSim.Tests;

/// <summary>
/// The DHT of a world: three <c>securechat run</c> nodes on public hosts of their own, each joined
/// through the other two (BEP 42's observed address needs two voters at two addresses). The nodes
/// under test bootstrap from <see cref="EndPoints"/>.
/// </summary>
internal sealed class BootstrapNodes : IAsyncDisposable
{
    private readonly SimHost[] _hosts;
    private readonly List<SimNode> _nodes = [];

    private BootstrapNodes(SimHost[] hosts, List<IPEndPoint> endPoints)
    {
        _hosts = hosts;
        EndPoints = endPoints;
    }

    /// <summary>Where to bootstrap from: each node's IPv4 endpoint, and with IPv6 its IPv6 one too.</summary>
    public IReadOnlyList<IPEndPoint> EndPoints { get; }

    /// <summary>Adds the three public hosts (named boot1 to boot3) to the world; the nodes start with <see cref="StartAsync"/>.</summary>
    public static BootstrapNodes Add(SimulatedInternet net, int dhtPort, bool ipv6)
    {
        ArgumentNullException.ThrowIfNull(net);
        var hosts = new[] { net.AddPublicHost("boot1"), net.AddPublicHost("boot2"), net.AddPublicHost("boot3") };
        var endPoints = hosts.Select(h => new IPEndPoint(h.V4, dhtPort)).ToList();
        if (ipv6)
        {
            endPoints.AddRange(hosts.Select(h => new IPEndPoint(h.V6, dhtPort)));
        }

        return new BootstrapNodes(hosts, endPoints);
    }

    /// <summary>Starts the nodes one after another, each listening on <paramref name="listenPort"/> and joining through the others' endpoints.</summary>
    public async Task StartAsync(int listenPort)
    {
        for (var i = 0; i < _hosts.Length; i++)
        {
            var host = _hosts[i];
            var node = await SimNode.CreateAsync(host, $"boot{i + 1}");
            _nodes.Add(node);
            await node.StartAsync(listenPort, EndPoints[0].Port, EndPoints.Where(e => !e.Address.Equals(host.V4) && !e.Address.Equals(host.V6)));
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }
    }
}
