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
    public void TryAdmit_AddressWithAllItsHandshakesPending_CutsThatAddresssOldestForItsNewcomer()
    {
        var admission = new InboundAdmission(Small);
        using var other = Admit(admission, Flooder);
        using var first = Admit(admission, Contact);
        using var second = Admit(admission, Contact);

        // The contact's third connection takes the place of its own oldest, not of the older one from elsewhere.
        using var third = Admit(admission, Contact);
        Assert.True(first.Eviction.IsCancellationRequested);
        Assert.False(second.Eviction.IsCancellationRequested);
        Assert.False(other.Eviction.IsCancellationRequested);
        Assert.Equal(new AdmissionCounters(Pending: 3, Open: 0, Admitted: 4, Refused: 0, Evicted: 1), admission.Counters);

        // The cut handshake ending afterwards gives back nothing it no longer holds.
        first.Dispose();
        using var fourth = Admit(admission, Contact);
        Assert.True(second.Eviction.IsCancellationRequested);
        Assert.Equal(new AdmissionCounters(Pending: 3, Open: 0, Admitted: 5, Refused: 0, Evicted: 2), admission.Counters);
    }

    [Fact]
    public void TryAdmit_SilentStrangersOnAContactsAddress_NeverKeepTheContactOut()
    {
        var admission = new InboundAdmission(Small);
        var strangers = new List<InboundAdmission.Ticket>();
        for (var i = 0; i < 100; i++)
        {
            strangers.Add(Admit(admission, Contact));
        }

        // Whenever the contact's own connection arrives it gets a place; once authenticated, no
        // number of newcomers from its address cuts it.
        using var contact = Admit(admission, Contact);
        contact.Opened();
        for (var i = 0; i < 100; i++)
        {
            strangers.Add(Admit(admission, Contact));
        }

        Assert.False(contact.Eviction.IsCancellationRequested);
        Assert.Equal(Small.MaxPendingHandshakesPerAddress, strangers.Count(s => !s.Eviction.IsCancellationRequested));
        Assert.Equal(new AdmissionCounters(Pending: 2, Open: 1, Admitted: 201, Refused: 0, Evicted: 198), admission.Counters);
        foreach (var stranger in strangers)
        {
            stranger.Dispose();
        }

        Assert.Equal(new AdmissionCounters(Pending: 0, Open: 1, Admitted: 201, Refused: 0, Evicted: 198), admission.Counters);
    }

    [Fact]
    public void TryAdmit_AddressAtItsConnectionCap_CutsAHandshakeInProgressButNeverAnAuthenticatedConnection()
    {
        var admission = new InboundAdmission(Small);
        using var open1 = Admit(admission, Contact);
        using var open2 = Admit(admission, Contact);
        open1.Opened();
        open2.Opened();
        using var pending = Admit(admission, Contact);

        // Three places, one of them a handshake: the newcomer takes that one.
        using var newcomer = Admit(admission, Contact);
        Assert.True(pending.Eviction.IsCancellationRequested);
        Assert.False(open1.Eviction.IsCancellationRequested);
        Assert.False(open2.Eviction.IsCancellationRequested);

        // All three authenticated: the next one is closed, and no one is cut for it.
        newcomer.Opened();
        Assert.Null(admission.TryAdmit(Contact, out var refusal));
        Assert.Equal(AdmissionRefusal.AddressConnections, refusal);
        Assert.Equal(new AdmissionCounters(Pending: 0, Open: 3, Admitted: 4, Refused: 1, Evicted: 1), admission.Counters);
        using var other = Admit(admission, Flooder);
    }

    [Fact]
    public void TryAdmit_HandshakeCutAsItFinished_CountsAsOpenAndIsGivenBackOnce()
    {
        var admission = new InboundAdmission(Small);
        var first = Admit(admission, Contact);
        using var second = Admit(admission, Contact);
        using var third = Admit(admission, Contact);
        Assert.True(first.Eviction.IsCancellationRequested);

        // Its handshake had already finished: the peer is authenticated and is not turned away.
        first.Opened();
        Assert.Equal(new AdmissionCounters(Pending: 2, Open: 1, Admitted: 3, Refused: 0, Evicted: 1), admission.Counters);
        first.Dispose();
        first.Dispose();
        Assert.Equal(new AdmissionCounters(Pending: 2, Open: 0, Admitted: 3, Refused: 0, Evicted: 1), admission.Counters);
    }

    [Fact]
    public void TryAdmit_AfterAConnectionCloses_TheAddressMayConnectAgainUpToItsConnectionCap()
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
        var admission = new InboundAdmission(Small with { MaxPendingHandshakes = 10, MaxConnections = 10 });
        using var a = Admit(admission, IPAddress.Parse("2001:db8:1:2::1"));
        using var b = Admit(admission, IPAddress.Parse("2001:db8:1:2:ffff::9"));
        using var c = Admit(admission, IPAddress.Parse("2001:db8:1:2:aaaa::1"));
        Assert.True(a.Eviction.IsCancellationRequested);
        using var otherPrefix = Admit(admission, IPAddress.Parse("2001:db8:1:3::1"));
        Assert.False(b.Eviction.IsCancellationRequested);

        using var v4 = Admit(admission, Flooder);
        using var mapped = Admit(admission, Flooder.MapToIPv6());
        using var again = Admit(admission, Flooder);
        Assert.True(v4.Eviction.IsCancellationRequested);
        Assert.False(mapped.Eviction.IsCancellationRequested);
        Assert.Equal(2, admission.Counters.Evicted);
    }

    private static InboundAdmission.Ticket Admit(InboundAdmission admission, IPAddress address)
    {
        var ticket = admission.TryAdmit(address, out var refusal);
        Assert.True(ticket is not null, $"{address} was refused: {refusal}");
        return ticket!;
    }
}
