using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.NetSim.Tests;

/// <summary>
/// The reachability classification of real nodes in the simulated internet (docs/discovery.md,
/// "Reachability"): two public hosts, a host behind an endpoint-independent NAT (a contact of
/// one public host) and one behind a symmetric NAT (a contact of both), all added by ID only,
/// learn from the DHT and from the hellos of the connections they made how the outside sees them,
/// and classify themselves. The symmetric host needs two contacts: the DHT cannot name an address
/// for it (its nodes each see another port, and the DHT keeps only an endpoint two of them agree
/// on), and one contact's word alone decides nothing.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(SimulatedInternetCollection.Name)]
public sealed class ReachabilityTests(ITestOutputHelper output)
{
    private const int DhtPort = 6881;

    /// <summary>A NATed node finds and dials a public one within about 30 s today; the rest is room for a loaded machine.</summary>
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task Status_PublicEimAndSymmetricHosts_EachClassifiedWithTheAddressTheOutsideSees()
    {
        using var net = SimulatedInternet.Create();
        var pub = net.AddPublicHost("pub1");
        var pub2 = net.AddPublicHost("pub2");
        var eim = net.AddHome("eim1", HomeKind.EimNat);
        var sym = net.AddHome("sym1", HomeKind.SymmetricNat);
        var dht = BootstrapNodes.Add(net, DhtPort, ipv6: false);
        var bootstrap = dht.EndPoints;
        try
        {
            await dht.StartAsync(7000);

            await using var p = await SimNode.CreateAsync(pub, "p");
            await using var q = await SimNode.CreateAsync(pub2, "q");
            await using var e = await SimNode.CreateAsync(eim.Host, "e");
            await using var s = await SimNode.CreateAsync(sym.Host, "s");
            await Task.WhenAll(p.AddByIdAsync(e), p.AddByIdAsync(s), q.AddByIdAsync(s), e.AddByIdAsync(p), s.AddByIdAsync(p), s.AddByIdAsync(q));
            await Task.WhenAll(
                p.StartAsync(7101, DhtPort + 1, bootstrap), q.StartAsync(7102, DhtPort + 2, bootstrap),
                e.StartAsync(7103, DhtPort + 3, bootstrap), s.StartAsync(7104, DhtPort + 4, bootstrap));

            // The NATed nodes find the public ones on the DHT and dial them; each hello says where the dialer came from.
            var eStatus = await KindAsync(e, "punchable");
            var sStatus = await KindAsync(s, "symmetric");
            var pStatus = await KindAsync(p, "public");
            output.WriteLine($"p: {pStatus.Sentence}\ne: {eStatus.Sentence}\ns: {sStatus.Sentence}");

            Assert.Equal($"reachable at {pub.V4}:7101 (a public address)", pStatus.Sentence);
            Assert.Equal(
                $"behind a NAT without port mapping (seen at {eim.PublicIPv4}, ports kept): contacts can reach you only through a relay (or when they are reachable themselves)",
                eStatus.Sentence);
            Assert.Equal(
                $"behind a NAT that changes ports (symmetric; seen at {sym.PublicIPv4}): contacts can reach you only through a relay (or when they are reachable themselves)",
                sStatus.Sentence);
        }
        finally
        {
            await dht.DisposeAsync();
        }
    }

    private sealed record Reach(string Kind, string Sentence, string Observed);

    /// <summary>Polls the node's /api/status until its reachability is of <paramref name="kind"/>; fails with the last one seen.</summary>
    private static Task<Reach> KindAsync(SimNode node, string kind) =>
        Eventually.UntilAsync(
            $"{node.Name} classified {kind}",
            Deadline,
            async () =>
            {
                using var status = await node.StatusAsync();
                var reachability = status.RootElement.GetProperty("reachability");
                return new Reach(
                    reachability.GetProperty("kind").GetString()!,
                    reachability.GetProperty("sentence").GetString()!,
                    reachability.GetProperty("observed").ToString());
            },
            reach => reach.Kind == kind,
            reach => $"{reach.Kind}: {reach.Sentence}; observed {reach.Observed}\n{ChildProcess.Tail(node.Transcript)}");
}
