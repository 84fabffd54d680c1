using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace SecureChat.NetSim.Tests;

/// <summary>
/// The router that maps ports on request: miniupnpd (Debian's) in a home of the simulated internet,
/// asked in NAT-PMP's and PCP's own bytes (RFC 6886, RFC 6887), since SecureChat has no
/// port-mapping client yet (issue 17 builds it). It must tell the home its public address and
/// forward a port it mapped, so that a stranger on the public segment reaches the home host there.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(SimulatedInternetCollection.Name)]
public sealed class MiniUpnpdTests
{
    private const int NatPmpPort = 5351;
    private const int HomePort = 40000;

    /// <summary>miniupnpd asks the STUN server first (three rounds of up to 3 s), then answers.</summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task NatPmp_ExternalAddressAndAUdpMapping_AnswersThePublicAddressAndForwardsAStrangersDatagram()
    {
        using var net = SimulatedInternet.Create();
        var home = net.AddHome("upnp", HomeKind.UpnpRouter);
        var stranger = net.AddPublicHost("pubc");
        var gateway = new IPEndPoint(home.Gateway!, NatPmpPort);
        using var natPmp = NamespaceSockets.Udp(home.Host.Namespace, new IPEndPoint(home.Host.V4, 0));

        // Opcode 0: the external address. Answer: version 0, opcode 128, result, epoch, address.
        var external = await AskAsync(natPmp, gateway, [0, 0], NatPmpSucceeded(0, 12), net, home);
        Assert.Equal(128, external[1]);
        Assert.Equal(new IPAddress(external.AsSpan(8, 4)), home.PublicIPv4);
        Assert.True(net.StunAnswered >= 4, $"miniupnpd answered before asking the STUN server ({net.StunAnswered} answers).");

        // Opcode 1: map UDP HomePort for an hour, asking for the same port outside.
        var request = new byte[12];
        request[1] = 1;
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(4), HomePort);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(6), HomePort);
        BinaryPrimitives.WriteUInt32BigEndian(request.AsSpan(8), 3600);
        var mapping = await AskAsync(natPmp, gateway, request, NatPmpSucceeded(1, 16), net, home);
        Assert.Equal(129, mapping[1]);
        Assert.Equal(HomePort, BinaryPrimitives.ReadUInt16BigEndian(mapping.AsSpan(8)));
        var mapped = new IPEndPoint(home.PublicIPv4, BinaryPrimitives.ReadUInt16BigEndian(mapping.AsSpan(10)));
        Assert.True(BinaryPrimitives.ReadUInt32BigEndian(mapping.AsSpan(12)) > 0, "The mapping was granted no lifetime.");

        await AssertStrangerReachesAsync(stranger, home, HomePort, mapped);
    }

    [Fact]
    public async Task Pcp_MapRequest_AssignsThePublicAddressAndAPortAStrangerReaches()
    {
        using var net = SimulatedInternet.Create();
        var home = net.AddHome("upnp", HomeKind.UpnpRouter);
        var stranger = net.AddPublicHost("pubc");
        using var pcp = NamespaceSockets.Udp(home.Host.Namespace, new IPEndPoint(home.Host.V4, 0));
        const int internalPort = HomePort + 1;

        // RFC 6887: a 24-byte header (version 2, MAP, lifetime, the client's address as
        // IPv4-mapped IPv6) and MAP's 36 bytes (nonce, UDP, internal port, no suggestion).
        var request = new byte[60];
        request[0] = 2;
        request[1] = 1;
        BinaryPrimitives.WriteUInt32BigEndian(request.AsSpan(4), 3600);
        MappedIPv4(home.Host.V4).CopyTo(request.AsSpan(8));
        var nonce = System.Security.Cryptography.RandomNumberGenerator.GetBytes(12);
        nonce.CopyTo(request.AsSpan(24));
        request[36] = 17;
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(40), internalPort);
        MappedIPv4(IPAddress.Any).CopyTo(request.AsSpan(44));

        var answer = await AskAsync(pcp, new IPEndPoint(home.Gateway!, NatPmpPort), request, a => a.Length == 60 && a[0] == 2 && a[1] == 0x81 && a[3] == 0, net, home);

        Assert.Equal(nonce, answer.AsSpan(24, 12).ToArray());
        Assert.Equal(internalPort, BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(40)));
        Assert.Equal(MappedIPv4(home.PublicIPv4), answer.AsSpan(44, 16).ToArray());
        Assert.True(BinaryPrimitives.ReadUInt32BigEndian(answer.AsSpan(4)) > 0, "The mapping was granted no lifetime.");
        var mapped = new IPEndPoint(home.PublicIPv4, BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(42)));
        await AssertStrangerReachesAsync(stranger, home, internalPort, mapped);
    }

    private static byte[] MappedIPv4(IPAddress address) => address.MapToIPv6().GetAddressBytes();

    /// <summary>A NAT-PMP answer to <paramref name="opcode"/>: its length, version 0, opcode + 128, result 0 (success).</summary>
    private static Func<byte[], bool> NatPmpSucceeded(byte opcode, int length) =>
        answer => answer.Length == length && answer[0] == 0 && answer[1] == opcode + 128 && BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(2)) == 0;

    /// <summary>A stranger that the home never talked to reaches the home host's <paramref name="port"/> at <paramref name="mapped"/>.</summary>
    private static async Task AssertStrangerReachesAsync(SimHost stranger, SimHome home, int port, IPEndPoint mapped)
    {
        using var homeSocket = NamespaceSockets.Udp(home.Host.Namespace, new IPEndPoint(home.Host.V4, port));
        using var strangerSocket = NamespaceSockets.Udp(stranger.Namespace, new IPEndPoint(stranger.V4, 0));
        var buffer = new byte[64];
        using var deadline = new CancellationTokenSource(Timeout);
        var receiving = homeSocket.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), deadline.Token).AsTask();
        for (var attempt = 0; attempt < 30 && !receiving.IsCompleted; attempt++)
        {
            await strangerSocket.SendToAsync("through the mapping"u8.ToArray(), mapped);
            await Task.WhenAny(receiving, Task.Delay(TimeSpan.FromSeconds(1)));
        }

        var got = await receiving.WaitAsync(Timeout);
        Assert.Equal(stranger.V4, ((IPEndPoint)got.RemoteEndPoint).Address);
        Assert.Equal("through the mapping"u8.ToArray(), buffer.AsSpan(0, got.ReceivedBytes).ToArray());
    }

    /// <summary>
    /// Sends a request every second until an answer that <paramref name="succeeded"/> accepts comes
    /// (miniupnpd answers only once its STUN check is done); fails with the last answer and
    /// miniupnpd's log after the timeout.
    /// </summary>
    private static async Task<byte[]> AskAsync(Socket socket, IPEndPoint gateway, byte[] request, Func<byte[], bool> succeeded, SimulatedInternet net, SimHome home)
    {
        var buffer = new byte[64];
        var last = "no answer";
        using var deadline = new CancellationTokenSource(Timeout);
        for (var attempt = 0; attempt < 60; attempt++)
        {
            await socket.SendToAsync(request, gateway);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token);
            wait.CancelAfter(TimeSpan.FromSeconds(1));
            try
            {
                var got = await socket.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), wait.Token);
                var answer = buffer.AsSpan(0, got.ReceivedBytes).ToArray();
                last = Convert.ToHexString(answer);
                if (succeeded(answer))
                {
                    return answer;
                }
            }
            catch (OperationCanceledException) when (!deadline.IsCancellationRequested)
            {
                // No answer within a second: ask again.
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        throw new Xunit.Sdk.XunitException($"miniupnpd at {gateway} gave no successful answer to {Convert.ToHexString(request.AsSpan(0, 2))}… within {Timeout.TotalSeconds} s (last: {last}).\n{net.MiniUpnpdLog(home)}");
    }
}
