using System.Net;
using SecureChat.Net;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.Node.Tests;

/// <summary>
/// A node on a dual-stack listener: reached over IPv4 and IPv6 on one port, each peer pinned and
/// shown at the address it is really at (never the IPv4-mapped form), and the endpoints it
/// advertises ordered public first, then global IPv6, then IPv4.
/// </summary>
public sealed class DualStackNodeTests(ITestOutputHelper output) : TwoNodeTests(output)
{
    private static readonly NodeOptions DualStack = NodeHome.FastOptions with { ListenHost = "::" };
    private readonly NodeHome _carol = new("carol", new TestOutputLogger(output, "carol"), DualStack);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _carol.DisposeAsync();
    }

    [Fact]
    public async Task Start_ListenHostIpv6Any_PeersOverIpv4AndIpv6ReachTheSamePort()
    {
        var carolNode = _carol.Start();
        var port = carolNode.ListenEndPoint!.Port;
        Assert.Equal(IPAddress.IPv6Any, carolNode.ListenEndPoint.Address);
        var aliceNode = Alice.Start();
        var bobNode = Bob.Start();
        using var deadline = new CancellationTokenSource(Eventually.Deadline);

        await aliceNode.ConnectAsync(new PeerEndpoint("127.0.0.1", port), _carol.Account, deadline.Token);
        await bobNode.ConnectAsync(new PeerEndpoint("::1", port), _carol.Account, deadline.Token);

        aliceNode.Send(Alice.ContactOf(_carol), "over IPv4");
        bobNode.Send(Bob.ContactOf(_carol), "over IPv6");
        await Eventually.HoldsAsync(() => _carol.History(Alice).Count == 1 && _carol.History(Bob).Count == 1, "both messages at carol");
        await Eventually.HoldsAsync(() => carolNode.OnlineEndpoint(_carol.ContactOf(Alice)) is not null && carolNode.OnlineEndpoint(_carol.ContactOf(Bob)) is not null, "carol sees both online");

        Assert.StartsWith("127.0.0.1:", carolNode.OnlineEndpoint(_carol.ContactOf(Alice)), StringComparison.Ordinal);
        Assert.StartsWith("[::1]:", carolNode.OnlineEndpoint(_carol.ContactOf(Bob)), StringComparison.Ordinal);
        Assert.Equal($"127.0.0.1:{port}", Alice.ContactOf(_carol).Endpoints[0]);
        Assert.Equal($"[::1]:{port}", Bob.ContactOf(_carol).Endpoints[0]);
        Assert.StartsWith("127.0.0.1:", aliceNode.OnlineEndpoint(Alice.ContactOf(_carol)), StringComparison.Ordinal);
    }

    [Fact]
    public void OrderOwnEndpoints_DualStack_PublicThenGlobalIpv6ThenIpv4()
    {
        IPEndPoint[] leading = [new(IPAddress.Parse("::ffff:198.51.100.7"), 40000)];
        var interfaces = new[] { "192.168.1.20", "fe80::1", "2001:db8:1::20", "fd00::20", "127.0.0.1", "::1", "10.0.0.9", "2001:db8:2::20" }
            .Select(IPAddress.Parse);

        var ordered = ChatNode.OrderOwnEndpoints(leading, interfaces, 7311, withIpv6: true);

        Assert.Equal(
            ["198.51.100.7:40000", "[2001:db8:1::20]:7311", "[2001:db8:2::20]:7311", "192.168.1.20:7311", "10.0.0.9:7311"],
            ordered.Select(e => e.ToString()));
    }

    [Fact]
    public void OrderOwnEndpoints_Ipv4OnlyListener_NoIpv6AndAtMostEight()
    {
        IPEndPoint[] leading = [new(IPAddress.Parse("2001:db8::7"), 7311), new(IPAddress.Parse("198.51.100.7"), 7311)];
        var interfaces = Enumerable.Range(1, 10).Select(i => IPAddress.Parse($"10.0.0.{i}")).Append(IPAddress.Parse("2001:db8:1::20"));

        var ordered = ChatNode.OrderOwnEndpoints(leading, interfaces, 7311, withIpv6: false);

        Assert.Equal(8, ordered.Count);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("198.51.100.7"), 7311), ordered[0]);
        Assert.All(ordered, e => Assert.Equal(System.Net.Sockets.AddressFamily.InterNetwork, e.AddressFamily));
    }

    [Theory]
    [InlineData("::ffff:127.0.0.1", "127.0.0.1")]
    [InlineData("198.51.100.7", "198.51.100.7")]
    [InlineData("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64")]
    public void RequestSource_Remote_Ipv4AddressOrIpv6Prefix(string remote, string source)
    {
        Assert.Equal(source, ChatNode.RequestSource(new IPEndPoint(IPAddress.Parse(remote), 7311)));
    }
}
