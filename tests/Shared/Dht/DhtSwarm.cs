using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using SecureChat.Dht;
using SecureChat.Net.Dht;

namespace SecureChat.Testing;

/// <summary>
/// A swarm of SecureChat DHT nodes on 127.0.0.1, in the test process, each joined through the first
/// (shared by the test projects that reference SecureChat.Net: see Directory.Build.props).
/// </summary>
internal sealed class DhtSwarm : IAsyncDisposable
{
    private readonly List<DhtHost> _hosts = [];

    public IReadOnlyList<DhtHost> Hosts => _hosts;

    public IPEndPoint First => _hosts[0].LocalEndPoint;

    public static async Task<DhtSwarm> StartAsync(int size)
    {
        var swarm = new DhtSwarm();
        for (var i = 0; i < size; i++)
        {
            var host = DhtHost.Start(new IPEndPoint(IPAddress.Loopback, 0), new DhtOptions(), NullLogger.Instance);
            swarm._hosts.Add(host);
            if (i > 0)
            {
                var joined = await host.Call(n => n.Bootstrap([swarm.First])).WaitAsync(TimeSpan.FromSeconds(20));
                Assert.NotEmpty(joined.Closest);
            }
        }

        // A second round of joins fills the early nodes' tables too.
        foreach (var host in swarm._hosts)
        {
            await host.Call(n => n.FindNode(n.Id)).WaitAsync(TimeSpan.FromSeconds(20));
        }

        return swarm;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }
    }
}
