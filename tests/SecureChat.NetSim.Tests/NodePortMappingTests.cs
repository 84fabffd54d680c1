using System.Globalization;
using System.Net;
using System.Net.Sockets;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.NetSim.Tests;

/// <summary>
/// A real <c>securechat run</c> behind a home router with miniupnpd maps its ports through each
/// protocol on its own, keeps them when the router restarts, and follows the router to a new
/// address. Each mapping is proven the way the internet sees it: a stranger on the public segment
/// opens a TCP connection to the external endpoint the node reports, which the router drops unless
/// a mapping forwards it.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(SimulatedInternetCollection.Name)]
public sealed partial class NodePortMappingTests(ITestOutputHelper output)
{
    /// <summary>miniupnpd maps nothing before its STUN check (up to about 10 s); the node retries 3 s, 6 s, 12 s, 24 s after a refusal.</summary>
    private static readonly TimeSpan MappingDeadline = TimeSpan.FromSeconds(90);

    /// <summary>How often the node renews and checks (<c>--port-mapping-check</c>): short, so that a test sees a restart or a new address within seconds.</summary>
    private const int CheckSeconds = 3;

    [Theory]
    [InlineData("upnp", "UPnP-IGD", 41101)]
    [InlineData("natpmp", "NAT-PMP", 41201)]
    [InlineData("pcp", "PCP", 41301)]
    public async Task Run_OneProtocolOnly_MapsBothPortsAndAStrangerConnectsThroughTheRouter(string option, string method, int listenPort)
    {
        using var net = SimulatedInternet.Create();
        var home = net.AddHome("home", HomeKind.UpnpRouter);
        var stranger = net.AddPublicHost("strange");
        await using var node = await SimNode.CreateAsync(home.Host, "mapped");
        var dhtPort = listenPort + 1;
        await node.StartAsync(listenPort, dhtPort, [], ["--port-mapping", option, "--port-mapping-check", CheckSeconds.ToString(CultureInfo.InvariantCulture)]);

        var mapping = await MappedAsync(net, home, node, m => m.Tcp is not null && m.Udp is not null, "both ports mapped through " + method);

        var tcp = mapping.Tcp!;
        var udp = mapping.Udp!;
        output.WriteLine($"{method}: {mapping.Sentence}");
        Assert.Equal(method, tcp.Method);
        Assert.Equal(method, udp.Method);
        Assert.Equal(listenPort, tcp.InternalPort);
        Assert.Equal(dhtPort, udp.InternalPort);
        Assert.Equal(home.PublicIPv4, tcp.External.Address);
        Assert.Equal(home.PublicIPv4, udp.External.Address);
        Assert.True(tcp.Expires > DateTimeOffset.UtcNow.AddMinutes(30), $"the lease ends at {tcp.Expires:u}");
        Assert.Contains($"through {method}", mapping.Sentence, StringComparison.Ordinal);
        Assert.Equal(tcp.External.ToString(), (await node.AdvertisedAsync())[0]);
        await AssertStrangerConnectsAsync(stranger, tcp.External, home);

        // At stop the node gives the mapping back: the router forwards the port no more.
        await node.StopAsync();
        Assert.DoesNotContain(tcp.External.Port, SimulatedInternet.ForwardedTcpPorts(home));
    }

    [Theory]
    [InlineData("upnp", 42101)]
    [InlineData("pcp", 42201)]
    public async Task Run_MiniUpnpdRestarted_NodeMapsAgainAndAStrangerConnects(string option, int listenPort)
    {
        using var net = SimulatedInternet.Create();
        var home = net.AddHome("home", HomeKind.UpnpRouter);
        var stranger = net.AddPublicHost("strange");
        await using var node = await SimNode.CreateAsync(home.Host, "mapped");
        await node.StartAsync(listenPort, listenPort + 1, [], ["--port-mapping", option, "--port-mapping-check", CheckSeconds.ToString(CultureInfo.InvariantCulture)]);
        var before = (await MappedAsync(net, home, node, m => m.Tcp is not null, "the TCP port mapped")).Tcp!;
        Assert.True(SimulatedInternet.ForwardedTcpPorts(home).Contains(before.External.Port), SimulatedInternet.ForwardingRules(home));

        net.RestartMiniUpnpd(home);
        Assert.DoesNotContain(before.External.Port, SimulatedInternet.ForwardedTcpPorts(home));

        // The router forgot the mapping; the node's next check (every 3 s, once the new miniupnpd has done its STUN check) maps it again.
        await Eventually.UntilAsync(
            "the router forwards the node's port again",
            MappingDeadline,
            () => Task.FromResult(SimulatedInternet.ForwardedTcpPorts(home)),
            ports => ports.Contains(before.External.Port),
            ports => $"forwarded: {string.Join(", ", ports)}\n{node.Transcript}\n{net.MiniUpnpdLog(home)}");
        var after = (await node.PortMappingAsync())!.Tcp!;
        Assert.Equal(before.External, after.External);
        await AssertStrangerConnectsAsync(stranger, after.External, home);
        output.WriteLine(MappingLines(node));
    }

    [Fact]
    public async Task Run_RouterAddressChanges_NodeNoticesAdvertisesTheNewEndpointAndAStrangerConnects()
    {
        const int ListenPort = 43101;
        using var net = SimulatedInternet.Create();
        var home = net.AddHome("home", HomeKind.UpnpRouter);
        var stranger = net.AddPublicHost("strange");
        await using var node = await SimNode.CreateAsync(home.Host, "mapped");
        await node.StartAsync(ListenPort, ListenPort + 1, [], ["--port-mapping", "natpmp", "--port-mapping-check", CheckSeconds.ToString(CultureInfo.InvariantCulture)]);
        var before = (await MappedAsync(net, home, node, m => m.Tcp is not null, "the TCP port mapped")).Tcp!;
        Assert.Equal(home.PublicIPv4, before.External.Address);

        var renumbered = net.RenumberRouter(home);
        output.WriteLine($"router renumbered from {before.External.Address} to {renumbered}");

        var mapping = await MappedAsync(net, home, node, m => m.Tcp?.External.Address.Equals(renumbered) == true, $"the node's TCP lease at {renumbered}");
        Assert.Equal(new IPEndPoint(renumbered, before.External.Port), mapping.Tcp!.External);
        Assert.Contains(renumbered.ToString(), mapping.Sentence, StringComparison.Ordinal);
        var advertised = await node.AdvertisedAsync();
        Assert.Equal(mapping.Tcp.External.ToString(), advertised[0]);
        Assert.DoesNotContain(before.External.ToString(), advertised);
        await AssertStrangerConnectsAsync(stranger, mapping.Tcp.External, home);
        output.WriteLine(MappingLines(node));
    }

    [Fact]
    public async Task Run_RouterAddressChanges_AContactAddedByIdFindsTheNodeAtItsNewAddress()
    {
        const int ListenPort = 44101;
        const int DhtPort = 6881;
        using var net = SimulatedInternet.Create();
        var home = net.AddHome("home", HomeKind.UpnpRouter);
        var contactHome = net.AddHome("eim", HomeKind.EimNat);
        var dht = BootstrapNodes.Add(net, DhtPort, ipv6: false);
        var bootstrap = dht.EndPoints;
        try
        {
            await dht.StartAsync(7000);

            // The contact sits behind a NAT that maps nothing: it can reach the node only at an
            // endpoint the node's router forwards, and learns it only from the node's DHT record.
            await using var node = await SimNode.CreateAsync(home.Host, "mapped");
            await using var contact = await SimNode.CreateAsync(contactHome.Host, "contact");
            await Task.WhenAll(node.AddByIdAsync(contact), contact.AddByIdAsync(node));
            await node.StartAsync(ListenPort, ListenPort + 1, bootstrap, ["--port-mapping", "natpmp", "--port-mapping-check", CheckSeconds.ToString(CultureInfo.InvariantCulture)]);
            var before = (await MappedAsync(net, home, node, m => m.Tcp is not null, "the TCP port mapped")).Tcp!;
            await PublishedAfterAsync(node, contact, "Port mapping: mapped");

            var renumbered = net.RenumberRouter(home);
            var after = (await MappedAsync(net, home, node, m => m.Tcp?.External.Address.Equals(renumbered) == true, $"the node's TCP lease at {renumbered}")).Tcp!;
            await PublishedAfterAsync(node, contact, $"to {after.External} through");
            Assert.NotEqual(before.External, after.External);

            await contact.StartAsync(ListenPort + 100, ListenPort + 101, bootstrap, ["--no-port-mapping"]);
            var toNode = await contact.SendAsync(node, "found you at your new address");
            var toContact = await node.SendAsync(contact, "and I you");
            await Eventually.UntilAsync("the node holds the contact's message", TimeSpan.FromSeconds(90), () => node.HasMessageAsync(toNode), has => has, _ => $"{ChildProcess.Tail(contact.Transcript)}\n{MappingLines(node)}");
            await Eventually.UntilAsync("the contact holds the node's message", TimeSpan.FromSeconds(90), () => contact.HasMessageAsync(toContact), has => has, _ => ChildProcess.Tail(contact.Transcript));
            var kept = await contact.EndpointsOfAsync(node);
            output.WriteLine($"the contact keeps the node at [{kept}]");
            Assert.Contains(after.External.ToString(), kept, StringComparison.Ordinal);
        }
        finally
        {
            await dht.DisposeAsync();
        }
    }

    /// <summary>
    /// Waits until the node has put a record for <paramref name="contact"/> on the DHT after it
    /// logged <paramref name="after"/> (its log tells each put, with the account's first 8 characters).
    /// </summary>
    private static Task PublishedAfterAsync(SimNode node, SimNode contact, string after) =>
        Eventually.HoldsAsync(
            () =>
            {
                var transcript = node.Transcript;
                var mark = transcript.LastIndexOf(after, StringComparison.Ordinal);
                return mark >= 0 && transcript.IndexOf($"Published a DHT record for {contact.Id[..8]}", mark, StringComparison.Ordinal) > mark;
            },
            $"{node.Name} published a record for {contact.Name} after '{after}'",
            () => ChildProcess.Tail(node.Transcript),
            MappingDeadline);

    /// <summary>What the node logged about its mappings, for the test's output.</summary>
    private static string MappingLines(SimNode node) =>
        string.Join('\n', node.Transcript.Split('\n').Where(l => l.Contains("Mapped", StringComparison.Ordinal) || l.Contains("Port mapping", StringComparison.Ordinal)));

    /// <summary>Waits until the node's /api/status shows a mapping that <paramref name="reached"/> accepts.</summary>
    private static Task<PortMappingView> MappedAsync(SimulatedInternet net, SimHome home, SimNode node, Func<PortMappingView, bool> reached, string what) =>
        Eventually.UntilAsync(
            what,
            MappingDeadline,
            async () => await node.PortMappingAsync() ?? new PortMappingView("(not asked yet)", []),
            reached,
            m => $"{m.Sentence}\n{node.Transcript}\n{net.MiniUpnpdLog(home)}");

    /// <summary>A stranger on the public segment opens a TCP connection to <paramref name="external"/>: only a mapping lets it through the router.</summary>
    private static async Task AssertStrangerConnectsAsync(SimHost stranger, IPEndPoint external, SimHome home)
    {
        using var dialer = NamespaceSockets.Tcp(stranger.Namespace, AddressFamily.InterNetwork);
        using var deadline = new CancellationTokenSource(ChildProcess.Timeout);
        try
        {
            await dialer.ConnectAsync(external, deadline.Token);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            Assert.Fail($"{stranger.Name} could not connect to {external}: {ex.Message}; the router dropped {SimulatedInternet.UnsolicitedDrops(home.Router)} unsolicited packets");
        }

        Assert.True(dialer.Connected);
    }
}
