using System.Net;
using SecureChat.Node.Reachability;

namespace SecureChat.Node.Tests.Reachability;

/// <summary>The node's bounded record of where contacts see it.</summary>
public sealed class ObservedAddressesTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Add_SameWitnessAndDirection_ReplacesTheEarlierReport()
    {
        var observed = new ObservedAddresses();
        observed.Add(Report("a", 40000, Now));
        observed.Add(Report("a", 40001, Now.AddMinutes(1)));
        observed.Add(Report("a", 7311, Now.AddMinutes(2)) with { Direction = ConnectionDirection.Inbound });

        var kept = observed.Snapshot();

        Assert.Equal(2, kept.Count);
        Assert.Contains(kept, o => o.Direction == ConnectionDirection.Outbound && o.Local.Port == 40001);
        Assert.Contains(kept, o => o.Direction == ConnectionDirection.Inbound);
    }

    [Fact]
    public void Add_MoreWitnessesThanCapacity_DropsTheOldest()
    {
        var observed = new ObservedAddresses();
        for (var i = 0; i < ObservedAddresses.Capacity + 10; i++)
        {
            observed.Add(Report($"peer{i}", 40000 + i, Now.AddSeconds(i)));
        }

        var kept = observed.Snapshot();

        Assert.Equal(ObservedAddresses.Capacity, kept.Count);
        Assert.DoesNotContain(kept, o => o.Witness == "peer0");
        Assert.Contains(kept, o => o.Witness == $"peer{ObservedAddresses.Capacity + 9}");
    }

    [Fact]
    public void Ended_TheReportAgesFromTheEnd()
    {
        var observed = new ObservedAddresses();
        var report = Report("a", 40000, Now);
        observed.Add(report);

        observed.Ended(report, Now.AddHours(3));

        var ended = Assert.Single(observed.Snapshot());
        Assert.False(ended.Live);
        Assert.Equal(Now.AddHours(3), ended.At);
    }

    [Fact]
    public void Ended_AfterANewerConnectionReplacedIt_LeavesTheNewerLive()
    {
        var observed = new ObservedAddresses();
        var first = Report("a", 40000, Now);
        observed.Add(first);
        observed.Add(Report("a", 40001, Now.AddMinutes(1)));

        observed.Ended(first, Now.AddMinutes(2));

        Assert.True(Assert.Single(observed.Snapshot()).Live);
    }

    private static AddressObservation Report(string witness, int localPort, DateTimeOffset at) => new(
        ObservationSource.Peer, witness, IPAddress.Parse("198.18.1.1"), new IPEndPoint(IPAddress.Parse("10.0.5.2"), localPort),
        new IPEndPoint(IPAddress.Parse("198.18.5.2"), localPort), ConnectionDirection.Outbound, at, Live: true);
}
