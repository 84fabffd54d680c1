using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace SecureChat.Dht.Tests;

/// <summary>
/// Puts that store early: while a put's get walk runs, each node that answers with a token while
/// among the k closest answered so far gets the put at once, so that the item can be found before
/// the walk has waited out dead nodes; the early puts are bounded, each node is asked once, and the
/// result counts every acknowledgement once.
/// </summary>
public sealed class EarlyStoreTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(2);

    [Theory]
    [InlineData(41)]
    [InlineData(43)]
    [InlineData(47)]
    public async Task Put_SeveralClosestNodesDown_IsFoundWithFirstItemBeforeThePutCompletes(int seed)
    {
        var network = new SimulatedNetwork(seed);
        var nodes = Enumerable.Range(0, 40).Select(i => network.Add(SimulatedNetwork.Address(i))).ToList();
        foreach (var node in nodes.Skip(1))
        {
            network.RunUntil(node.Bootstrap([network.EndPointOf(nodes[0])]), Limit);
        }

        network.Run(TimeSpan.FromSeconds(10));
        var item = DhtItem.Sign(RandomNumberGenerator.GetBytes(32), "d4:addr9:127.0.0.1e"u8.ToArray(), "rendezvous"u8.ToArray(), 1);
        var byDistance = nodes.OrderBy(n => n.Id, Comparer<NodeId>.Create(item.Target.CompareDistance)).ToList();

        // Four of the eight closest nodes are down, still in everyone's table: a walk toward the
        // target waits out their queries' timeout before it can end.
        foreach (var down in byDistance.Take(8).Where((_, i) => i % 2 == 0))
        {
            network.TakeDown(down);
        }

        var (putter, reader, closestLive) = (byDistance[^1], byDistance[^2], byDistance.First(network.IsUp));
        var started = network.Time.GetUtcNow();
        var put = putter.Put(item);
        Task<LookupResult>? get = null;
        var getStartedAfter = TimeSpan.Zero;
        for (var step = 0; step < 1000 && get is not { IsCompleted: true }; step++)
        {
            network.Run(TimeSpan.FromMilliseconds(20));
            // A contact looks the item up once the closest live node holds it: a lookup started
            // earlier (while the putter's walk is still on its way) could pass that node first.
            if (get is null && closestLive.Storage.Item(item.Target, network.Time.GetUtcNow()) is not null)
            {
                get = reader.GetMutable(item.PublicKey!, item.Salt, firstItem: true);
                getStartedAfter = network.Time.GetUtcNow() - started;
            }
        }

        var foundAfter = network.Time.GetUtcNow() - started;
        var putDoneWhenFound = put.IsCompleted;
        var walkRunningWhenFound = putter.ActiveLookups > 0;
        var stored = network.RunUntil(put, Limit);
        var putTook = network.Time.GetUtcNow() - started;
        var holders = nodes.Count(n => n.Storage.Item(item.Target, network.Time.GetUtcNow()) is not null);

        Assert.NotNull(get);
        Assert.True(get.IsCompleted);
        Assert.Equal(item.Value, (await get).Item?.Value);
        Assert.False(putDoneWhenFound, $"the put ended ({putTook}) before the item was found ({foundAfter})");
        Assert.True(walkRunningWhenFound, $"the put's walk had ended when the item was found ({foundAfter})");
        Assert.True(foundAfter < putter.Options.QueryTimeout, $"found after {foundAfter}, looked for after {getStartedAfter}, {(await get).Queries} queries, item {(await get).Item is not null}");
        Assert.True(putTook >= putter.Options.QueryTimeout, $"the put's walk did not wait for the dead nodes: {putTook}");

        // Every node that acknowledged holds the item, and none is counted twice.
        Assert.True(stored.Accepted >= 4, $"accepted by {stored.Accepted} of {stored.Asked}: {string.Join("; ", stored.Errors)}");
        Assert.Equal(holders, stored.Accepted);
    }

    [Fact]
    public async Task Put_WalkThroughAChainOfEverCloserNodes_SendsABoundedNumberOfPutsEachNodeOnceAndCountsEveryAcknowledgementOnce()
    {
        // Every node answers with a token and names four nodes closer than itself, sixty deep: each
        // answer is the closest so far. One early put is refused (a cas mismatch), as a final one may be.
        var test = new NodeUnderTest(new DhtOptions { Families = DhtFamilies.IPv4 });
        var k = test.Node.Options.BucketSize;
        var item = DhtItem.Sign(RandomNumberGenerator.GetBytes(32), "5:value"u8.ToArray(), [], 2);
        var chain = Enumerable.Range(0, 60).Select(i => new NodeContact(item.Target.RandomWithPrefix(i + 1), NodeUnderTest.Address(100 + i))).ToList();
        var seed = new NodeContact(NodeId.Random(), NodeUnderTest.Address(1));
        var bootstrap = test.Node.Bootstrap([seed.EndPoint]);
        var puts = new List<(IPEndPoint To, bool Early, long? Cas)>();
        var read = 0;
        Task<StoreResult>? put = null;
        for (var step = 0; step < 600 && put is not { IsCompleted: true }; step++)
        {
            if (put is null && bootstrap.IsCompleted)
            {
                put = test.Node.Put(item, compareAndSwap: 1);
            }

            // Answering a query may make the node send others at once: read until it has sent nothing new.
            while (read < test.Sent.Count)
            {
                var since = read;
                read = test.Sent.Count;
                foreach (var (query, to) in test.QueriesSent(since))
                {
                    var from = to.Equals(seed.EndPoint) ? seed : chain.Find(c => c.EndPoint.Equals(to))!;
                    var index = chain.IndexOf(from);
                    switch (query.Method)
                    {
                        case "find_node":
                            Respond(test, query, from, new BDictionary());
                            break;
                        case "get":
                            var named = chain.Skip(index + 1).Take(4);
                            Respond(test, query, from, new BDictionary().Set("token", RandomNumberGenerator.GetBytes(8))
                                .Set("nodes", Compact.EncodeNodes(named, AddressFamily.InterNetwork)));
                            break;
                        case "put":
                            puts.Add((to, test.Node.ActiveLookups > 0, query.Body.Integer("cas")));
                            if (index == 1)
                            {
                                test.Node.Receive(KrpcMessage.Error(query.TransactionId, KrpcErrorCode.CasMismatch, "cas mismatch"), to);
                            }
                            else
                            {
                                Respond(test, query, from, new BDictionary());
                            }

                            break;
                    }
                }
            }

            test.Advance(TimeSpan.FromMilliseconds(100));
            test.Node.Tick();
        }

        Assert.NotNull(put);
        Assert.True(put.IsCompleted);
        var result = await put;
        var early = puts.Count(p => p.Early);

        Assert.Equal(2 * k, early);
        Assert.InRange(puts.Count, early + 1, 3 * k);
        Assert.Equal(puts.Count, puts.Select(p => p.To).Distinct().Count());
        Assert.All(puts, p => Assert.Equal(1, p.Cas));
        Assert.Contains(chain[1].EndPoint, puts.Where(p => p.Early).Select(p => p.To));
        Assert.Contains(chain[^1].EndPoint, puts.Select(p => p.To));
        Assert.Equal(puts.Count, result.Asked);
        Assert.Equal(puts.Count - 1, result.Accepted);
        Assert.Contains(result.Errors, e => e.Contains($"{chain[1].EndPoint}: {KrpcErrorCode.CasMismatch}", StringComparison.Ordinal));
    }

    [Fact]
    public void Announce_SeveralClosestNodesDown_IsFoundBeforeTheAnnounceCompletes()
    {
        var network = new SimulatedNetwork(seed: 42);
        var nodes = Enumerable.Range(0, 40).Select(i => network.Add(SimulatedNetwork.Address(i))).ToList();
        foreach (var node in nodes.Skip(1))
        {
            network.RunUntil(node.Bootstrap([network.EndPointOf(nodes[0])]), Limit);
        }

        network.Run(TimeSpan.FromSeconds(10));
        var infoHash = NodeId.Sha1("8:swarm-id"u8);
        var byDistance = nodes.OrderBy(n => n.Id, Comparer<NodeId>.Create(infoHash.CompareDistance)).ToList();
        foreach (var down in byDistance.Take(8).Where((_, i) => i % 2 == 0))
        {
            network.TakeDown(down);
        }

        var announcer = byDistance[^1];
        var started = network.Time.GetUtcNow();
        var announce = announcer.Announce(infoHash, 7000);
        for (var step = 0; step < 1000 && !announce.IsCompleted && !nodes.Any(n => n.Storage.Peers(infoHash, 1, network.Time.GetUtcNow()).Count > 0); step++)
        {
            network.Run(TimeSpan.FromMilliseconds(20));
        }

        var storedAfter = network.Time.GetUtcNow() - started;
        Assert.False(announce.IsCompleted);
        Assert.True(storedAfter < announcer.Options.QueryTimeout, $"first stored after {storedAfter}");
        var announced = network.RunUntil(announce, Limit);
        Assert.True(announced.Accepted >= 4, $"accepted by {announced.Accepted} of {announced.Asked}");
    }

    private static void Respond(NodeUnderTest test, KrpcMessage query, NodeContact from, BDictionary body) =>
        test.Node.Receive(new BDictionary().Set("t", query.TransactionId).Set("y", "r").Set("r", body.Set("id", from.Id.ToArray())).Encode(), from.EndPoint);
}
