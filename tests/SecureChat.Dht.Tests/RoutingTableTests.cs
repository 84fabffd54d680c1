using System.Net;

namespace SecureChat.Dht.Tests;

/// <summary>
/// BEP 5's routing table: k nodes per bucket, bad nodes (two failures in a row) replaced by the
/// newest replacement, no node taking over a good entry's ID from a new address, closest nodes by
/// XOR distance, and the stale buckets and questionable nodes the maintenance loop acts on.
/// </summary>
public sealed class RoutingTableTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 24, 0, 0, 0, TimeSpan.Zero);
    private static readonly NodeId Self = NodeId.FromBytes(Convert.FromHexString("00112233445566778899aabbccddeeff00112233"));

    [Fact]
    public void Responded_MoreThanKInOneBucket_KeepsKAndRefusesTheRest()
    {
        var table = new RoutingTable(Self, bucketSize: 8);
        var added = Enumerable.Range(0, 20).Count(i => table.Responded(Contact(Self.RandomWithPrefix(0), i), Start));

        Assert.Equal(8, added);
        Assert.Equal(8, table.Count);
    }

    [Fact]
    public void Responded_DifferentBuckets_EachHoldK()
    {
        var table = new RoutingTable(Self, bucketSize: 4);
        var index = 0;
        for (var prefix = 0; prefix < 10; prefix++)
        {
            for (var i = 0; i < 6; i++)
            {
                table.Responded(Contact(Self.RandomWithPrefix(prefix), index++), Start);
            }
        }

        Assert.Equal(40, table.Count);
        Assert.All(table.All.GroupBy(e => Self.CommonPrefixLength(e.Id)), bucket => Assert.Equal(4, bucket.Count()));
    }

    [Fact]
    public void Responded_Self_IsNeverAdded()
    {
        var table = new RoutingTable(Self);

        Assert.False(table.Responded(Contact(Self, 1), Start));
        Assert.False(table.HasRoomFor(Self));
        Assert.Equal(0, table.Count);
        Assert.DoesNotContain(Self, table.Closest(Self, 8).Select(c => c.Id));
    }

    [Fact]
    public void Responded_KnownIdFromNewEndpoint_DoesNotHijackAGoodEntry()
    {
        var table = new RoutingTable(Self);
        var id = Self.RandomWithPrefix(3);
        table.Responded(Contact(id, 1), Start);

        Assert.False(table.Responded(Contact(id, 2), Start.AddMinutes(1)));

        Assert.Equal(Endpoint(1), Assert.Single(table.All).EndPoint);
        Assert.Equal(Start, Assert.Single(table.All).LastResponse);
    }

    [Fact]
    public void Responded_KnownIdFromNewEndpointAfterItWentBad_TakesItsPlace()
    {
        var table = new RoutingTable(Self);
        var id = Self.RandomWithPrefix(3);
        table.Responded(Contact(id, 1), Start);
        table.Failed(id);
        table.Failed(id);

        Assert.True(table.Responded(Contact(id, 2), Start.AddMinutes(1)));

        Assert.Equal(Endpoint(2), Assert.Single(table.All).EndPoint);
    }

    [Fact]
    public void Responded_KnownNode_RefreshesItAndClearsFailures()
    {
        var table = new RoutingTable(Self);
        var id = Self.RandomWithPrefix(0);
        table.Responded(Contact(id, 1), Start);
        table.Failed(id);

        Assert.True(table.Responded(Contact(id, 1), Start.AddMinutes(5)));

        var entry = Assert.Single(table.All);
        Assert.Equal(0, entry.Failures);
        Assert.Equal(Start.AddMinutes(5), entry.LastResponse);
    }

    [Fact]
    public void Failed_TwiceWithAReplacementWaiting_ReplacesTheBadNode()
    {
        var table = new RoutingTable(Self, bucketSize: 8);
        var members = Fill(table, prefix: 0, count: 8);
        var replacement = Self.RandomWithPrefix(0);
        Assert.False(table.Responded(Contact(replacement, 99), Start));
        Assert.False(table.Contains(replacement));

        table.Failed(members[3]);
        Assert.True(table.Contains(members[3]));

        table.Failed(members[3]);
        Assert.False(table.Contains(members[3]));
        Assert.True(table.Contains(replacement));
        Assert.Equal(8, table.Count);
    }

    [Fact]
    public void Failed_TwiceWithNoReplacement_KeepsTheNodeOutOfClosestUntilSomeoneTakesItsPlace()
    {
        var table = new RoutingTable(Self, bucketSize: 8);
        var members = Fill(table, prefix: 0, count: 8);
        table.Failed(members[0]);
        table.Failed(members[0]);

        Assert.True(table.Contains(members[0]));
        Assert.True(table.All.Single(e => e.Id == members[0]).IsBad);
        Assert.DoesNotContain(members[0], table.Closest(members[0], 16).Select(c => c.Id));

        var newcomer = Self.RandomWithPrefix(0);
        Assert.True(table.HasRoomFor(newcomer));
        Assert.True(table.Responded(Contact(newcomer, 50), Start));
        Assert.False(table.Contains(members[0]));
        Assert.Equal(8, table.Count);
    }

    [Fact]
    public void Failed_ManyReplacements_PromotesTheNewestAndKeepsAtMostK()
    {
        var table = new RoutingTable(Self, bucketSize: 4);
        var members = Fill(table, prefix: 0, count: 4);
        var replacements = Enumerable.Range(0, 10).Select(_ => Self.RandomWithPrefix(0)).ToList();
        for (var i = 0; i < replacements.Count; i++)
        {
            table.Responded(Contact(replacements[i], 100 + i), Start);
        }

        foreach (var member in members)
        {
            table.Failed(member);
            table.Failed(member);
        }

        // Only the k newest replacements were kept; each bad node gave way to the newest left.
        Assert.Equal(replacements[^4..].Order(), table.All.Select(e => e.Id).Order());
    }

    [Fact]
    public void Failed_Replacement_IsForgottenRatherThanPromoted()
    {
        var table = new RoutingTable(Self, bucketSize: 2);
        var members = Fill(table, prefix: 0, count: 2);
        var replacement = Self.RandomWithPrefix(0);
        table.Responded(Contact(replacement, 9), Start);

        table.Failed(replacement);
        table.Failed(members[0]);
        table.Failed(members[0]);

        Assert.False(table.Contains(replacement));
        Assert.True(table.Contains(members[0]));
    }

    [Fact]
    public void Failed_UnknownNode_ChangesNothing()
    {
        var table = new RoutingTable(Self);
        var members = Fill(table, prefix: 1, count: 3);

        table.Failed(NodeId.Random());

        Assert.All(table.All, e => Assert.Equal(0, e.Failures));
        Assert.Equal(members.Count, table.Count);
    }

    [Fact]
    public void Closest_ManyNodes_AreOrderedByXorDistance()
    {
        var table = new RoutingTable(Self, bucketSize: 8);
        for (var i = 0; i < 200; i++)
        {
            // Nodes spread over many buckets: a random suffix after a random shared prefix.
            table.Responded(Contact(Self.RandomWithPrefix(i % 40), i), Start);
        }

        var target = NodeId.Random();
        var closest = table.Closest(target, 16);

        var expected = table.All.Select(e => e.Contact).OrderBy(c => Convert.ToHexString(Xor(c.Id, target)), StringComparer.Ordinal).Take(16);
        Assert.Equal(expected, closest);
    }

    [Fact]
    public void Closest_TargetIsAMember_ComesFirst()
    {
        var table = new RoutingTable(Self);
        var members = Fill(table, prefix: 5, count: 8);

        Assert.Equal(members[6], table.Closest(members[6], 3)[0].Id);
    }

    [Fact]
    public void Closest_FewerNodesThanAsked_ReturnsAll()
    {
        var table = new RoutingTable(Self);
        Fill(table, prefix: 2, count: 3);

        Assert.Equal(3, table.Closest(NodeId.Random(), 8).Count);
        Assert.Empty(new RoutingTable(Self).Closest(NodeId.Random(), 8));
    }

    [Fact]
    public void HasRoomFor_FullBucketOfGoodNodes_IsFalse()
    {
        var table = new RoutingTable(Self, bucketSize: 2);
        var members = Fill(table, prefix: 0, count: 2);

        Assert.False(table.HasRoomFor(Self.RandomWithPrefix(0)));
        Assert.True(table.HasRoomFor(Self.RandomWithPrefix(1)));
        Assert.False(table.HasRoomFor(members[0]));

        table.Failed(members[1]);
        table.Failed(members[1]);
        Assert.True(table.HasRoomFor(Self.RandomWithPrefix(0)));
    }

    [Fact]
    public void StaleBuckets_EmptyTable_IsTheFirstBucketOnly()
    {
        var table = new RoutingTable(Self);

        Assert.Equal([0], table.StaleBuckets(Start));
    }

    [Fact]
    public void StaleBuckets_AfterActivity_AreThoseUnchangedUpToOneBelowTheDeepest()
    {
        var table = new RoutingTable(Self);
        table.Responded(Contact(Self.RandomWithPrefix(0), 1), Start);
        table.Responded(Contact(Self.RandomWithPrefix(3), 2), Start.AddMinutes(10));

        Assert.Equal([1, 2, 4], table.StaleBuckets(Start));
        Assert.Equal([0, 1, 2, 4], table.StaleBuckets(Start.AddMinutes(5)));
        Assert.Equal([0, 1, 2, 3, 4], table.StaleBuckets(Start.AddMinutes(11)));

        table.Touch(2, Start.AddMinutes(20));
        Assert.Equal([0, 1, 3, 4], table.StaleBuckets(Start.AddMinutes(11)));
    }

    [Fact]
    public void Questionable_NodesNotHeardFromSince_AreListed()
    {
        var table = new RoutingTable(Self);
        var old = Self.RandomWithPrefix(1);
        var recent = Self.RandomWithPrefix(2);
        table.Responded(Contact(old, 1), Start);
        table.Responded(Contact(recent, 2), Start.AddMinutes(20));

        Assert.Equal([old], table.Questionable(Start.AddMinutes(15)).Select(e => e.Id));

        table.Responded(Contact(old, 1), Start.AddMinutes(21));
        Assert.Empty(table.Questionable(Start.AddMinutes(15)));
    }

    [Fact]
    public void Remove_Member_IsGoneFromTheTable()
    {
        var table = new RoutingTable(Self);
        var members = Fill(table, prefix: 0, count: 3);

        table.Remove(members[1]);

        Assert.False(table.Contains(members[1]));
        Assert.Equal(2, table.Count);
    }

    [Fact]
    public void Constructor_BucketSizeBelowOne_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RoutingTable(Self, 0));
    }

    private static List<NodeId> Fill(RoutingTable table, int prefix, int count)
    {
        var ids = Enumerable.Range(0, count).Select(_ => Self.RandomWithPrefix(prefix)).ToList();
        for (var i = 0; i < ids.Count; i++)
        {
            Assert.True(table.Responded(Contact(ids[i], 1000 + (prefix * 100) + i), Start));
        }

        return ids;
    }

    [Fact]
    public void Rebase_NewSelf_SortsEveryNodeIntoItsNewBucketAndKeepsLiveness()
    {
        var table = new RoutingTable(Self, bucketSize: 8);
        var ids = Enumerable.Range(0, 6).Select(prefix => Self.RandomWithPrefix(prefix)).ToList();
        for (var i = 0; i < ids.Count; i++)
        {
            Assert.True(table.Responded(Contact(ids[i], i), Start.AddMinutes(i)));
        }

        table.Failed(ids[0]);
        var newSelf = NodeId.Random();

        table.Rebase(newSelf);

        Assert.Equal(newSelf, table.Self);
        Assert.Equal(ids.Count, table.Count);
        Assert.All(ids, id => Assert.True(table.Contains(id)));
        Assert.Equal(1, table.All.Single(e => e.Id == ids[0]).Failures);
        Assert.Equal(Start.AddMinutes(3), table.All.Single(e => e.Id == ids[3]).LastResponse);
        var target = NodeId.Random();
        Assert.Equal(ids.OrderBy(id => id.Xor(target)).Take(3), table.Closest(target, 3).Select(c => c.Id));
    }

    private static NodeContact Contact(NodeId id, int index) => new(id, Endpoint(index));

    private static IPEndPoint Endpoint(int index) => new(new IPAddress([10, 9, (byte)(index >> 8), (byte)index]), 6881);

    private static byte[] Xor(NodeId a, NodeId b)
    {
        var x = a.ToArray();
        var y = b.ToArray();
        return [.. x.Zip(y, (p, q) => (byte)(p ^ q))];
    }
}
