using System.Net;
using Microsoft.Extensions.Time.Testing;
using SecureChat.Net.PortMapping;
using SecureChat.Node.Reachability;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.Node.Tests.Reachability;

/// <summary>
/// The mapping service's rounds against in-memory routers on a fake clock: each test runs the
/// rounds itself (<see cref="PortMappingService.RoundAsync"/>) and moves the clock by the wait a
/// round asked for, so renewals, restarts and back-off are seen without waiting.
/// </summary>
public sealed class PortMappingServiceTests(ITestOutputHelper output)
{
    private const int TcpPort = 7311;
    private const int UdpPort = 7312;

    private static readonly PortMappingOptions Options = new() { Lease = TimeSpan.FromSeconds(7200), CheckInterval = TimeSpan.FromSeconds(60), MaxRetryDelay = TimeSpan.FromMinutes(8) };

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly List<(PortMappingStatus Status, bool News)> _rounds = [];

    [Fact]
    public async Task RoundAsync_RouterMaps_BothLeasesAndNextRoundAtCheckInterval()
    {
        var pcp = new FakeRouter("PCP", _time);
        await using var service = Service([pcp.Client()]);

        var next = await service.RoundAsync(CancellationToken.None);

        var (status, news) = _rounds.Single();
        Assert.True(news);
        Assert.Equal(new IPEndPoint(pcp.External, TcpPort), status.Tcp?.External);
        Assert.Equal(new IPEndPoint(pcp.External, UdpPort), status.Udp?.External);
        Assert.Equal($"mapped TCP port {TcpPort} to 198.18.7.7:{TcpPort} and UDP port {UdpPort} to 198.18.7.7:{UdpPort} through PCP", status.Sentence);
        Assert.Equal(Options.CheckInterval, next);
    }

    [Fact]
    public async Task RoundAsync_RouterGrantsShortLease_RenewsAtHalfItsLifetimeBeforeExpiry()
    {
        var natpmp = new FakeRouter("NAT-PMP", _time) { MaxLeaseSeconds = 100 };
        await using var service = Service([natpmp.Client()], Options with { CheckInterval = TimeSpan.FromHours(1) });

        var next = await service.RoundAsync(CancellationToken.None);
        var first = _rounds[^1].Status.Tcp!;
        Assert.Equal(TimeSpan.FromSeconds(50), next);

        _time.Advance(next);
        await service.RoundAsync(CancellationToken.None);

        var renewed = _rounds[^1].Status.Tcp!;
        Assert.Equal(4, natpmp.MapCalls);
        Assert.True(renewed.Expires > first.Expires, $"the renewal should move the expiry past {first.Expires:u}; it is {renewed.Expires:u}");
        Assert.False(_rounds[^1].News, "a renewal that changes nothing a person sees is no news");
    }

    [Fact]
    public async Task RoundAsync_RouterRestartedEpochWentBack_MappingsRestoredWithinOneCheck()
    {
        var pcp = new FakeRouter("PCP", _time);
        await using var service = Service([pcp.Client()]);
        await service.RoundAsync(CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(30));

        pcp.Restart();
        Assert.False(pcp.Holds(MappingProtocol.Tcp, TcpPort));
        _time.Advance(TimeSpan.FromSeconds(30));
        await service.RoundAsync(CancellationToken.None);

        Assert.True(pcp.Holds(MappingProtocol.Tcp, TcpPort));
        Assert.True(pcp.Holds(MappingProtocol.Udp, UdpPort));
        Assert.Equal(new IPEndPoint(pcp.External, TcpPort), _rounds[^1].Status.Tcp?.External);
    }

    [Fact]
    public async Task RoundAsync_UpnpEntryVanished_AskedAndMappedAgain()
    {
        var upnp = new FakeRouter("UPnP-IGD", _time);
        var asked = 0;
        var client = new MappingClient(upnp, (lease, _) =>
        {
            asked++;
            return Task.FromResult<bool?>(upnp.Holds(lease.Protocol, lease.InternalPort));
        });
        await using var service = Service([client]);
        await service.RoundAsync(CancellationToken.None);

        upnp.Restart();
        _time.Advance(Options.CheckInterval);
        await service.RoundAsync(CancellationToken.None);

        Assert.Equal(2, asked);
        Assert.True(upnp.Holds(MappingProtocol.Tcp, TcpPort));
        Assert.True(upnp.Holds(MappingProtocol.Udp, UdpPort));
    }

    [Theory]
    [InlineData(1000u, 0, 1060u, 60, false)]
    [InlineData(1000u, 0, 1059u, 60, false)]
    [InlineData(1000u, 0, 20u, 60, true)]
    [InlineData(1000u, 0, 1000u, 60, true)]
    [InlineData(1000u, 0, 1000u, 2, false)]
    public void EpochWentBack_ComparedWithTheClientsClock_RestartSeen(uint before, int seenAt, uint after, int now, bool restarted)
    {
        var start = _time.GetUtcNow();
        Assert.Equal(restarted, PortMappingService.EpochWentBack(before, start.AddSeconds(seenAt), after, start.AddSeconds(now)));
    }

    [Fact]
    public void EpochWentBack_NoEpoch_NothingConcluded() =>
        Assert.False(PortMappingService.EpochWentBack(null, _time.GetUtcNow(), 5, _time.GetUtcNow().AddHours(1)));

    [Fact]
    public async Task RoundAsync_ExternalAddressChanged_NewsWithTheNewEndpoint()
    {
        var pcp = new FakeRouter("PCP", _time);
        await using var service = Service([pcp.Client()]);
        await service.RoundAsync(CancellationToken.None);

        pcp.External = IPAddress.Parse("198.18.9.9");
        _time.Advance(Options.CheckInterval);
        await service.RoundAsync(CancellationToken.None);

        var (status, news) = _rounds[^1];
        Assert.True(news);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("198.18.9.9"), TcpPort), status.Tcp?.External);
        Assert.Contains("198.18.9.9", status.Sentence, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RoundAsync_FailedRenewal_AddressKeptUntilARouterAnswerMaps()
    {
        var pcp = new FakeRouter("PCP", _time);
        await using var service = Service([pcp.Client()]);
        await service.RoundAsync(CancellationToken.None);

        // The router now claims another address, but in an answer that is not a mapping: nothing moves.
        pcp.External = IPAddress.Parse("198.18.9.9");
        pcp.Failure = MappingResult.Failed(MappingFailure.Malformed, "the answer was truncated");
        _time.Advance(Options.CheckInterval);
        await service.RoundAsync(CancellationToken.None);

        Assert.Equal(new IPEndPoint(IPAddress.Parse("198.18.7.7"), TcpPort), _rounds[^1].Status.Tcp?.External);
        Assert.False(_rounds[^1].News);
    }

    [Fact]
    public async Task RoundAsync_FirstProtocolSilent_NextProtocolMaps()
    {
        var pcp = new FakeRouter("PCP", _time) { Failure = MappingResult.Failed(MappingFailure.NoRouter, "nothing answered") };
        var natpmp = new FakeRouter("NAT-PMP", _time);
        await using var service = Service([pcp.Client(), natpmp.Client()]);

        await service.RoundAsync(CancellationToken.None);

        var status = _rounds[^1].Status;
        Assert.Equal("NAT-PMP", status.Tcp?.Method);
        Assert.Equal("NAT-PMP", status.Udp?.Method);
        Assert.EndsWith("through NAT-PMP", status.Sentence, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RoundAsync_NoRouterAnswers_SentenceNamesEveryProtocolAndRetriesBackOff()
    {
        var silent = MappingResult.Failed(MappingFailure.NoRouter, "nothing answered");
        var routers = new[] { new FakeRouter("PCP", _time), new FakeRouter("NAT-PMP", _time), new FakeRouter("UPnP-IGD", _time) };
        foreach (var router in routers)
        {
            router.Failure = silent;
        }

        await using var service = Service([.. routers.Select(r => r.Client())]);
        var waits = new List<TimeSpan>();
        for (var i = 0; i < 6; i++)
        {
            waits.Add(await service.RoundAsync(CancellationToken.None));
            _time.Advance(waits[^1]);
        }

        var status = _rounds[^1].Status;
        Assert.Null(status.Tcp);
        Assert.Equal($"TCP port {TcpPort} is not mapped: no router answered PCP, NAT-PMP or UPnP-IGD", status.Sentence);
        Assert.Equal([60, 120, 240, 480, 480, 480], waits.Select(w => (int)w.TotalSeconds));
        Assert.Single(_rounds, r => r.News);
    }

    [Theory]
    [InlineData(MappingFailure.NotPublic, "the router's external address is not reachable from the internet, so a mapping would not help (PCP: 100.64.0.2 is shared)")]
    [InlineData(MappingFailure.Refused, "the router refused (PCP: NOT_AUTHORIZED)")]
    [InlineData(MappingFailure.Malformed, "the router's answers did not follow the protocol (PCP: a truncated answer)")]
    public async Task RoundAsync_RouterDoesNotMap_SentenceSaysWhy(MappingFailure failure, string why)
    {
        var sentence = failure switch
        {
            MappingFailure.NotPublic => "100.64.0.2 is shared",
            MappingFailure.Refused => "NOT_AUTHORIZED",
            _ => "a truncated answer",
        };
        var pcp = new FakeRouter("PCP", _time) { Failure = MappingResult.Failed(failure, sentence) };
        var natpmp = new FakeRouter("NAT-PMP", _time) { Failure = MappingResult.Failed(MappingFailure.NoRouter, "nothing answered") };
        await using var service = Service([pcp.Client(), natpmp.Client()]);

        await service.RoundAsync(CancellationToken.None);

        Assert.Equal($"TCP port {TcpPort} is not mapped: {why}", _rounds[^1].Status.Sentence);
    }

    [Fact]
    public async Task RoundAsync_ClientThrows_FailedResultNotException()
    {
        var broken = new FakeRouter("PCP", _time) { Throws = true };
        var natpmp = new FakeRouter("NAT-PMP", _time);
        await using var service = Service([broken.Client(), natpmp.Client()]);

        await service.RoundAsync(CancellationToken.None);

        Assert.Equal("NAT-PMP", _rounds[^1].Status.Tcp?.Method);
    }

    [Fact]
    public async Task RoundAsync_RouterSilentWhileLeaseStands_LeaseKeptThenOthersTriedAfterExpiry()
    {
        var pcp = new FakeRouter("PCP", _time) { MaxLeaseSeconds = 300 };
        var natpmp = new FakeRouter("NAT-PMP", _time);
        await using var service = Service([pcp.Client(), natpmp.Client()]);
        await service.RoundAsync(CancellationToken.None);

        pcp.Failure = MappingResult.Failed(MappingFailure.NoRouter, "nothing answered");
        _time.Advance(TimeSpan.FromSeconds(60));
        await service.RoundAsync(CancellationToken.None);
        Assert.Equal("PCP", _rounds[^1].Status.Tcp?.Method);
        Assert.Equal(0, natpmp.MapCalls);

        _time.Advance(TimeSpan.FromSeconds(300));
        await service.RoundAsync(CancellationToken.None);
        Assert.Equal("NAT-PMP", _rounds[^1].Status.Tcp?.Method);
    }

    [Fact]
    public async Task RoundAsync_ListenPortMoved_OldMappingGivenBackNewOneMapped()
    {
        var pcp = new FakeRouter("PCP", _time);
        var port = TcpPort;
        await using var service = new PortMappingService(Options, _time, new TestOutputLogger(output, "mapping"), () => (port, null), () => [pcp.Client()], (s, n) => _rounds.Add((s, n)));
        await service.RoundAsync(CancellationToken.None);

        port = 7400;
        await service.RoundAsync(CancellationToken.None);

        Assert.Equal(TcpPort, Assert.Single(pcp.Unmapped).InternalPort);
        Assert.True(pcp.Holds(MappingProtocol.Tcp, 7400));
        Assert.Equal(7400, _rounds[^1].Status.Tcp?.InternalPort);
    }

    [Fact]
    public async Task DisposeAsync_LeasesHeld_GivenBackToTheRouter()
    {
        var pcp = new FakeRouter("PCP", _time);
        var service = Service([pcp.Client()]);
        await service.RoundAsync(CancellationToken.None);

        await service.DisposeAsync();

        Assert.Equal(2, pcp.Unmapped.Count);
        Assert.False(pcp.Holds(MappingProtocol.Tcp, TcpPort));
        Assert.False(pcp.Holds(MappingProtocol.Udp, UdpPort));
    }

    [Fact]
    public async Task DisposeAsync_RouterHangs_EndsAtTheUnmapTimeout()
    {
        var pcp = new FakeRouter("PCP", _time);
        var service = Service([pcp.Client()]);
        await service.RoundAsync(CancellationToken.None);
        pcp.Hangs = true;

        var stopping = service.DisposeAsync().AsTask();
        Assert.False(stopping.IsCompleted);

        // The bound is a timer on the fake clock: the stop ends when the clock passes it, not before.
        _time.Advance(Options.UnmapTimeout - TimeSpan.FromMilliseconds(1));
        Assert.False(stopping.IsCompleted);
        await Eventually.HoldsAsync(
            () =>
            {
                _time.Advance(TimeSpan.FromMilliseconds(1));
                return stopping.IsCompleted;
            },
            "the stop ended at the bound");
        await stopping;
        Assert.Empty(pcp.Unmapped);
    }

    private PortMappingService Service(IReadOnlyList<MappingClient> clients, PortMappingOptions? options = null) =>
        new(options ?? Options, _time, new TestOutputLogger(output, "mapping"), () => (TcpPort, UdpPort), () => clients, (status, news) => _rounds.Add((status, news)));
}
