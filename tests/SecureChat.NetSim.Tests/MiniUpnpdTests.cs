using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace SecureChat.NetSim.Tests;

/// <summary>
/// The router that maps ports on request: miniupnpd (Debian's) in a home of the simulated internet,
/// asked in NAT-PMP's own bytes (RFC 6886), since SecureChat has no port-mapping client yet (issue
/// 17 builds it). It must tell the home its public address and forward a port it mapped, so that a
/// stranger on the public segment reaches the home host there and nowhere else.
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
        var external = await AskAsync(natPmp, gateway, [0, 0], 12, net, home);
        Assert.Equal(128, external[1]);
        Assert.Equal(new IPAddress(external.AsSpan(8, 4)), home.PublicIPv4);
        Assert.True(net.StunAnswered >= 4, $"miniupnpd answered before asking the STUN server ({net.StunAnswered} answers).");

        // Opcode 1: map UDP HomePort for an hour, asking for the same port outside.
        var request = new byte[12];
        request[1] = 1;
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(4), HomePort);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(6), HomePort);
        BinaryPrimitives.WriteUInt32BigEndian(request.AsSpan(8), 3600);
        var mapping = await AskAsync(natPmp, gateway, request, 16, net, home);
        Assert.Equal(129, mapping[1]);
        Assert.Equal(HomePort, BinaryPrimitives.ReadUInt16BigEndian(mapping.AsSpan(8)));
        var mapped = new IPEndPoint(home.PublicIPv4, BinaryPrimitives.ReadUInt16BigEndian(mapping.AsSpan(10)));
        Assert.True(BinaryPrimitives.ReadUInt32BigEndian(mapping.AsSpan(12)) > 0, "The mapping was granted no lifetime.");

        // A stranger that the home never talked to reaches the home host through the mapping.
        using var homeSocket = NamespaceSockets.Udp(home.Host.Namespace, new IPEndPoint(home.Host.V4, HomePort));
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
    /// Sends a NAT-PMP request every second until an answer of <paramref name="length"/> bytes with
    /// result 0 (success) comes; fails with the last answer and miniupnpd's log after the timeout.
    /// </summary>
    private static async Task<byte[]> AskAsync(Socket socket, IPEndPoint gateway, byte[] request, int length, SimulatedInternet net, SimHome home)
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
                if (answer.Length == length && answer[0] == 0 && answer[1] == request[1] + 128 && BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(2)) == 0)
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

        throw new Xunit.Sdk.XunitException($"miniupnpd at {gateway} gave no successful answer to opcode {request[1]} within {Timeout.TotalSeconds} s (last: {last}).\n{net.MiniUpnpdLog(home)}");
    }
}
