using System.Net;

namespace SecureChat.Net.Tests;

/// <summary>The listener's admission rules, without sockets: who gets a place and whose place is cut.</summary>
public sealed class InboundAdmissionTests
{
    private static readonly IPAddress Flooder = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress Contact = IPAddress.Parse("127.0.0.1");

    private static readonly ChannelOptions Small = new()
    {
        MaxPendingHandshakes = 4,
        MaxPendingHandshakesPerAddress = 2,
        MaxConnections = 6,
        MaxConnectionsPerAddress = 3,
    };

    [Fact]
    public void TryAdmit_AddressWithAllItsHandshakesPending_IsRefusedWhileOthersAreAdmitted()
    {
        var admission = new InboundAdmission(Small);
        using var first = Admit(admission, Flooder);
        using var second = Admit(admission, Flooder);

        Assert.Null(admission.TryAdmit(Flooder, out var refusal));
        Assert.Equal(AdmissionRefusal.AddressHandshakes, refusal);
        using var contact = Admit(admission, Contact);
        Assert.Equal(new AdmissionCounters(Pending: 3, Open: 0, Admitted: 3, Refused: 1, Evicted: 0), admission.Counters);
    }

    [Fact]
    public void TryAdmit_AfterAHandshakeFinishes_TheAddressMayHandshakeAgainUpToItsConnectionCap()
    {
        var admission = new InboundAdmission(Small);
        var tickets = new List<InboundAdmission.Ticket>();
        for (var i = 0; i < Small.MaxConnectionsPerAddress; i++)
        {
            var ticket = Admit(admission, Flooder);
            ticket.Opened();
            tickets.Add(ticket);
        }

        Assert.Null(admission.TryAdmit(Flooder, out var refusal));
        Assert.Equal(AdmissionRefusal.AddressConnections, refusal);

        // A closed connection gives its place back.
        tickets[0].Dispose();
        using var again = Admit(admission, Flooder);
        Assert.Equal(3, admission.Counters.Open + admission.Counters.Pending);
        foreach (var ticket in tickets)
        {
            ticket.Dispose();
        }
    }

    [Fact]
    public void TryAdmit_AllHandshakeSlotsTaken_CutsTheOldestForTheNewcomer()
    {
        var admission = new InboundAdmission(Small);
        var flood = Enumerable.Range(2, 4).Select(i => Admit(admission, IPAddress.Parse($"127.0.1.{i}"))).ToList();

        using var contact = Admit(admission, Contact);

        Assert.True(flood[0].Eviction.IsCancellationRequested);
        Assert.All(flood.Skip(1), t => Assert.False(t.Eviction.IsCancellationRequested));
        Assert.Equal(new AdmissionCounters(Pending: 4, Open: 0, Admitted: 5, Refused: 0, Evicted: 1), admission.Counters);

        // The cut ticket's own disposal (its handshake ending) changes nothing more.
        flood[0].Dispose();
        Assert.Equal(4, admission.Counters.Pending);
        foreach (var ticket in flood.Skip(1))
        {
            ticket.Dispose();
        }

        Assert.Equal(1, admission.Counters.Pending);
    }

    [Fact]
    public void TryAdmit_OpenConnectionsAreNeverCut_NewcomersAreRefusedAtTheTotalCap()
    {
        var admission = new InboundAdmission(Small);
        var open = Enumerable.Range(2, Small.MaxConnections).Select(i =>
        {
            var ticket = Admit(admission, IPAddress.Parse($"127.0.2.{i}"));
            ticket.Opened();
            return ticket;
        }).ToList();

        Assert.Null(admission.TryAdmit(Contact, out var refusal));
        Assert.Equal(AdmissionRefusal.TotalConnections, refusal);
        Assert.All(open, t => Assert.False(t.Eviction.IsCancellationRequested));
        foreach (var ticket in open)
        {
            ticket.Dispose();
        }

        Assert.Equal(new AdmissionCounters(0, 0, Small.MaxConnections, 1, 0), admission.Counters);
    }

    [Fact]
    public void TryAdmit_IPv6AddressesOfOneSlash64_CountAsOneAddress_AndMappedIPv4AsItsIPv4()
    {
        var admission = new InboundAdmission(Small);
        using var a = Admit(admission, IPAddress.Parse("2001:db8:1:2::1"));
        using var b = Admit(admission, IPAddress.Parse("2001:db8:1:2:ffff::9"));
        Assert.Null(admission.TryAdmit(IPAddress.Parse("2001:db8:1:2:aaaa::1"), out var refusal));
        Assert.Equal(AdmissionRefusal.AddressHandshakes, refusal);
        using var otherPrefix = Admit(admission, IPAddress.Parse("2001:db8:1:3::1"));

        using var v4 = Admit(admission, Flooder);
        using var mapped = Admit(admission, Flooder.MapToIPv6());
        Assert.Null(admission.TryAdmit(Flooder, out refusal));
        Assert.Equal(AdmissionRefusal.AddressHandshakes, refusal);
    }

    private static InboundAdmission.Ticket Admit(InboundAdmission admission, IPAddress address)
    {
        var ticket = admission.TryAdmit(address, out var refusal);
        Assert.True(ticket is not null, $"{address} was refused: {refusal}");
        return ticket!;
    }
}
