using System.Net;
using System.Security.Cryptography;

namespace SecureChat.Dht.Tests;

/// <summary>
/// Iterative lookups over a small simulated DHT (40 nodes, virtual clock): BEP 44 items put by one
/// node are found by another, the highest sequence number wins, announced peers are found,
/// read-only nodes stay out of everyone's table, and lookups end when nobody answers.
/// </summary>
public sealed class LookupTests
{
    private const int Size = 40;
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(2);

    [Fact]
    public void FindNode_IdOfALiveNode_FindsItFirst()
    {
        var (network, nodes) = Swarm(seed: 11);

        var result = network.RunUntil(nodes[7].FindNode(nodes[33].Id), Limit);

        Assert.Equal(nodes[33].Id, result.Closest[0].Contact.Id);
        Assert.Equal(network.EndPointOf(nodes[33]), result.Closest[0].Contact.EndPoint);
        Assert.Equal(nodes[7].Options.BucketSize, result.Closest.Count);
    }

    [Fact]
    public void PutImmutable_GetFromAnotherNode_ReturnsTheValue()
    {
        var (network, nodes) = Swarm(seed: 12);
        var item = DhtItem.Immutable("d4:textl5:hello5:worldee"u8.ToArray())!;

        var stored = network.RunUntil(nodes[3].Put(item), Limit);
        var found = network.RunUntil(nodes[25].GetImmutable(item.Target), Limit);

        Assert.Equal(item.Target, stored.Target);
        Assert.True(stored.Accepted >= 4, $"accepted by {stored.Accepted} of {stored.Asked}: {string.Join("; ", stored.Errors)}");
        Assert.Equal(item.Value, found.Item?.Value);
    }

    [Fact]
    public void GetImmutable_NothingStored_ReturnsNoItem()
    {
        var (network, nodes) = Swarm(seed: 13);

        var found = network.RunUntil(nodes[1].GetImmutable(NodeId.Sha1("5:ghost"u8)), Limit);

        Assert.Null(found.Item);
        Assert.NotEmpty(found.Closest);
    }

    [Fact]
    public void PutMutableWithSalt_GetFromAnotherNode_ReturnsTheVerifiedItem()
    {
        var (network, nodes) = Swarm(seed: 14);
        var seed = RandomNumberGenerator.GetBytes(32);
        var item = DhtItem.Sign(seed, "d4:addr9:127.0.0.1e"u8.ToArray(), "rendezvous"u8.ToArray(), 1);

        var stored = network.RunUntil(nodes[9].Put(item), Limit);
        var found = network.RunUntil(nodes[30].GetMutable(item.PublicKey!, "rendezvous"u8.ToArray()), Limit);

        Assert.True(stored.Accepted >= 4, $"accepted by {stored.Accepted} of {stored.Asked}");
        Assert.NotNull(found.Item);
        Assert.Equal(item.Value, found.Item.Value);
        Assert.Equal(item.Signature, found.Item.Signature);
        Assert.Equal(1, found.Item.Sequence);
    }

    [Fact]
    public void GetMutable_WrongSalt_FindsNothing()
    {
        var (network, nodes) = Swarm(seed: 15);
        var item = DhtItem.Sign(RandomNumberGenerator.GetBytes(32), "1:x"u8.ToArray(), "a"u8.ToArray(), 1);
        network.RunUntil(nodes[2].Put(item), Limit);

        var found = network.RunUntil(nodes[20].GetMutable(item.PublicKey!, "b"u8.ToArray()), Limit);

        Assert.Null(found.Item);
    }

    [Fact]
    public void PutMutable_NewerSequence_ReplacesTheOlderAndAStaleReplayIsRefused()
    {
        var (network, nodes) = Swarm(seed: 16);
        var seed = RandomNumberGenerator.GetBytes(32);
        var older = DhtItem.Sign(seed, "5:older"u8.ToArray(), [], 1);
        var newer = DhtItem.Sign(seed, "5:newer"u8.ToArray(), [], 2);

        network.RunUntil(nodes[4].Put(older), Limit);
        network.RunUntil(nodes[18].Put(newer), Limit);
        var holders = nodes.Where(n => n.Storage.Item(newer.Target, network.Time.GetUtcNow())?.Sequence == 2).ToList();
        var replay = network.RunUntil(nodes[27].Put(older), Limit);
        var found = network.RunUntil(nodes[35].GetMutable(newer.PublicKey!, []), Limit);

        // Nodes that never held the item may take the old version as new; none that held the newer one goes back.
        Assert.NotEmpty(holders);
        Assert.All(holders, n => Assert.Equal(2, n.Storage.Item(newer.Target, network.Time.GetUtcNow())?.Sequence));
        Assert.Contains(replay.Errors, e => e.Contains($"{KrpcErrorCode.SequenceTooLow}", StringComparison.Ordinal));
        Assert.Equal(newer.Value, found.Item?.Value);
    }

    [Fact]
    public void GetMutable_SomeNodesHoldANewerSequence_ReturnsTheNewest()
    {
        var (network, nodes) = Swarm(seed: 17);
        var seed = RandomNumberGenerator.GetBytes(32);
        var older = DhtItem.Sign(seed, "5:older"u8.ToArray(), [], 1);
        var newer = DhtItem.Sign(seed, "5:newer"u8.ToArray(), [], 2);
        network.RunUntil(nodes[4].Put(older), Limit);
        var now = network.Time.GetUtcNow();
        var holders = nodes.Where(n => n.Storage.Item(older.Target, now) is not null)
            .OrderBy(n => n.Id, Comparer<NodeId>.Create(older.Target.CompareDistance)).ToList();
        Assert.True(holders.Count >= 2, $"{holders.Count} holders");

        // Every holder but the closest hears of the update; the closest still answers with the old
        // one. (Node IDs are random per run, so which holders a lookup reaches first varies.)
        Assert.All(holders.Skip(1), h => Assert.Equal(0, h.Storage.Store(newer, null, now)));
        var reader = nodes.First(n => !holders.Contains(n));
        var found = network.RunUntil(reader.GetMutable(newer.PublicKey!, []), Limit);

        Assert.Equal(2, found.Item?.Sequence);
        Assert.Equal(newer.Value, found.Item?.Value);
    }

    [Fact]
    public void Announce_ThenGetPeersFromAnotherNode_FindsThePeer()
    {
        var (network, nodes) = Swarm(seed: 18);
        var infoHash = NodeId.Random();

        var announced = network.RunUntil(nodes[5].Announce(infoHash, 7000), Limit);
        var found = network.RunUntil(nodes[31].GetPeers(infoHash), Limit);

        Assert.True(announced.Accepted >= 4, $"accepted by {announced.Accepted} of {announced.Asked}");
        Assert.Contains(new IPEndPoint(network.EndPointOf(nodes[5]).Address, 7000), found.Peers);
    }

    [Fact]
    public void Announce_ImpliedPort_IsFoundAtTheSourcePort()
    {
        var (network, nodes) = Swarm(seed: 19);
        var infoHash = NodeId.Random();

        network.RunUntil(nodes[6].Announce(infoHash, 0), Limit);
        var found = network.RunUntil(nodes[32].GetPeers(infoHash), Limit);

        Assert.Equal([network.EndPointOf(nodes[6])], found.Peers);
    }

    [Fact]
    public void ReadOnlyNode_LooksUpAndStoresButAnswersNothingAndIsInNoTable()
    {
        var (network, nodes) = Swarm(seed: 20);
        var readOnly = network.Add(SimulatedNetwork.Address(500), new DhtOptions { ReadOnly = true });
        network.RunUntil(readOnly.Bootstrap([network.EndPointOf(nodes[0])]), Limit);
        var item = DhtItem.Immutable("9:read-only"u8.ToArray())!;

        var stored = network.RunUntil(readOnly.Put(item), Limit);
        var peer = network.RunUntil(nodes[10].FindNode(readOnly.Id), Limit);
        network.Inject(readOnly, KrpcMessage.Query([1, 2], "ping", new BDictionary().Set("id", nodes[1].Id.ToArray()), false), network.EndPointOf(nodes[1]));
        network.Run(TimeSpan.FromSeconds(30));

        Assert.True(stored.Accepted >= 4);
        Assert.NotEqual(0, readOnly.Routing.Count);
        Assert.All(nodes, n => Assert.False(n.Routing.Contains(readOnly.Id)));
        Assert.DoesNotContain(readOnly.Id, peer.Closest.Select(c => c.Contact.Id));
        Assert.Equal(0, readOnly.Counters.QueriesAnswered + readOnly.Counters.ErrorsSent);
        Assert.Equal(item.Value, network.RunUntil(nodes[20].GetImmutable(item.Target), Limit).Item?.Value);
    }

    [Fact]
    public void FindNode_EveryOtherNodeDown_EndsWithinTheLookupTimeout()
    {
        var (network, nodes) = Swarm(seed: 21);
        var alone = nodes[12];
        Assert.NotEqual(0, alone.Routing.Count);
        foreach (var node in nodes.Where(n => n != alone))
        {
            network.TakeDown(node);
        }

        var started = network.Time.GetUtcNow();
        var result = network.RunUntil(alone.FindNode(NodeId.Random()), Limit);
        var elapsed = network.Time.GetUtcNow() - started;

        Assert.Empty(result.Closest);
        Assert.True(elapsed < alone.Options.LookupTimeout, $"took {elapsed}");
        Assert.True(alone.Counters.Timeouts > 0);
    }

    [Fact]
    public void PutAndGet_EveryOtherNodeDown_EndWithNothing()
    {
        var (network, nodes) = Swarm(seed: 22);
        var alone = nodes[12];
        foreach (var node in nodes.Where(n => n != alone))
        {
            network.TakeDown(node);
        }

        var item = DhtItem.Immutable("1:x"u8.ToArray())!;
        var stored = network.RunUntil(alone.Put(item), Limit);
        var found = network.RunUntil(alone.GetImmutable(item.Target), Limit);

        Assert.Equal(0, stored.Accepted);
        Assert.NotEmpty(stored.Errors);
        Assert.Null(found.Item);
    }

    [Fact]
    public async Task Lookup_CandidatesFullOfDeadNodes_StillQueriesACloserNodeLearnedLater()
    {
        // Two seeds name 7 dead nodes each (the candidate list is then full); the farthest of them
        // answers, late, with the node closest to the target. Dead nodes must not crowd it out.
        var test = new NodeUnderTest(new DhtOptions { LookupCandidates = 16 });
        var target = test.Node.Id;
        var seeds = new[] { NodeUnderTest.Address(1), NodeUnderTest.Address(2) };
        var dead = Enumerable.Range(0, 14).Select(i => new NodeContact(target.RandomWithPrefix(20 + i), NodeUnderTest.Address(100 + i))).ToList();
        var farthest = dead[0];
        var closest = new NodeContact(target.RandomWithPrefix(100), NodeUnderTest.Address(200));
        var asked = new HashSet<IPEndPoint>();
        var read = 0;
        var lookup = test.Node.Bootstrap(seeds);
        for (var step = 0; step < 400 && !lookup.IsCompleted; step++)
        {
            // Answering a query may make the node send others at once: read until it has sent nothing new.
            while (read < test.Sent.Count)
            {
                var since = read;
                read = test.Sent.Count;
                foreach (var (query, to) in test.QueriesSent(since).Where(q => q.Query.Method == "find_node"))
                {
                    asked.Add(to);
                    if (Array.IndexOf(seeds, to) is var seed and >= 0)
                    {
                        AnswerQuery(test, query, to, NodeId.Random(), dead.Where((_, i) => i % 2 == seed));
                    }
                    else if (to.Equals(farthest.EndPoint))
                    {
                        AnswerQuery(test, query, to, farthest.Id, [closest]);
                    }
                    else if (to.Equals(closest.EndPoint))
                    {
                        AnswerQuery(test, query, to, closest.Id, []);
                    }
                }
            }

            test.Advance(TimeSpan.FromMilliseconds(100));
            test.Node.Tick();
        }

        Assert.True(lookup.IsCompleted);
        Assert.Contains(farthest.EndPoint, asked);
        Assert.Contains(closest.EndPoint, asked);
        Assert.Equal(closest.Id, (await lookup).Closest[0].Contact.Id);
    }

    private static void AnswerQuery(NodeUnderTest test, KrpcMessage query, IPEndPoint from, NodeId id, IEnumerable<NodeContact> nodes)
    {
        var body = new BDictionary().Set("id", id.ToArray()).Set("nodes", Compact.EncodeNodes(nodes, System.Net.Sockets.AddressFamily.InterNetwork));
        test.Node.Receive(new BDictionary().Set("t", query.TransactionId).Set("y", "r").Set("r", body).Encode(), from);
    }

    private static (SimulatedNetwork Network, List<DhtNode> Nodes) Swarm(int seed)
    {
        var network = new SimulatedNetwork(seed);
        var nodes = Enumerable.Range(0, Size).Select(i => network.Add(SimulatedNetwork.Address(i))).ToList();
        var introducer = network.EndPointOf(nodes[0]);
        foreach (var node in nodes.Skip(1))
        {
            network.RunUntil(node.Bootstrap([introducer]), Limit);
        }

        network.Run(TimeSpan.FromSeconds(10));
        return (network, nodes);
    }
}
