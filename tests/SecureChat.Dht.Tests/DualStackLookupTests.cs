using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace SecureChat.Dht.Tests;

/// <summary>
/// Lookups across a simulated swarm of IPv4-only, IPv6-only and dual-stack nodes (BEP 32: two
/// DHTs, which dual-stack nodes join both of): a record put by an IPv4-only node is found by a
/// dual-stack one, IPv6-only nodes (a home without IPv4) put and get records among themselves,
/// and each table holds only its family's nodes.
/// </summary>
public sealed class DualStackLookupTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(2);

    [Fact]
    public void Join_MixedSwarm_EachTableHoldsOnlyItsFamily()
    {
        var swarm = new MixedSwarm(seed: 41);

        Assert.All(swarm.V4Only, n => Assert.Equal(0, n.Routing6.Count));
        Assert.All(swarm.V6Only, n => Assert.Equal(0, n.Routing.Count));
        Assert.All(swarm.V4Only.Concat(swarm.Dual), n => Assert.True(n.Routing.Count >= 8, $"IPv4 table {n.Routing.Count}"));
        Assert.All(swarm.V6Only.Concat(swarm.Dual), n => Assert.True(n.Routing6.Count >= 8, $"IPv6 table {n.Routing6.Count}"));
        Assert.All(swarm.Network.Nodes, n =>
        {
            Assert.All(n.Routing.All, e => Assert.Equal(AddressFamily.InterNetwork, e.EndPoint.AddressFamily));
            Assert.All(n.Routing6.All, e => Assert.Equal(AddressFamily.InterNetworkV6, e.EndPoint.AddressFamily));
        });
    }

    [Fact]
    public void PutMutable_ByIpv4OnlyNode_FoundByDualStackNode()
    {
        var swarm = new MixedSwarm(seed: 42);
        var item = Signed("from an IPv4-only home");

        var stored = swarm.Network.RunUntil(swarm.V4Only[3].Put(item), Limit);
        var found = swarm.Network.RunUntil(swarm.Dual[5].GetMutable(item.PublicKey!, item.Salt), Limit);

        Assert.True(stored.Accepted >= 4, $"accepted by {stored.Accepted} of {stored.Asked}");
        Assert.Equal(item.Value, found.Item?.Value);
    }

    [Fact]
    public void PutMutable_ByIpv6OnlyNode_FoundByIpv6OnlyAndDualStackNodes()
    {
        var swarm = new MixedSwarm(seed: 43);
        var item = Signed("from an IPv6-only home");

        var stored = swarm.Network.RunUntil(swarm.V6Only[2].Put(item), Limit);

        Assert.True(stored.Accepted >= 4, $"accepted by {stored.Accepted} of {stored.Asked}: {string.Join("; ", stored.Errors)}");
        Assert.Equal(item.Value, swarm.Network.RunUntil(swarm.V6Only[11].GetMutable(item.PublicKey!, item.Salt), Limit).Item?.Value);
        Assert.Equal(item.Value, swarm.Network.RunUntil(swarm.Dual[1].GetMutable(item.PublicKey!, item.Salt), Limit).Item?.Value);
    }

    [Fact]
    public void PutImmutable_ByDualStackNode_StoredInBothDhtsAndFoundByEitherSingleFamilyNode()
    {
        var swarm = new MixedSwarm(seed: 44);
        var item = DhtItem.Immutable("14:stored in both"u8.ToArray())!;

        var stored = swarm.Network.RunUntil(swarm.Dual[6].Put(item), Limit);

        Assert.True(stored.Accepted > 8, $"accepted by {stored.Accepted} of {stored.Asked}: k nodes in each DHT");
        Assert.Equal(item.Value, swarm.Network.RunUntil(swarm.V4Only[9].GetImmutable(item.Target), Limit).Item?.Value);
        Assert.Equal(item.Value, swarm.Network.RunUntil(swarm.V6Only[9].GetImmutable(item.Target), Limit).Item?.Value);
    }

    [Fact]
    public void FindNode_Ipv6OnlyNode_FindsAnotherIpv6OnlyNode()
    {
        var swarm = new MixedSwarm(seed: 45);

        var result = swarm.Network.RunUntil(swarm.V6Only[4].FindNode(swarm.V6Only[13].Id), Limit);

        Assert.Equal(swarm.V6Only[13].Id, result.Closest[0].Contact.Id);
        Assert.Equal(swarm.Network.EndPointOf(swarm.V6Only[13], AddressFamily.InterNetworkV6), result.Closest[0].Contact.EndPoint);
        Assert.All(result.Closest, c => Assert.Equal(AddressFamily.InterNetworkV6, c.Contact.EndPoint.AddressFamily));
    }

    [Fact]
    public void GetPeers_AnnouncedByEachFamily_DualStackNodeFindsBoth()
    {
        var swarm = new MixedSwarm(seed: 46);
        var infoHash = NodeId.Random();

        Assert.True(swarm.Network.RunUntil(swarm.V4Only[1].Announce(infoHash, 7000), Limit).Accepted > 0);
        Assert.True(swarm.Network.RunUntil(swarm.V6Only[1].Announce(infoHash, 7000), Limit).Accepted > 0);
        var peers = swarm.Network.RunUntil(swarm.Dual[3].GetPeers(infoHash), Limit).Peers;

        Assert.Contains(new IPEndPoint(swarm.Network.EndPointOf(swarm.V4Only[1]).Address, 7000), peers);
        Assert.Contains(new IPEndPoint(swarm.Network.EndPointOf(swarm.V6Only[1]).Address, 7000), peers);
    }

    [Fact]
    public void Bootstrap_DualStackThroughAnIpv4AddressOnly_FillsItsIpv6TableFromNodes6()
    {
        var swarm = new MixedSwarm(seed: 47);
        var late = swarm.Network.Add([SimulatedNetwork.Address(900), SimulatedNetwork.Address6(900)]);

        var joined = swarm.Network.RunUntil(late.Bootstrap([swarm.Network.EndPointOf(swarm.Dual[0], AddressFamily.InterNetwork)!]), Limit);

        Assert.Contains(joined.Closest, c => c.Contact.EndPoint.AddressFamily == AddressFamily.InterNetworkV6);
        Assert.True(late.Routing6.Count >= 8, $"IPv6 table {late.Routing6.Count}");
        Assert.True(late.Routing.Count >= 8, $"IPv4 table {late.Routing.Count}");
    }

    private static DhtItem Signed(string text) =>
        DhtItem.Sign(RandomNumberGenerator.GetBytes(32), new BString(System.Text.Encoding.UTF8.GetBytes(text)).Encode(), "rendezvous"u8.ToArray(), 1);

    /// <summary>8 dual-stack nodes, 16 IPv4-only and 16 IPv6-only, each joined through the first dual-stack node's address of its family.</summary>
    private sealed class MixedSwarm
    {
        public MixedSwarm(int seed)
        {
            Network = new SimulatedNetwork(seed);
            Dual = [.. Enumerable.Range(0, 8).Select(i => Network.Add([SimulatedNetwork.Address(i), SimulatedNetwork.Address6(i)]))];
            V4Only = [.. Enumerable.Range(100, 16).Select(i => Network.Add([SimulatedNetwork.Address(i)], new DhtOptions { Families = DhtFamilies.IPv4 }))];
            V6Only = [.. Enumerable.Range(200, 16).Select(i => Network.Add([SimulatedNetwork.Address6(i)], new DhtOptions { Families = DhtFamilies.IPv6 }))];
            var entry4 = Network.EndPointOf(Dual[0], AddressFamily.InterNetwork)!;
            var entry6 = Network.EndPointOf(Dual[0], AddressFamily.InterNetworkV6)!;
            foreach (var node in Dual.Skip(1))
            {
                Network.RunUntil(node.Bootstrap([entry4, entry6]), Limit);
            }

            foreach (var node in V4Only.Concat(V6Only))
            {
                Network.RunUntil(node.Bootstrap([node.Options.Families == DhtFamilies.IPv4 ? entry4 : entry6]), Limit);
            }

            // A second round, as a running node's refreshes would, so that the first nodes meet the later ones.
            foreach (var node in Network.Nodes.ToList())
            {
                Network.RunUntil(node.FindNode(node.Id), Limit);
            }

            Network.Run(TimeSpan.FromSeconds(10));
        }

        public SimulatedNetwork Network { get; }

        public List<DhtNode> Dual { get; }

        public List<DhtNode> V4Only { get; }

        public List<DhtNode> V6Only { get; }
    }
}
