using System.Net;

namespace SecureChat.Dht.Tests;

/// <summary>
/// BEP 43 when unreachable: a node that no one contacts unasked goes read-only after
/// <see cref="DhtOptions.UnreachableAfter"/>, probes again after <see cref="DhtOptions.ReachabilityProbe"/>,
/// and stays a full node while strangers query it. Also BEP 42: one voter cannot set the observed address.
/// </summary>
public sealed class ReachabilityTests
{
    private static readonly DhtOptions Options = new() { UnreachableAfter = TimeSpan.FromMinutes(10), ReachabilityProbe = TimeSpan.FromMinutes(30) };

    [Fact]
    public void Tick_NoUnsolicitedQueryForTheWholeWait_GoesReadOnlyThenProbesAgain()
    {
        var test = new NodeUnderTest(Options);
        Join(test);
        Advance(test, TimeSpan.FromMinutes(9));
        Assert.False(test.Node.ReadOnly);

        Advance(test, TimeSpan.FromMinutes(2));
        Assert.True(test.Node.ReadOnly);

        // Read-only: it answers nothing and marks its own queries "ro".
        Assert.Null(test.Query("ping", new BDictionary(), NodeUnderTest.Address(77)));
        _ = test.Node.Ping(NodeUnderTest.Address(78));
        var query = KrpcMessage.TryParse(test.Sent[^1].Bytes, out _);
        Assert.True(query is { Kind: KrpcKind.Query, ReadOnly: true });

        // After the probe interval it answers again, to find out whether it became reachable.
        Advance(test, TimeSpan.FromMinutes(31));
        Assert.False(test.Node.ReadOnly);
        Assert.NotNull(test.Query("ping", new BDictionary(), NodeUnderTest.Address(79)));
    }

    [Fact]
    public void Tick_StrangersKeepQuerying_StaysAFullNode()
    {
        var test = new NodeUnderTest(Options);
        Join(test);
        for (var minute = 0; minute < 30; minute++)
        {
            Advance(test, TimeSpan.FromMinutes(1));
            var stranger = new BDictionary().Set("id", NodeId.Random().ToArray());
            Assert.NotNull(test.Query("ping", stranger, NodeUnderTest.Address(100 + minute)));
        }

        Assert.False(test.Node.ReadOnly);
    }

    [Fact]
    public void Tick_ForcedReadOnly_NeverAnswers()
    {
        var test = new NodeUnderTest(new DhtOptions { ReadOnly = true, UnreachableAfter = TimeSpan.FromMinutes(1), ReachabilityProbe = TimeSpan.FromMinutes(1) });
        Join(test);
        Advance(test, TimeSpan.FromMinutes(5));
        Assert.True(test.Node.ReadOnly);
        Assert.Null(test.Query("ping", new BDictionary(), NodeUnderTest.Address(5)));
    }

    [Fact]
    public void ObservedAddress_OneVoterRepeating_IsNotEnough()
    {
        var test = new NodeUnderTest();
        var claimed = new IPEndPoint(IPAddress.Parse("203.0.113.9"), 4242);
        for (var i = 0; i < 5; i++)
        {
            RespondToLastQuery(test, NodeUnderTest.Address(1), claimed, () => test.Node.Ping(NodeUnderTest.Address(1)));
        }

        Assert.Null(test.Node.ObservedAddress);
        RespondToLastQuery(test, NodeUnderTest.Address(2), claimed, () => test.Node.Ping(NodeUnderTest.Address(2)));
        Assert.Equal(claimed, test.Node.ObservedAddress);
    }

    [Fact]
    public void ObservedAddress_NodeMovesAfterManyVotes_FollowsTheNewAddress()
    {
        // A long-running node whose public address changes (a new DHCP lease, a laptop on another network).
        var test = new NodeUnderTest();
        var before = new IPEndPoint(IPAddress.Parse("203.0.113.9"), 6881);
        var after = new IPEndPoint(IPAddress.Parse("198.51.100.20"), 6881);
        for (var i = 1; i <= 100; i++)
        {
            var voter = NodeUnderTest.Address(i);
            RespondToLastQuery(test, voter, before, () => test.Node.Ping(voter));
        }

        Assert.Equal(before, test.Node.ObservedAddress);

        // The same nodes, asked again, now see it at the new address.
        for (var i = 1; i <= 100; i++)
        {
            var voter = NodeUnderTest.Address(i);
            RespondToLastQuery(test, voter, after, () => test.Node.Ping(voter));
        }

        Assert.Equal(after, test.Node.ObservedAddress);
    }

    [Fact]
    public void Receive_ObservedAddressMoves_TakesAFreshBep42IdEachTimeAndKeepsItsNodes()
    {
        var test = new NodeUnderTest();
        var started = test.Node.Id;
        var before = new IPEndPoint(IPAddress.Parse("203.0.113.9"), 6881);
        var after = new IPEndPoint(IPAddress.Parse("198.51.100.20"), 6881);
        for (var i = 1; i <= 40; i++)
        {
            var voter = NodeUnderTest.Address(i);
            RespondToLastQuery(test, voter, before, () => test.Node.Ping(voter));
        }

        // The first address learned gives an ID derived from it, not the random one it started with.
        var atBefore = test.Node.Id;
        Assert.NotEqual(started, atBefore);
        Assert.True(atBefore.ConformsTo(before.Address));
        Assert.Equal(1, test.Node.IdChanges);
        Assert.Equal(atBefore, test.Node.Routing.Self);
        var known = test.Node.Routing.Count;

        // More votes for the same address keep the ID; a port change under the same IP too.
        RespondToLastQuery(test, NodeUnderTest.Address(41), new IPEndPoint(before.Address, 5000), () => test.Node.Ping(NodeUnderTest.Address(41)));
        Assert.Equal(atBefore, test.Node.Id);

        for (var i = 1; i <= 40; i++)
        {
            var voter = NodeUnderTest.Address(i);
            RespondToLastQuery(test, voter, after, () => test.Node.Ping(voter));
        }

        var atAfter = test.Node.Id;
        Assert.NotEqual(atBefore, atAfter);
        Assert.True(atAfter.ConformsTo(after.Address));
        Assert.Equal(2, test.Node.IdChanges);
        Assert.True(test.Node.Routing.Count >= Math.Min(known, 8), $"{test.Node.Routing.Count} nodes kept of {known}");

        // At the next tick it looks its new ID up, so the nodes closest to it meet it under that ID.
        var sentBefore = test.Sent.Count;
        test.Node.Tick();
        var lookups = test.Sent.Skip(sentBefore).Select(d => KrpcMessage.TryParse(d.Bytes, out _)!).Where(m => m.Method == "find_node").ToList();
        Assert.Contains(lookups, m => m.Body.Bytes("target")!.AsSpan().SequenceEqual(atAfter.ToArray()));

        // Its queries and answers now carry the new ID.
        _ = test.Node.Ping(NodeUnderTest.Address(300));
        var query = KrpcMessage.TryParse(test.Sent[^1].Bytes, out _)!;
        Assert.Equal(atAfter, query.SenderId);
    }

    /// <summary>Puts one node in the table: the node pings it and it answers.</summary>
    private static void Join(NodeUnderTest test) =>
        RespondToLastQuery(test, NodeUnderTest.Address(1), null, () => test.Node.Ping(NodeUnderTest.Address(1)));

    private static void RespondToLastQuery(NodeUnderTest test, IPEndPoint from, IPEndPoint? observed, Func<Task> send)
    {
        var before = test.Sent.Count;
        _ = send();
        var query = KrpcMessage.TryParse(test.Sent[before].Bytes, out _)!;
        var response = new BDictionary().Set("t", query.TransactionId).Set("y", "r").Set("r", new BDictionary().Set("id", NodeId.Random().ToArray()));
        if (observed is not null)
        {
            response.Set("ip", Compact.EncodePeer(observed));
        }

        test.Node.Receive(response.Encode(), from);
        Assert.True(test.Node.Routing.Count > 0);
    }

    private static void Advance(NodeUnderTest test, TimeSpan by)
    {
        // Maintenance runs at most every 5 s: step through the time so it runs.
        for (var elapsed = TimeSpan.Zero; elapsed < by; elapsed += TimeSpan.FromSeconds(5))
        {
            test.Time.Advance(TimeSpan.FromSeconds(5));
            test.Node.Tick();
        }
    }
}
