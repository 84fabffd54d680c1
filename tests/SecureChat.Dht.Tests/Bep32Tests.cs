using System.Net;
using System.Net.Sockets;
using System.Text;
using CsCheck;

namespace SecureChat.Dht.Tests;

/// <summary>
/// BEP 32 as one node speaks it: compact IPv6 nodes and peers byte for byte, "nodes6" and "want"
/// in queries and answers, a routing table per family, the observed IPv6 address (BEP 42's "ip"
/// of 18 bytes), and hostile IPv6 fields (ragged "nodes6", IPv4-mapped or unusable addresses, an
/// "ip" of the wrong family, a malformed "want") dropped without an exception.
/// </summary>
public sealed class Bep32Tests
{
    private static readonly NodeId Abc = NodeId.FromBytes("abcdefghij0123456789"u8);
    private static readonly NodeId Mno = NodeId.FromBytes("mnopqrstuvwxyz123456"u8);
    private static readonly IPEndPoint Alice = NodeUnderTest.Address(1);
    private static readonly IPEndPoint Alice6 = new(IPAddress.Parse("2001:db8::a11:ce"), 6881);
    private static readonly IPEndPoint Doc6 = new(IPAddress.Parse("2001:db8::1"), 6881);

    [Fact]
    public void EncodeNodes_Ipv6Contact_Is38BytesOfIdAddressAndPort()
    {
        var encoded = Compact.EncodeNodes([new NodeContact(Abc, Doc6), new NodeContact(Mno, Alice)], AddressFamily.InterNetworkV6);

        // BEP 32: 20-byte ID, 16-byte address, 2-byte port (6881 = 0x1ae1), network order; the IPv4 contact is not in "nodes6".
        Assert.Equal("6162636465666768696a30313233343536373839" + "20010db8000000000000000000000001" + "1ae1", Convert.ToHexStringLower(encoded));
        Assert.Equal([new NodeContact(Abc, Doc6)], Compact.DecodeNodes(encoded, AddressFamily.InterNetworkV6));
    }

    [Fact]
    public void EncodePeer_Ipv6_Is18Bytes()
    {
        Assert.Equal("20010db8000000000000000000000001" + "1ae1", Convert.ToHexStringLower(Compact.EncodePeer(Doc6)));
        Assert.Equal(Doc6, Compact.DecodePeer(Convert.FromHexString("20010db80000000000000000000000011ae1")));
    }

    [Fact]
    public void FindNode_SentByDualStackNode_AsksForBothFamilies()
    {
        var test = new NodeUnderTest(id: Abc);
        test.Node.Routing.Responded(new NodeContact(NodeId.Random(), Alice), test.Time.GetUtcNow());

        _ = test.Node.FindNode(Mno);

        var (query, to) = Assert.Single(test.QueriesSent());
        Assert.Equal(Alice, to);
        Assert.Equal("d2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz1234564:wantl2:n42:n6ee", Latin1(query.Body.Encode()));
    }

    [Theory]
    [InlineData(DhtFamilies.IPv4)]
    [InlineData(DhtFamilies.IPv6)]
    public void FindNode_SentByOneFamilyNode_SendsNoWant(DhtFamilies family)
    {
        var test = new NodeUnderTest(new DhtOptions { Families = family }, Abc);
        var peer = family == DhtFamilies.IPv4 ? Alice : Alice6;
        test.Node.TableOf(peer).Responded(new NodeContact(NodeId.Random(), peer), test.Time.GetUtcNow());

        _ = test.Node.FindNode(Mno);

        var (query, to) = Assert.Single(test.QueriesSent());
        Assert.Equal(peer, to);
        Assert.Equal("d2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e", Latin1(query.Body.Encode()));
    }

    [Fact]
    public void FindNode_WantN6OverIpv4_AnswersNodes6FromTheIpv6Table()
    {
        var test = new NodeUnderTest(id: Mno);
        test.Node.Routing6.Responded(new NodeContact(Abc, Doc6), test.Time.GetUtcNow());
        test.Node.Routing.Responded(new NodeContact(NodeId.Random(), NodeUnderTest.Address(9)), test.Time.GetUtcNow());

        var answer = test.Respond("find_node", Target(Abc).Set("want", Want("n6")), Alice);

        var nodes6 = "6162636465666768696a30313233343536373839" + "20010db8000000000000000000000001" + "1ae1";
        Assert.Equal("d2:id20:mnopqrstuvwxyz1234566:nodes638:" + Latin1(Convert.FromHexString(nodes6)) + "e", Latin1(answer.Body.Encode()));
    }

    [Theory]
    [InlineData(false, null, true, false)]
    [InlineData(true, null, false, true)]
    [InlineData(false, "n4,n6", true, true)]
    [InlineData(true, "n4", true, false)]
    [InlineData(true, "n4,n6", true, true)]
    [InlineData(false, "n5", true, false)]
    [InlineData(true, "", false, true)]
    public void FindNode_Want_AnswersTheFamiliesAskedForElseTheQueriersOwn(bool overIpv6, string? want, bool nodes, bool nodes6)
    {
        var test = DualStackNodeWithBothTables();
        var arguments = Target(NodeId.Random());
        if (want is not null)
        {
            arguments.Set("want", Want(want.Split(',', StringSplitOptions.RemoveEmptyEntries)));
        }

        var answer = test.Respond("find_node", arguments, overIpv6 ? Alice6 : Alice);

        Assert.Equal(nodes, answer.Body.Bytes("nodes") is { Length: Compact.NodeV4 });
        Assert.Equal(nodes6, answer.Body.Bytes("nodes6") is { Length: Compact.NodeV6 });
        Assert.Equal(nodes, answer.Body["nodes"] is not null);
        Assert.Equal(nodes6, answer.Body["nodes6"] is not null);
    }

    [Fact]
    public void GetAndGetPeers_WantBoth_CarryBothFamiliesAndAToken()
    {
        var test = DualStackNodeWithBothTables();

        foreach (var (method, key) in new[] { ("get", "target"), ("get_peers", "info_hash") })
        {
            var answer = test.Respond(method, new BDictionary().Set(key, NodeId.Random().ToArray()).Set("want", Want("n4", "n6")), Alice6);

            Assert.Single(Compact.DecodeNodes(answer.Body.Bytes("nodes")!, AddressFamily.InterNetwork));
            Assert.Single(Compact.DecodeNodes(answer.Body.Bytes("nodes6")!, AddressFamily.InterNetworkV6));
            Assert.NotNull(answer.Body.Bytes("token"));
        }
    }

    [Fact]
    public void FindNode_WantN6ToAnIpv4OnlyNode_AnswersItsIpv4Nodes()
    {
        var test = new NodeUnderTest(new DhtOptions { Families = DhtFamilies.IPv4 });
        test.Node.Routing.Responded(new NodeContact(NodeId.Random(), NodeUnderTest.Address(9)), test.Time.GetUtcNow());

        var answer = test.Respond("find_node", Target(NodeId.Random()).Set("want", Want("n6")), Alice);

        Assert.Single(Compact.DecodeNodes(answer.Body.Bytes("nodes")!, AddressFamily.InterNetwork));
        Assert.Null(answer.Body["nodes6"]);
    }

    [Fact]
    public void GetPeers_AnnouncedOverBothFamilies_ValuesHoldTheQueriersFamilyOnly()
    {
        var test = new NodeUnderTest();
        var infoHash = NodeId.Random();
        foreach (var from in new[] { Alice, Alice6 })
        {
            var token = test.Respond("get_peers", new BDictionary().Set("info_hash", infoHash.ToArray()), from).Body.Bytes("token")!;
            test.Respond("announce_peer", new BDictionary().Set("info_hash", infoHash.ToArray()).Set("port", 7000).Set("token", token), from);
        }

        IPEndPoint[] Values(IPEndPoint from) =>
            [.. test.Respond("get_peers", new BDictionary().Set("info_hash", infoHash.ToArray()), from).Body.List("values")!.Items
                .Select(v => Compact.DecodePeer(((BString)v).Value)!)];

        Assert.Equal([new IPEndPoint(Alice.Address, 7000)], Values(NodeUnderTest.Address(5)));
        Assert.Equal([new IPEndPoint(Alice6.Address, 7000)], Values(NodeUnderTest.Address6(5)));
        var v6 = test.Respond("get_peers", new BDictionary().Set("info_hash", infoHash.ToArray()), NodeUnderTest.Address6(6));
        Assert.Equal(Compact.PeerV6, ((BString)Assert.Single(v6.Body.List("values")!.Items)).Value.Length);
    }

    [Fact]
    public void Ping_OverIpv6_AnswersWithThe18ByteIp()
    {
        var test = new NodeUnderTest();
        var before = test.Sent.Count;

        var answer = test.Respond("ping", new BDictionary(), Alice6);

        Assert.Equal(Alice6, answer.ObservedAddress);
        var raw = Latin1(test.Sent.Skip(before).Single(d => d.To.Equals(Alice6) && KrpcMessage.TryParse(d.Bytes, out _)?.Kind == KrpcKind.Response).Bytes);
        Assert.Contains("2:ip18:" + Latin1(Compact.EncodePeer(Alice6)), raw, StringComparison.Ordinal);
    }

    [Fact]
    public void Receive_ResponsesOverEachFamily_FillEachFamilysTable()
    {
        var test = new NodeUnderTest();
        var v4 = NodeId.Random();
        var v6 = NodeId.Random();

        Respond(test, Alice, v4, null);
        Respond(test, Alice6, v6, null);

        Assert.True(test.Node.Routing.Contains(v4));
        Assert.False(test.Node.Routing.Contains(v6));
        Assert.True(test.Node.Routing6.Contains(v6));
        Assert.False(test.Node.Routing6.Contains(v4));
        Assert.Equal(Alice6, Assert.Single(test.Node.Routing6.All).EndPoint);
        Assert.Equal(2, test.Node.NodeCount);
    }

    [Fact]
    public void Receive_Ipv4MappedSource_CountsAsIpv4()
    {
        var test = new NodeUnderTest();
        var id = NodeId.Random();

        Respond(test, new IPEndPoint(Alice.Address.MapToIPv6(), Alice.Port), id, null, expectQueryTo: Alice);

        Assert.Equal(Alice, Assert.Single(test.Node.Routing.All).EndPoint);
        Assert.Equal(0, test.Node.Routing6.Count);
    }

    [Fact]
    public void ObservedAddress6_TwoIpv6Voters_IsKeptBesideTheIpv4OneAndTheIdFollowsIpv4First()
    {
        var test = new NodeUnderTest();
        var seen6 = new IPEndPoint(IPAddress.Parse("2001:db8:5::7"), 7311);
        var seen4 = new IPEndPoint(IPAddress.Parse("198.51.100.7"), 7311);

        Respond(test, NodeUnderTest.Address6(1), NodeId.Random(), seen6);
        Assert.Null(test.Node.ObservedAddress6);
        Respond(test, NodeUnderTest.Address6(2), NodeId.Random(), seen6);

        // A node without IPv4 takes its BEP 42 ID from its IPv6 address.
        Assert.Equal(seen6, test.Node.ObservedAddress6);
        Assert.Null(test.Node.ObservedAddress);
        Assert.True(test.Node.Id.ConformsTo(seen6.Address));

        Respond(test, NodeUnderTest.Address(1), NodeId.Random(), seen4);
        Respond(test, NodeUnderTest.Address(2), NodeId.Random(), seen4);

        // With IPv4 too, the ID follows the IPv4 address (most nodes that check IDs meet it there).
        Assert.Equal(seen4, test.Node.ObservedAddress);
        Assert.Equal(seen6, test.Node.ObservedAddress6);
        Assert.True(test.Node.Id.ConformsTo(seen4.Address));
        Assert.Equal(test.Node.Id, test.Node.Routing6.Self);
        Assert.Equal(2, test.Node.IdChanges);
    }

    public static TheoryData<string, string> WrongIps => new()
    {
        // An IPv4 "ip" said over IPv6, an IPv6 one said over IPv4, an IPv4-mapped one, a multicast and an unspecified one.
        { "v6", "198.51.100.7:7311" },
        { "v4", "[2001:db8:5::7]:7311" },
        { "v4", "[::ffff:198.51.100.7]:7311" },
        { "v6", "[::ffff:198.51.100.7]:7311" },
        { "v6", "[ff02::1]:7311" },
        { "v6", "[::]:7311" },
        { "v4", "0.0.0.0:7311" },
    };

    [Theory]
    [MemberData(nameof(WrongIps))]
    public void ObservedAddress_IpOfTheWrongFamilyOrNoNodesAddress_IsNotCounted(string over, string claimed)
    {
        var test = new NodeUnderTest();
        var ip = IPEndPoint.Parse(claimed);
        var id = test.Node.Id;
        for (var i = 1; i <= 4; i++)
        {
            Respond(test, over == "v6" ? NodeUnderTest.Address6(i) : NodeUnderTest.Address(i), NodeId.Random(), ip);
        }

        Assert.Null(test.Node.ObservedAddress);
        Assert.Null(test.Node.ObservedAddress6);
        Assert.Equal(id, test.Node.Id);
    }

    public static TheoryData<string, string> HostileNodes6 => new()
    {
        { "ragged: 26-byte IPv4 entries in nodes6", "ragged" },
        { "an IPv4-mapped address in nodes6", "::ffff:203.0.113.5" },
        { "a multicast address", "ff0e::1" },
        { "a link-local address", "fe80::1" },
        { "the unspecified address", "::" },
        { "port 0", "port0" },
    };

    [Theory]
    [MemberData(nameof(HostileNodes6))]
    public async Task Lookup_HostileNodes6_IsDroppedAndTheLookupEnds(string why, string kind)
    {
        var test = new NodeUnderTest();
        var first = NodeId.Random();
        test.Node.Routing6.Responded(new NodeContact(first, Alice6), test.Time.GetUtcNow());
        var lookup = test.Node.FindNode(NodeId.Random());
        var (query, _) = Assert.Single(test.QueriesSent());
        byte[] nodes6 = kind switch
        {
            "ragged" => Compact.EncodeNodes([new NodeContact(NodeId.Random(), NodeUnderTest.Address(7)), new NodeContact(NodeId.Random(), NodeUnderTest.Address(8))], AddressFamily.InterNetwork),
            "port0" => [.. NodeId.Random().ToArray(), .. IPAddress.Parse("2001:db8::77").GetAddressBytes(), 0, 0],
            _ => [.. NodeId.Random().ToArray(), .. IPAddress.Parse(kind).GetAddressBytes(), 0x1a, 0xe1],
        };
        var before = test.Sent.Count;

        test.Node.Receive(Response(query.TransactionId, first, new BDictionary().Set("nodes6", nodes6)), Alice6);

        Assert.True(lookup.IsCompleted, why);
        Assert.Empty(test.QueriesSent(before));
        Assert.Equal(first, Assert.Single((await lookup).Closest).Contact.Id);
    }

    [Fact]
    public async Task Lookup_Ipv6NodesInAnIpv4OnlyNodesAnswer_AreNeverQueried()
    {
        var test = new NodeUnderTest(new DhtOptions { Families = DhtFamilies.IPv4 });
        var first = NodeId.Random();
        test.Node.Routing.Responded(new NodeContact(first, Alice), test.Time.GetUtcNow());
        var lookup = test.Node.FindNode(NodeId.Random());
        var (query, _) = Assert.Single(test.QueriesSent());
        var before = test.Sent.Count;

        var nodes6 = Compact.EncodeNodes([new NodeContact(NodeId.Random(), Doc6)], AddressFamily.InterNetworkV6);
        test.Node.Receive(Response(query.TransactionId, first, new BDictionary().Set("nodes6", nodes6)), Alice);

        Assert.True(lookup.IsCompleted);
        Assert.Empty(test.QueriesSent(before));
        Assert.Null(await test.Node.Ping(Doc6));
    }

    [Fact]
    public async Task Lookup_NodesOfTheOtherFamily_AreAskedInThatFamilysDht()
    {
        // A dual-stack node that knows only IPv4 nodes learns IPv6 ones from "nodes6" (it asked with want) and walks the IPv6 DHT too.
        var test = new NodeUnderTest();
        var first = NodeId.Random();
        test.Node.Routing.Responded(new NodeContact(first, Alice), test.Time.GetUtcNow());
        var lookup = test.Node.FindNode(NodeId.Random());
        var (query, _) = Assert.Single(test.QueriesSent());
        var before = test.Sent.Count;

        var nodes6 = Compact.EncodeNodes([new NodeContact(Abc, Doc6)], AddressFamily.InterNetworkV6);
        test.Node.Receive(Response(query.TransactionId, first, new BDictionary().Set("nodes", Array.Empty<byte>()).Set("nodes6", nodes6)), Alice);

        Assert.False(lookup.IsCompleted);
        var (asked, to) = Assert.Single(test.QueriesSent(before));
        Assert.Equal(Doc6, to);
        Assert.Equal("find_node", asked.Method);

        test.Node.Receive(Response(asked.TransactionId, Abc, new BDictionary()), Doc6);

        Assert.True(lookup.IsCompleted);
        Assert.Equal([Abc, first], (await lookup).Closest.Select(c => c.Contact.Id).OrderBy(id => id == first));
        Assert.True(test.Node.Routing6.Contains(Abc));
    }

    public static TheoryData<string> HostileWants => new() { "string", "integer", "dictionary", "list of integers", "nested lists", "three hundred entries" };

    [Theory]
    [MemberData(nameof(HostileWants))]
    public void FindNode_MalformedWant_IsAnsweredWithTheQueriersFamily(string kind)
    {
        var test = DualStackNodeWithBothTables();
        BValue want = kind switch
        {
            "string" => BString.Of("n6"),
            "integer" => new BInteger(6),
            "dictionary" => new BDictionary().Set("n6", 1),
            "list of integers" => new BList([new BInteger(4), new BInteger(6)]),
            "nested lists" => new BList([new BList([BString.Of("n6")])]),
            _ => new BList([.. Enumerable.Range(0, 300).Select(i => BString.Of("x" + i))]),
        };

        var answer = test.Respond("find_node", Target(NodeId.Random()).Set("want", want), Alice);

        Assert.NotNull(answer.Body.Bytes("nodes"));
        Assert.Null(answer.Body["nodes6"]);
    }

    [Fact]
    public void Receive_ArbitraryNodes6AndWant_NeverThrowsAndQueriesOnlyNodeAddresses()
    {
        var bytes = Gen.OneOf(Gen.Byte.Array[0, 200], Gen.Byte.Array[Compact.NodeV6].Array[1, 4].Select(entries => entries.SelectMany(e => e).ToArray()));
        Gen.Select(bytes, Gen.Byte.Array[0, 4].Array[0, 6]).Sample((nodes6, want) =>
        {
            var test = new NodeUnderTest();
            var first = NodeId.Random();
            test.Node.Routing6.Responded(new NodeContact(first, Alice6), test.Time.GetUtcNow());
            _ = test.Node.FindNode(NodeId.Random());
            var (query, _) = Assert.Single(test.QueriesSent());
            var before = test.Sent.Count;

            test.Node.Receive(Response(query.TransactionId, first, new BDictionary().Set("nodes6", nodes6)), Alice6);
            var answer = test.Query("find_node", Target(NodeId.Random()).Set("want", new BList([.. want.Select(w => new BString(w))])), Alice6);

            Assert.All(test.QueriesSent(before), q => Assert.True(Compact.IsNodeAddress(q.To.Address) && q.To.AddressFamily == AddressFamily.InterNetworkV6, $"queried {q.To}"));
            Assert.Equal(KrpcKind.Response, answer?.Kind);
        }, iter: 2000);
    }

    [Fact]
    public void RateLimiter_Ipv6_CountsOneBudgetPerSlash64()
    {
        var a = IPAddress.Parse("2001:db8:1:2:aaaa::1");
        var b = IPAddress.Parse("2001:db8:1:2:bbbb::2");

        Assert.Equal(RateLimiter.Source(a), RateLimiter.Source(b));
        Assert.NotEqual(RateLimiter.Source(a), RateLimiter.Source(IPAddress.Parse("2001:db8:1:3::1")));
        Assert.Equal(IPAddress.Parse("198.51.100.7"), RateLimiter.Source(IPAddress.Parse("::ffff:198.51.100.7")));
    }

    [Fact]
    public void Constructor_NoFamily_IsRefused() =>
        Assert.Throws<ArgumentException>(() => new DhtNode(NodeId.Random(), new DhtOptions { Families = DhtFamilies.None }, TimeProvider.System, (_, _) => { }));

    private static NodeUnderTest DualStackNodeWithBothTables()
    {
        var test = new NodeUnderTest();
        test.Node.Routing.Responded(new NodeContact(NodeId.Random(), NodeUnderTest.Address(9)), test.Time.GetUtcNow());
        test.Node.Routing6.Responded(new NodeContact(NodeId.Random(), NodeUnderTest.Address6(9)), test.Time.GetUtcNow());
        return test;
    }

    /// <summary>Has the node ping <paramref name="from"/> and answers as <paramref name="id"/>, saying it sees the node at <paramref name="observed"/>.</summary>
    private static void Respond(NodeUnderTest test, IPEndPoint from, NodeId id, IPEndPoint? observed, IPEndPoint? expectQueryTo = null)
    {
        var before = test.Sent.Count;
        _ = test.Node.Ping(expectQueryTo ?? from);
        var query = KrpcMessage.TryParse(test.Sent[before].Bytes, out _)!;
        var response = new BDictionary().Set("t", query.TransactionId).Set("y", "r").Set("r", new BDictionary().Set("id", id.ToArray()));
        if (observed is not null)
        {
            response.Set("ip", [.. observed.Address.GetAddressBytes(), (byte)(observed.Port >> 8), (byte)observed.Port]);
        }

        test.Node.Receive(response.Encode(), from);
    }

    private static byte[] Response(byte[] transaction, NodeId id, BDictionary values) =>
        new BDictionary().Set("t", transaction).Set("y", "r").Set("r", values.Set("id", id.ToArray())).Encode();

    private static BDictionary Target(NodeId target) => new BDictionary().Set("target", target.ToArray());

    private static BList Want(params string[] families) => new([.. families.Select(BString.Of)]);

    private static string Latin1(byte[] bytes) => Encoding.Latin1.GetString(bytes);
}
