using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using SecureChat.Dht;
using SecureChat.Net.Dht;

namespace SecureChat.Bench.Dht;

/// <summary>
/// SecureChat DHT nodes in this process with default options, each on a loopback address of its
/// own (127.0.1.1, 127.0.1.2, …; the port the system picks), as nodes of the Mainline DHT each have
/// an address of their own: per-address limits (SecureChat's 50 queries/s per source address)
/// then hold per node, as they do on the internet. Each joins through the first node; then each
/// makes a few more lookups, so that the early nodes' tables fill too.
/// </summary>
internal sealed class LoopbackSwarm : IAsyncDisposable
{
    /// <summary>The /24 the swarm's nodes sit in; lookers take addresses outside it.</summary>
    public const string Prefix = "127.0.1.";

    /// <summary>Lookups each node makes after joining: one of its own ID, then of random IDs (3: tables of about 37 nodes, none under 20).</summary>
    private const int Rounds = 3;

    private static readonly TimeSpan JoinTimeout = TimeSpan.FromSeconds(20);
    private readonly List<DhtHost> _hosts = [];

    public IReadOnlyList<DhtHost> Hosts => _hosts;

    public static async Task<LoopbackSwarm> StartAsync(int size, TextWriter log)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, 254);
        var clock = Stopwatch.StartNew();
        var swarm = new LoopbackSwarm();
        try
        {
            for (var i = 0; i < size; i++)
            {
                var address = IPAddress.Parse(Prefix + (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
                var host = DhtHost.Start(new IPEndPoint(address, 0), new DhtOptions(), NullLogger.Instance);
                swarm._hosts.Add(host);
                if (i > 0)
                {
                    var first = swarm._hosts[0].LocalEndPoint;
                    var joined = await host.Call(n => n.Bootstrap([first])).WaitAsync(JoinTimeout);
                    if (joined.Closest.Count == 0)
                    {
                        throw new InvalidOperationException($"The DHT node at {host.LocalEndPoint} could not join through {first}.");
                    }
                }
            }

            var joinedAt = clock.Elapsed;

            // Then rounds of lookups, a few at a time, fill the tables as time does on the DHT (BEP 5's
            // bucket refreshes): each node looks itself up again, so that the early nodes meet the later
            // ones, then looks up random IDs.
            for (var round = 0; round < Rounds; round++)
            {
                foreach (var batch in swarm._hosts.Chunk(8))
                {
                    await Task.WhenAll(batch.Select(h => h.Call(n => n.FindNode(round == 0 ? n.Id : NodeId.Random())).WaitAsync(JoinTimeout)));
                }
            }

            var tables = swarm._hosts.Select(h => (double)h.Call(n => n.Routing.Count)).ToList();
            log.WriteLine($"swarm: {size} nodes joined in {joinedAt.TotalSeconds:F1} s, tables filled in {clock.Elapsed.TotalSeconds:F1} s; "
                + $"routing table sizes: median {Stats.Median(tables):F0}, min {tables.Min():F0}, max {tables.Max():F0}");
            return swarm;
        }
        catch
        {
            await swarm.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }
    }
}
