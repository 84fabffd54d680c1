using System.Net;
using System.Net.Sockets;
using SecureChat.Testing;

namespace SecureChat.NetSim.Tests;

/// <summary>
/// The simulated internet itself: each kind of router does to datagrams what the kind of router
/// it stands for does, seen from a UDP observer on the public segment; and a world leaves nothing
/// behind. These run as root (CI does); elsewhere they fail with the sentence that says why.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(SimulatedInternetCollection.Name)]
public sealed class SimulatedInternetTests
{
    private const int ObserverPort = 3478;
    private const int HomePort = 40000;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task PublicHost_AsksAnotherPublicHost_IsSeenAtItsOwnAddressAndPortOverUdpAndTcp()
    {
        using var net = SimulatedInternet.Create();
        var a = net.AddPublicHost("puba");
        var b = net.AddPublicHost("pubb");
        await using var observer = new UdpObserver(b, b.V4, ObserverPort);
        using var socket = NamespaceSockets.Udp(a.Namespace, new IPEndPoint(a.V4, HomePort));

        Assert.Equal(new IPEndPoint(a.V4, HomePort), await UdpObserver.AskAsync(socket, observer.EndPoint, Timeout));

        // TCP as well, over IPv6: an accepted connection comes from A's own address.
        using var listener = NamespaceSockets.Tcp(b.Namespace, AddressFamily.InterNetworkV6);
        listener.Bind(new IPEndPoint(b.V6, 0));
        listener.Listen();
        using var dialer = NamespaceSockets.Tcp(a.Namespace, AddressFamily.InterNetworkV6);
        var accepting = listener.AcceptAsync();
        await dialer.ConnectAsync(listener.LocalEndPoint!).WaitAsync(Timeout);
        using var accepted = await accepting.WaitAsync(Timeout);
        Assert.Equal(a.V6, ((IPEndPoint)accepted.RemoteEndPoint!).Address);
    }

    [Fact]
    public async Task EimNat_HostAsksTwoPublicHosts_BothSeeTheRouterAddressWithThePortKeptAndAStrangerIsDropped()
    {
        using var net = SimulatedInternet.Create();
        var home = net.AddHome("eim", HomeKind.EimNat);
        var first = net.AddPublicHost("puba");
        var second = net.AddPublicHost("pubb");
        var stranger = net.AddPublicHost("pubc");
        await using var firstObserver = new UdpObserver(first, first.V4, ObserverPort);
        await using var secondObserver = new UdpObserver(second, second.V4, ObserverPort);
        using var socket = NamespaceSockets.Udp(home.Host.Namespace, new IPEndPoint(home.Host.V4, HomePort));

        var seenByFirst = await UdpObserver.AskAsync(socket, firstObserver.EndPoint, Timeout);
        var seenBySecond = await UdpObserver.AskAsync(socket, secondObserver.EndPoint, Timeout);
        Assert.Equal(new IPEndPoint(home.PublicIPv4, HomePort), seenByFirst);
        Assert.Equal(seenByFirst, seenBySecond);
        Assert.NotEqual(home.Host.V4, home.PublicIPv4);

        await AssertStrangerDroppedAsync(stranger, home.Router, seenByFirst, socket);
    }

    [Fact]
    public async Task SymmetricNat_HostAsksTwoPublicHosts_EachSeesAnotherPort()
    {
        using var net = SimulatedInternet.Create();
        var home = net.AddHome("sym", HomeKind.SymmetricNat);
        var first = net.AddPublicHost("puba");
        var second = net.AddPublicHost("pubb");
        await using var firstObserver = new UdpObserver(first, first.V4, ObserverPort);
        await using var secondObserver = new UdpObserver(second, second.V4, ObserverPort);
        using var socket = NamespaceSockets.Udp(home.Host.Namespace, new IPEndPoint(home.Host.V4, HomePort));

        var seenByFirst = await UdpObserver.AskAsync(socket, firstObserver.EndPoint, Timeout);
        var seenBySecond = await UdpObserver.AskAsync(socket, secondObserver.EndPoint, Timeout);

        Assert.Equal(home.PublicIPv4, seenByFirst.Address);
        Assert.Equal(home.PublicIPv4, seenBySecond.Address);
        // fully-random draws each mapping's port afresh: two equal draws are one chance in tens of thousands.
        Assert.NotEqual(seenByFirst.Port, seenBySecond.Port);
        // The first destination keeps its mapping while it lives: asking again gives the same port.
        Assert.Equal(seenByFirst, await UdpObserver.AskAsync(socket, firstObserver.EndPoint, Timeout));
    }

    [Fact]
    public async Task DoubleNat_HostAsksAPublicHost_IsSeenAtTheCarrierAddressAndTheHomeRouterIsOnSharedAddressSpace()
    {
        using var net = SimulatedInternet.Create();
        var home = net.AddHome("dbl", HomeKind.DoubleNat);
        var observerHost = net.AddPublicHost("puba");
        var stranger = net.AddPublicHost("pubc");
        await using var observer = new UdpObserver(observerHost, observerHost.V4, ObserverPort);
        using var socket = NamespaceSockets.Udp(home.Host.Namespace, new IPEndPoint(home.Host.V4, HomePort));

        var seen = await UdpObserver.AskAsync(socket, observer.EndPoint, Timeout);

        Assert.NotNull(home.CarrierRouter);
        Assert.Equal(new IPEndPoint(home.CarrierRouter.V4, HomePort), seen);
        Assert.StartsWith("100.64.", home.Router.V4.ToString(), StringComparison.Ordinal);
        await AssertStrangerDroppedAsync(stranger, home.CarrierRouter, seen, socket);
    }

    [Fact]
    public async Task Ipv6Firewall_HostAsksAPublicHost_IsSeenAtItsOwnAddressAndAStrangerIsDropped()
    {
        using var net = SimulatedInternet.Create();
        var home = net.AddHome("v6", HomeKind.Ipv6Firewall);
        var observerHost = net.AddPublicHost("puba");
        var stranger = net.AddPublicHost("pubc");
        await using var observer = new UdpObserver(observerHost, observerHost.V6, ObserverPort);
        using var socket = NamespaceSockets.Udp(home.Host.Namespace, new IPEndPoint(home.Host.V6, HomePort));

        var seen = await UdpObserver.AskAsync(socket, observer.EndPoint, Timeout);

        Assert.Null(home.Host.IPv4);
        Assert.Equal(new IPEndPoint(home.Host.V6, HomePort), seen);
        await AssertStrangerDroppedAsync(stranger, home.Router, seen, socket);
    }

    [Fact]
    public async Task DualStack_HostAsksOverBothFamilies_IsTranslatedOverIpv4AndSeenAsItselfOverIpv6()
    {
        using var net = SimulatedInternet.Create();
        var home = net.AddHome("dual", HomeKind.DualStack);
        var observerHost = net.AddPublicHost("puba");
        await using var observer4 = new UdpObserver(observerHost, observerHost.V4, ObserverPort);
        await using var observer6 = new UdpObserver(observerHost, observerHost.V6, ObserverPort);
        using var socket4 = NamespaceSockets.Udp(home.Host.Namespace, new IPEndPoint(home.Host.V4, HomePort));
        using var socket6 = NamespaceSockets.Udp(home.Host.Namespace, new IPEndPoint(home.Host.V6, HomePort));

        Assert.Equal(new IPEndPoint(home.PublicIPv4, HomePort), await UdpObserver.AskAsync(socket4, observer4.EndPoint, Timeout));
        Assert.Equal(new IPEndPoint(home.Host.V6, HomePort), await UdpObserver.AskAsync(socket6, observer6.EndPoint, Timeout));
    }

    [Fact]
    public void Dispose_AfterATestFailedInsideTheWorld_LeavesNoNamespaceAndTheSweepTakesThoseOfDeadRuns()
    {
        string? prefix = null;
        var failure = Assert.Throws<InvalidOperationException>((Action)(() =>
        {
            using var net = SimulatedInternet.Create();
            prefix = net.Prefix;
            net.AddPublicHost("puba");
            net.AddHome("eim", HomeKind.EimNat);
            net.AddHome("dbl", HomeKind.DoubleNat);
            Assert.Equal(7, SimulatedInternet.ListNamespaces().Count(ns => ns.StartsWith(net.Prefix, StringComparison.Ordinal)));
            throw new InvalidOperationException("a test failing inside the world");
        }));
        Assert.Equal("a test failing inside the world", failure.Message);
        Assert.DoesNotContain(SimulatedInternet.ListNamespaces(), ns => ns.StartsWith(prefix ?? "(none)", StringComparison.Ordinal));

        // A run killed before its teardown: a process ID above the kernel's limit has surely ended.
        // (Another run's sweep on this machine may take it first, which is as good.)
        var dead = $"sc99999999-{System.Security.Cryptography.RandomNumberGenerator.GetInt32(0x10000):x4}-puba";
        Shell.Run("ip", ["netns", "add", dead]);
        try
        {
            SimulatedInternet.SweepLeftovers();
            Assert.DoesNotContain(dead, SimulatedInternet.ListNamespaces());
        }
        finally
        {
            Shell.TryRun("ip", ["netns", "delete", dead]);
        }
    }

    /// <summary>
    /// A public host that the home never talked to sends to the home's mapping (or, without NAT,
    /// its address): the router must count it as dropped, and the home's socket must not get it.
    /// </summary>
    private static async Task AssertStrangerDroppedAsync(SimHost stranger, SimHost router, IPEndPoint mapping, Socket homeSocket)
    {
        var before = SimulatedInternet.UnsolicitedDrops(router);
        using var strangerSocket = NamespaceSockets.Udp(stranger.Namespace, new IPEndPoint(mapping.AddressFamily == AddressFamily.InterNetwork ? stranger.V4 : stranger.V6, 0));
        await strangerSocket.SendToAsync("unsolicited"u8.ToArray(), mapping);
        await Eventually.UntilAsync(
            $"{router.Name} counts the stranger's datagram to {mapping} as dropped",
            Timeout,
            () => Task.FromResult(SimulatedInternet.UnsolicitedDrops(router)),
            drops => drops > before,
            drops => $"{drops} packets dropped as unsolicited, {before} before the stranger sent");
        // What the home did get is late answers of the observer (a question asked twice), never the stranger's datagram.
        var buffer = new byte[1500];
        for (var i = 0; i < 100 && homeSocket.Available > 0; i++)
        {
            EndPoint from = new IPEndPoint(mapping.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0);
            var length = homeSocket.ReceiveFrom(buffer, ref from);
            Assert.False(((IPEndPoint)from).Address.Equals(strangerSocket.LocalEndPoint is IPEndPoint own ? own.Address : null), $"The home got the stranger's {length} bytes from {from}.");
        }
    }
}
