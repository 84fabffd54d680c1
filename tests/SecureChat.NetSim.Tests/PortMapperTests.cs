using System.Net;
using System.Net.Sockets;
using SecureChat.Net.PortMapping;

namespace SecureChat.NetSim.Tests;

/// <summary>
/// SecureChat's NAT-PMP and PCP clients (<see cref="NatPmpMapper"/>, <see cref="PcpMapper"/>)
/// against the real miniupnpd in a home of the simulated internet: each on its own gets a TCP and a
/// UDP mapping on the router's public address, a stranger reaches the mapped TCP port, a renewal
/// keeps the port, and giving the mapping back removes miniupnpd's forwarding rule.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(SimulatedInternetCollection.Name)]
public sealed class PortMapperTests
{
    /// <summary>miniupnpd answers only once its STUN check is done (three rounds of up to 3 s).</summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public static TheoryData<string, int> Methods => new() { { "NAT-PMP", 41000 }, { "PCP", 42000 } };

    [Theory]
    [MemberData(nameof(Methods))]
    public async Task Mapper_TcpAndUdpOnMiniupnpd_MapsOnThePublicAddressRenewsAndUnmaps(string method, int port)
    {
        using var net = SimulatedInternet.Create();
        var home = net.AddHome("upnp", HomeKind.UpnpRouter);
        var stranger = net.AddPublicHost("pubc");
        var gateway = new IPEndPoint(home.Gateway!, NatPmpCodec.ServerPort);
        Socket OpenSocket() => NamespaceSockets.Udp(home.Host.Namespace, new IPEndPoint(home.Host.V4, 0));
        IPortMapper mapper = method == "PCP"
            ? new PcpMapper(gateway, TimeProvider.System, OpenSocket)
            : new NatPmpMapper(gateway, TimeProvider.System, OpenSocket);
        Assert.Equal(method, mapper.Method);

        var tcp = await MapWhenReadyAsync(mapper, MappingProtocol.Tcp, port, net, home);
        Assert.Equal(home.PublicIPv4, tcp.External.Address);
        Assert.Equal(method, tcp.Method);
        Assert.True(tcp.Expires > DateTimeOffset.UtcNow, $"The lease already expired at {tcp.Expires}.");
        var udp = await MapWhenReadyAsync(mapper, MappingProtocol.Udp, port + 1, net, home);
        Assert.Equal(home.PublicIPv4, udp.External.Address);
        Assert.Equal(MappingProtocol.Udp, udp.Protocol);

        await AssertStrangerConnectsAsync(stranger, home, port, tcp.External);

        using var deadline = new CancellationTokenSource(Timeout);
        var renewed = await mapper.MapAsync(MappingProtocol.Tcp, port, TimeSpan.FromHours(1), deadline.Token);
        Assert.True(renewed.Lease is not null, renewed.Sentence);
        Assert.Equal(tcp.External, renewed.Lease.External);
        Assert.True(renewed.Lease.Expires >= tcp.Expires, "The renewal shortened the lease.");

        Assert.Contains($"dport {tcp.External.Port}", RouterRules(home));
        var unmapped = await mapper.UnmapAsync(renewed.Lease, deadline.Token);
        Assert.Equal(MappingFailure.None, unmapped.Failure);
        var unmappedUdp = await mapper.UnmapAsync(udp, deadline.Token);
        Assert.Equal(MappingFailure.None, unmappedUdp.Failure);
        var rules = RouterRules(home);
        Assert.DoesNotContain($"dport {tcp.External.Port}", rules);
        Assert.DoesNotContain($"dport {udp.External.Port}", rules);
    }

    /// <summary>miniupnpd's nftables rules in the home's router, where a mapping is a DNAT rule on its external port.</summary>
    private static string RouterRules(SimHome home) => Shell.Run("ip", ["netns", "exec", home.Router.Namespace, "nft", "list", "ruleset"]);

    /// <summary>Asks until miniupnpd, done with its STUN check, maps; fails with the last sentence and its log.</summary>
    private static async Task<PortMappingLease> MapWhenReadyAsync(IPortMapper mapper, MappingProtocol protocol, int port, SimulatedInternet net, SimHome home)
    {
        using var deadline = new CancellationTokenSource(Timeout);
        var last = "no answer";
        while (!deadline.IsCancellationRequested)
        {
            try
            {
                var result = await mapper.MapAsync(protocol, port, TimeSpan.FromHours(1), deadline.Token);
                if (result.Lease is { } lease)
                {
                    return lease;
                }

                last = $"{result.Failure}: {result.Sentence}";
                await Task.Delay(TimeSpan.FromMilliseconds(500), deadline.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        throw new Xunit.Sdk.XunitException($"{mapper.Method} got no {protocol} mapping of port {port} within {Timeout.TotalSeconds} s (last: {last}).\n{net.MiniUpnpdLog(home)}");
    }

    /// <summary>A stranger the home never talked to opens a TCP connection to <paramref name="mapped"/> and reaches the home host's listener on <paramref name="port"/>.</summary>
    private static async Task AssertStrangerConnectsAsync(SimHost stranger, SimHome home, int port, IPEndPoint mapped)
    {
        using var listener = NamespaceSockets.Tcp(home.Host.Namespace, AddressFamily.InterNetwork);
        listener.Bind(new IPEndPoint(home.Host.V4, port));
        listener.Listen();
        using var dialer = NamespaceSockets.Tcp(stranger.Namespace, AddressFamily.InterNetwork);
        using var deadline = new CancellationTokenSource(Timeout);
        var accepting = listener.AcceptAsync(deadline.Token).AsTask();
        await dialer.ConnectAsync(mapped, deadline.Token);
        using var accepted = await accepting;
        Assert.Equal(stranger.V4, ((IPEndPoint)accepted.RemoteEndPoint!).Address);
        await dialer.SendAsync("through the mapping"u8.ToArray(), SocketFlags.None, deadline.Token);
        var buffer = new byte[64];
        var got = await accepted.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
        Assert.Equal("through the mapping"u8.ToArray(), buffer.AsSpan(0, got).ToArray());
    }
}
