using System.Net;
using SecureChat.Net.PortMapping;
using SecureChat.Node.Reachability;
using Xunit.Abstractions;

namespace SecureChat.Node.Tests.Reachability;

/// <summary>
/// A running node with an in-memory router: what it maps shows in <see cref="ChatNode.PortMapping"/>,
/// comes first among the endpoints it advertises, and is announced by an event; a new external
/// address is noticed at the next check; the mappings go back at stop. These nodes listen on
/// 0.0.0.0 (a node on loopback asks no router), on a free port, and talk to no one.
/// </summary>
public sealed class NodePortMappingTests(ITestOutputHelper output)
{
    private static readonly NodeOptions Listening = NodeHome.FastOptions with { ListenHost = "0.0.0.0" };

    [Fact]
    public async Task Start_RouterMaps_MappedEndpointAdvertisedFirst()
    {
        var router = new FakeRouter("PCP", TimeProvider.System);
        await using var home = new NodeHome("alice", new TestOutputLogger(output, "alice"), WithRouter(router));
        var node = home.Start();

        await MappedAsync(node);

        var external = new IPEndPoint(router.External, node.ListenEndPoint!.Port);
        Assert.Equal(external, node.PortMapping!.Tcp!.External);
        Assert.Equal(external, node.AdvertisedEndPoints()[0]);
        Assert.True(router.Holds(MappingProtocol.Tcp, node.ListenEndPoint.Port));
    }

    [Fact]
    public async Task Running_RouterAddressChanges_NoticedAtTheNextCheckAndAdvertised()
    {
        var router = new FakeRouter("NAT-PMP", TimeProvider.System);
        await using var home = new NodeHome("alice", new TestOutputLogger(output, "alice"), WithRouter(router));
        var node = home.Start();
        await MappedAsync(node);
        await using var trail = new EventTrail(node);

        router.External = IPAddress.Parse("198.18.9.9");

        var moved = await trail.WaitForAsync<PortMappingChanged>(e => e.Status.Tcp?.External.Address.Equals(router.External) == true, "the new address noticed");
        Assert.Contains("198.18.9.9", moved.Status.Sentence, StringComparison.Ordinal);
        Assert.Equal(new IPEndPoint(router.External, node.ListenEndPoint!.Port), node.AdvertisedEndPoints()[0]);
    }

    [Fact]
    public async Task Running_RouterRestarted_MappingRestoredAtTheNextCheck()
    {
        var router = new FakeRouter("UPnP-IGD", TimeProvider.System);
        var options = Listening with { PortMapping = new PortMappingOptions { CheckInterval = TimeSpan.FromSeconds(1), Clients = () => [router.Client(probe: true)] } };
        await using var home = new NodeHome("alice", new TestOutputLogger(output, "alice"), options);
        var node = home.Start();
        await MappedAsync(node);
        var calls = router.MapCalls;

        router.Restart();

        await Testing.Eventually.HoldsAsync(() => router.Holds(MappingProtocol.Tcp, node.ListenEndPoint!.Port), "the mapping restored");
        Assert.True(router.MapCalls > calls);
    }

    [Fact]
    public async Task DisposeAsync_MappingsHeld_GivenBack()
    {
        var router = new FakeRouter("PCP", TimeProvider.System);
        await using var home = new NodeHome("alice", new TestOutputLogger(output, "alice"), WithRouter(router));
        var node = home.Start();
        var port = node.ListenEndPoint!.Port;
        await MappedAsync(node);

        await home.StopAsync();

        Assert.Contains(router.Unmapped, l => l.Protocol == MappingProtocol.Tcp && l.InternalPort == port);
        Assert.False(router.Holds(MappingProtocol.Tcp, port));
    }

    [Fact]
    public async Task Start_PortMappingOff_SaysSoAndAsksNoRouter()
    {
        var router = new FakeRouter("PCP", TimeProvider.System);
        await using var home = new NodeHome("alice", new TestOutputLogger(output, "alice"), Listening with { PortMapping = PortMappingOptions.Off with { Clients = () => [router.Client()] } });

        var node = home.Start();

        Assert.Equal(new PortMappingStatus(null, null, "port mapping is off (--no-port-mapping)"), node.PortMapping);
        Assert.Equal(0, router.MapCalls);
    }

    [Fact]
    public async Task Start_ListensOnLoopback_NoRouterAsked()
    {
        var router = new FakeRouter("PCP", TimeProvider.System);
        await using var home = new NodeHome("alice", new TestOutputLogger(output, "alice"), NodeHome.FastOptions with { PortMapping = new PortMappingOptions { Clients = () => [router.Client()] } });

        var node = home.Start();

        Assert.StartsWith("port mapping is not tried: the node listens on 127.0.0.1 only", node.PortMapping?.Sentence, StringComparison.Ordinal);
        Assert.Equal(0, router.MapCalls);
    }

    private static Task MappedAsync(ChatNode node) =>
        Testing.Eventually.HoldsAsync(() => node.PortMapping?.Tcp is not null, "the TCP port mapped", () => node.PortMapping?.Sentence ?? "(not asked yet)");

    private static NodeOptions WithRouter(FakeRouter router) =>
        Listening with { PortMapping = new PortMappingOptions { CheckInterval = TimeSpan.FromSeconds(1), Clients = () => [router.Client()] } };
}
