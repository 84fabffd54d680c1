using System.Net;
using System.Net.Sockets;
using SecureChat.Net.PortMapping;

namespace SecureChat.NetSim.Tests;

/// <summary>
/// SecureChat's UPnP-IGD client (<see cref="UpnpMapper"/>) against the real miniupnpd of a home in
/// the simulated internet: it finds the gateway by SSDP from the home host, reads the public
/// address, maps a TCP port with a lease that a stranger on the public segment then reaches, and
/// gives the mapping back.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(SimulatedInternetCollection.Name)]
public sealed class UpnpMapperTests
{
    private const int HomePort = 40100;

    /// <summary>miniupnpd asks the STUN server first (three rounds of up to 3 s) and maps only after.</summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task UpnpMapper_MapTcpPort_FindsTheGatewayAndAStrangerConnectsThroughTheMapping()
    {
        using var net = SimulatedInternet.Create();
        var home = net.AddHome("upnp", HomeKind.UpnpRouter);
        var stranger = net.AddPublicHost("pubc");
        using var http = UpnpHttp.Create(async (context, token) =>
        {
            var socket = NamespaceSockets.Tcp(home.Host.Namespace, AddressFamily.InterNetwork);
            try
            {
                await socket.ConnectAsync(IPAddress.Parse(context.DnsEndPoint.Host), context.DnsEndPoint.Port, token);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        });
        var mapper = new UpnpMapper(http, TimeProvider.System, () => NamespaceSockets.Udp(home.Host.Namespace, new IPEndPoint(IPAddress.Any, 0)));
        using var deadline = new CancellationTokenSource(Timeout);

        // miniupnpd answers SSDP at once but refuses to map until its STUN check is done: ask
        // again while the result is not a lease, and show the last result and its log if none came.
        MappingResult result;
        var attempts = 0;
        do
        {
            result = await mapper.MapAsync(MappingProtocol.Tcp, HomePort, TimeSpan.FromHours(1), CancellationToken.None);
            attempts++;
            if (result.Lease is null)
            {
                await Task.Delay(TimeSpan.FromSeconds(1));
            }
        }
        while (result.Lease is null && attempts < 40 && !deadline.IsCancellationRequested);

        Assert.True(result.Lease is not null, $"no mapping after {attempts} attempts: {result.Failure}: {result.Sentence}\n{net.MiniUpnpdLog(home)}");
        var lease = result.Lease;
        Assert.Equal(home.PublicIPv4, lease.External.Address);
        Assert.Equal("UPnP-IGD", lease.Method);
        Assert.True(lease.Expires > DateTimeOffset.UtcNow.AddMinutes(50), $"the lease expires at {lease.Expires}");
        var (external, failure) = await mapper.GetExternalAddressAsync(CancellationToken.None);
        Assert.True(failure is null, failure?.Sentence);
        Assert.Equal(home.PublicIPv4, external);
        Assert.True(await mapper.IsMappedAsync(MappingProtocol.Tcp, lease.External.Port, CancellationToken.None));

        using (var listener = NamespaceSockets.Tcp(home.Host.Namespace, AddressFamily.InterNetwork))
        using (var dialer = NamespaceSockets.Tcp(stranger.Namespace, AddressFamily.InterNetwork))
        {
            listener.Bind(new IPEndPoint(home.Host.V4, HomePort));
            listener.Listen(1);
            var accepting = listener.AcceptAsync(deadline.Token).AsTask();
            await dialer.ConnectAsync(lease.External, deadline.Token);
            using var accepted = await accepting;
            Assert.Equal(stranger.V4, ((IPEndPoint)accepted.RemoteEndPoint!).Address);
            await dialer.SendAsync("through the mapping"u8.ToArray(), deadline.Token);
            var buffer = new byte[64];
            var got = 0;
            while (got < 19)
            {
                var read = await accepted.ReceiveAsync(buffer.AsMemory(got), deadline.Token);
                Assert.NotEqual(0, read);
                got += read;
            }

            Assert.Equal("through the mapping"u8.ToArray(), buffer.AsSpan(0, got).ToArray());
        }

        var unmapped = await mapper.UnmapAsync(lease, CancellationToken.None);
        Assert.True(unmapped.Failure == MappingFailure.None, unmapped.Sentence);
        Assert.False(await mapper.IsMappedAsync(MappingProtocol.Tcp, lease.External.Port, CancellationToken.None));
    }
}
