using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;
using SecureChat.Net.PortMapping;

namespace SecureChat.Net.Tests.PortMapping;

/// <summary>
/// <see cref="NatPmpMapper"/> and <see cref="PcpMapper"/> against a scripted router on loopback:
/// what each kind of answer comes to, the bounded retransmission on a fake clock, and cancellation.
/// (The real router, miniupnpd, is in SecureChat.NetSim.Tests' PortMapperTests.)
/// </summary>
public sealed class MapperTests
{
    private static readonly DateTimeOffset Start = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);

    [Fact]
    public async Task NatPmpMapper_RouterGrants_LeaseOnTheExternalAddressExpiringByTheClock()
    {
        var time = new FakeTimeProvider(Start);
        await using var router = new ScriptedRouter(request => [NatPmpAnswer(request, "198.18.0.5")]);
        var result = await new NatPmpMapper(router.Endpoint, time).MapAsync(MappingProtocol.Tcp, 40000, TimeSpan.FromHours(2), CancellationToken.None);

        Assert.Equal(MappingFailure.None, result.Failure);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("198.18.0.5"), 40001), result.Lease!.External);
        Assert.Equal(Start + TimeSpan.FromSeconds(7200), result.Lease.Expires);
        Assert.Equal("NAT-PMP", result.Lease.Method);

        var requests = router.Received;
        Assert.Equal([0, 0], requests[0]);
        Assert.Equal(Convert.FromHexString("000200009C409C4000001C20"), requests[1]);
    }

    [Fact]
    public async Task NatPmpMapper_RouterBehindAnotherNat_IsNotPublic()
    {
        await using var router = new ScriptedRouter(request => [NatPmpAnswer(request, "100.64.1.2")]);
        var result = await new NatPmpMapper(router.Endpoint, new FakeTimeProvider(Start)).MapAsync(MappingProtocol.Udp, 40000, TimeSpan.FromHours(1), CancellationToken.None);
        Assert.Equal(MappingFailure.NotPublic, result.Failure);
        Assert.Null(result.Lease);
        Assert.Contains("100.64.1.2", result.Sentence);
    }

    [Fact]
    public async Task NatPmpMapper_RouterRefuses_IsRefusedWithTheCodesMeaning()
    {
        await using var router = new ScriptedRouter(request => [[0, (byte)(128 + request[1]), 0, 2, 0, 0, 0, 1]]);
        var result = await new NatPmpMapper(router.Endpoint, new FakeTimeProvider(Start)).MapAsync(MappingProtocol.Udp, 40000, TimeSpan.FromHours(1), CancellationToken.None);
        Assert.Equal(MappingFailure.Refused, result.Failure);
        Assert.Contains("not allowed", result.Sentence);
    }

    [Fact]
    public async Task NatPmpMapper_Silence_IsNoRouterAfterFourTriesOnTheDoublingSchedule()
    {
        var time = new FakeTimeProvider(Start);
        await using var router = new ScriptedRouter(_ => []);
        var mapping = new NatPmpMapper(router.Endpoint, time).MapAsync(MappingProtocol.Udp, 40000, TimeSpan.FromHours(1), CancellationToken.None);

        // Each retransmission comes only once the clock passed the previous wait: 250, 500, 1000, 2000 ms.
        foreach (var wait in new[] { 250, 500, 1000, 2000 })
        {
            await router.NextRequestAsync();
            Assert.False(mapping.IsCompleted);
            time.Advance(TimeSpan.FromMilliseconds(wait - 1));
            Assert.False(mapping.IsCompleted);
            time.Advance(TimeSpan.FromMilliseconds(1));
        }

        var result = await mapping;
        Assert.Equal(MappingFailure.NoRouter, result.Failure);
        Assert.Equal(4, router.Received.Count);
    }

    [Fact]
    public async Task NatPmpMapper_Cancelled_Throws()
    {
        await using var router = new ScriptedRouter(_ => []);
        using var cancel = new CancellationTokenSource();
        var mapping = new NatPmpMapper(router.Endpoint, new FakeTimeProvider(Start)).MapAsync(MappingProtocol.Udp, 40000, TimeSpan.FromHours(1), cancel.Token);
        await router.NextRequestAsync();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => mapping);
    }

    [Fact]
    public async Task PcpMapper_AnnounceAndAnotherNonceBeforeTheAnswer_MapsWithTheRightAnswer()
    {
        var time = new FakeTimeProvider(Start);
        await using var router = new ScriptedRouter(request =>
        [
            Convert.FromHexString("028000000000000000000005000000000000000000000000"),
            PcpAnswer(request, "198.18.0.5", otherNonce: true),
            PcpAnswer(request, "198.18.0.5"),
        ]);
        var mapper = new PcpMapper(router.Endpoint, time);
        var result = await mapper.MapAsync(MappingProtocol.Udp, 40000, TimeSpan.FromHours(1), CancellationToken.None);

        Assert.Equal(MappingFailure.None, result.Failure);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("198.18.0.5"), 40001), result.Lease!.External);
        Assert.Equal(Start + TimeSpan.FromSeconds(3600), result.Lease.Expires);
        var request = router.Received.Single();
        Assert.Equal(MappedLoopback, request.AsSpan(8, 16).ToArray());
        Assert.Equal(17, request[36]);
    }

    [Fact]
    public async Task PcpMapper_RenewAndUnmap_UseTheMappingsNonceAndLifetimeZero()
    {
        await using var router = new ScriptedRouter(request => [PcpAnswer(request, "198.18.0.5")]);
        var mapper = new PcpMapper(router.Endpoint, new FakeTimeProvider(Start));
        var first = await mapper.MapAsync(MappingProtocol.Tcp, 40000, TimeSpan.FromHours(1), CancellationToken.None);
        var renewed = await mapper.MapAsync(MappingProtocol.Tcp, 40000, TimeSpan.FromHours(1), CancellationToken.None);
        var removed = await mapper.UnmapAsync(renewed.Lease!, CancellationToken.None);

        Assert.Equal(MappingFailure.None, first.Failure);
        Assert.Equal(MappingFailure.None, removed.Failure);
        var requests = router.Received;
        Assert.Equal(3, requests.Count);
        Assert.All(requests, r => Assert.Equal(requests[0].AsSpan(24, 12).ToArray(), r.AsSpan(24, 12).ToArray()));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(requests[2].AsSpan(4)));
        Assert.Equal(MappingFailure.Refused, (await mapper.UnmapAsync(renewed.Lease!, CancellationToken.None)).Failure);
    }

    [Fact]
    public async Task PcpMapper_OnlyAnswersForAnotherNonce_IsMalformedAfterTheRetries()
    {
        var time = new FakeTimeProvider(Start);
        await using var router = new ScriptedRouter(request => [PcpAnswer(request, "198.18.0.5", otherNonce: true)]);
        var mapping = new PcpMapper(router.Endpoint, time).MapAsync(MappingProtocol.Tcp, 40000, TimeSpan.FromHours(1), CancellationToken.None);
        foreach (var wait in new[] { 250, 500, 1000, 2000 })
        {
            await router.NextRequestAsync();
            time.Advance(TimeSpan.FromMilliseconds(wait));
        }

        var result = await mapping;
        Assert.Equal(MappingFailure.Malformed, result.Failure);
        Assert.Contains("nonce", result.Sentence);
    }

    [Fact]
    public async Task PcpMapper_PrivateExternalAddress_IsNotPublic()
    {
        await using var router = new ScriptedRouter(request => [PcpAnswer(request, "192.168.0.1")]);
        var result = await new PcpMapper(router.Endpoint, new FakeTimeProvider(Start)).MapAsync(MappingProtocol.Tcp, 40000, TimeSpan.FromHours(1), CancellationToken.None);
        Assert.Equal(MappingFailure.NotPublic, result.Failure);
    }

    private static readonly byte[] MappedLoopback = IPAddress.Loopback.MapToIPv6().GetAddressBytes();

    /// <summary>A NAT-PMP router's success answer to <paramref name="request"/>: the external address, or the internal port + 1 for two hours.</summary>
    private static byte[] NatPmpAnswer(byte[] request, string external)
    {
        if (request[1] == 0)
        {
            return [0, 128, 0, 0, 0, 0, 0, 9, .. IPAddress.Parse(external).GetAddressBytes()];
        }

        var answer = new byte[16];
        answer[1] = (byte)(128 + request[1]);
        var port = BinaryPrimitives.ReadUInt16BigEndian(request.AsSpan(4));
        BinaryPrimitives.WriteUInt16BigEndian(answer.AsSpan(8), port);
        BinaryPrimitives.WriteUInt16BigEndian(answer.AsSpan(10), (ushort)(port + 1));
        BinaryPrimitives.WriteUInt32BigEndian(answer.AsSpan(12), 7200);
        return answer;
    }

    /// <summary>A PCP router's answer to a MAP <paramref name="request"/>: the port + 1 on <paramref name="external"/>, the lifetime asked for.</summary>
    private static byte[] PcpAnswer(byte[] request, string external, bool otherNonce = false)
    {
        var answer = new byte[60];
        answer[0] = 2;
        answer[1] = 0x81;
        request.AsSpan(4, 4).CopyTo(answer.AsSpan(4));
        request.AsSpan(24, 36).CopyTo(answer.AsSpan(24));
        if (otherNonce)
        {
            answer[24] ^= 0xFF;
        }

        var port = BinaryPrimitives.ReadUInt16BigEndian(request.AsSpan(40));
        BinaryPrimitives.WriteUInt16BigEndian(answer.AsSpan(42), (ushort)(port + 1));
        PcpCodec.WriteAddress(IPAddress.Parse(external), answer.AsSpan(44, 16));
        return answer;
    }

    /// <summary>A router on loopback that answers each request with the datagrams its script gives, and lets a test await each request.</summary>
    private sealed class ScriptedRouter : IAsyncDisposable
    {
        private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        private readonly Channel<byte[]> _requests = Channel.CreateUnbounded<byte[]>();
        private readonly List<byte[]> _received = [];
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _serving;

        public ScriptedRouter(Func<byte[], byte[][]> script)
        {
            _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            Endpoint = (IPEndPoint)_socket.LocalEndPoint!;
            _serving = ServeAsync(script);
        }

        public IPEndPoint Endpoint { get; }

        public List<byte[]> Received
        {
            get
            {
                lock (_received)
                {
                    return [.. _received];
                }
            }
        }

        public async Task NextRequestAsync()
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _requests.Reader.ReadAsync(deadline.Token);
        }

        private async Task ServeAsync(Func<byte[], byte[][]> script)
        {
            var buffer = new byte[2048];
            try
            {
                while (true)
                {
                    var got = await _socket.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
                    var request = buffer.AsSpan(0, got.ReceivedBytes).ToArray();
                    lock (_received)
                    {
                        _received.Add(request);
                    }

                    foreach (var answer in script(request))
                    {
                        await _socket.SendToAsync(answer, got.RemoteEndPoint, _stop.Token);
                    }

                    _requests.Writer.TryWrite(request);
                }
            }
            catch (OperationCanceledException)
            {
                // The test is over.
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _serving;
            _socket.Dispose();
            _stop.Dispose();
        }
    }
}
