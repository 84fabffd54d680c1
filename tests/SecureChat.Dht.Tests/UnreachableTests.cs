namespace SecureChat.Dht.Tests;

/// <summary>
/// Datagrams the system cannot send (no route to an IPv6 node from a host with IPv4 only) fail
/// their queries at once, so lookups do not wait out the query timeout for answers that cannot come.
/// </summary>
public sealed class UnreachableTests
{
    [Fact]
    public async Task Unreachable_PingInFlight_FailsAtOnceWithoutTheClockMoving()
    {
        var test = new NodeUnderTest();
        var to = NodeUnderTest.Address6(1);
        var ping = test.Node.Ping(to);
        Assert.Contains(test.Sent, d => d.To.Equals(to));
        Assert.False(ping.IsCompleted);

        test.Node.Unreachable(to);

        Assert.True(ping.IsCompletedSuccessfully);
        Assert.Null(await ping);
        Assert.Equal(0, test.Node.PendingQueries);
        Assert.Equal(1, test.Node.Counters.Timeouts);
    }

    [Fact]
    public void Unreachable_OtherAddress_LeavesTheQueryWaiting()
    {
        var test = new NodeUnderTest();
        var ping = test.Node.Ping(NodeUnderTest.Address6(1));

        test.Node.Unreachable(NodeUnderTest.Address6(2));

        Assert.False(ping.IsCompleted);
        Assert.Equal(1, test.Node.PendingQueries);
    }

    [Fact]
    public async Task Bootstrap_OnlyUnreachableNodes_EndsBeforeAnyTimeout()
    {
        var test = new NodeUnderTest();
        var nodes = Enumerable.Range(1, 4).Select(i => NodeUnderTest.Address6(i)).ToList();
        var joined = test.Node.Bootstrap(nodes);
        for (var round = 0; round < 4 && !joined.IsCompleted; round++)
        {
            foreach (var to in test.Sent.Select(d => d.To).Distinct().ToList())
            {
                test.Node.Unreachable(to);
            }
        }

        Assert.True(joined.IsCompletedSuccessfully);
        Assert.Empty((await joined).Closest);
    }
}
