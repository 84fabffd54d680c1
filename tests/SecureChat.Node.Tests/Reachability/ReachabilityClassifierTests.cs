using System.Net;
using CsCheck;
using SecureChat.Net.PortMapping;
using SecureChat.Node.Reachability;

namespace SecureChat.Node.Tests.Reachability;

/// <summary>The classification of a node from its observations (docs/discovery.md, "Classification"), as a pure function.</summary>
public sealed class ReachabilityClassifierTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);
    private static readonly IPEndPoint Listen = new(IPAddress.Any, 7311);
    private static readonly IPAddress Home = IPAddress.Parse("10.0.5.2");
    private static readonly IPAddress PublicAddress = IPAddress.Parse("198.18.0.10");
    private static readonly IPAddress Router = IPAddress.Parse("198.18.5.2");

    [Fact]
    public void Classify_NoObservations_UnknownAndSaysItWaits()
    {
        var report = Classify([]);

        Assert.Equal(ReachabilityKind.Unknown, report.Kind);
        Assert.Null(report.Endpoint);
        Assert.Equal("not yet known: waiting for contacts or the DHT to say how they see this node", report.Sentence);
    }

    [Fact]
    public void Classify_NotListening_SaysNoOneCanDial()
    {
        var report = ReachabilityClassifier.Classify(new ReachabilityInputs([Peer("a", "198.18.1.1", PublicAddress, 40000, 40000)], [PublicAddress], null, null), Now);

        Assert.Equal(ReachabilityKind.NotListening, report.Kind);
        Assert.StartsWith("not listening", report.Sentence, StringComparison.Ordinal);
    }

    [Fact]
    public void Classify_RouterMappedTheListenPort_MappedAtTheLeaseAndNamesTheMethod()
    {
        var lease = new PortMappingLease(MappingProtocol.Tcp, 7311, new IPEndPoint(Router, 7311), Now.AddHours(1), "UPnP-IGD");

        var report = ReachabilityClassifier.Classify(new ReachabilityInputs([], [Home], Listen, lease), Now);

        Assert.Equal(ReachabilityKind.Mapped, report.Kind);
        Assert.Equal(new IPEndPoint(Router, 7311), report.Endpoint);
        Assert.Equal("reachable at 198.18.5.2:7311 (port mapped by the router through UPnP-IGD)", report.Sentence);
    }

    [Fact]
    public void Classify_TwoPeersSeeAnInterfaceAddress_PublicAtTheListenPort()
    {
        var report = Classify(
            [Peer("a", "198.18.1.1", PublicAddress, 40000, 40000), Peer("b", "198.18.2.1", PublicAddress, 40001, 40001)],
            PublicAddress);

        Assert.Equal(ReachabilityKind.Public, report.Kind);
        Assert.Equal(new IPEndPoint(PublicAddress, 7311), report.Endpoint);
        Assert.Equal("reachable at 198.18.0.10:7311 (a public address)", report.Sentence);
    }

    [Fact]
    public void Classify_OnePeerAlone_NeverDecides()
    {
        // One contact says this node sits at one of its own addresses, and that ports are kept:
        // alone, neither claim makes it Public or Punchable.
        Assert.Equal(ReachabilityKind.Unknown, Classify([Peer("a", "198.18.1.1", PublicAddress, 40000, 40000)], PublicAddress).Kind);
        Assert.Equal(ReachabilityKind.Unknown, Classify([Peer("a", "198.18.1.1", Router, 40000, 40000)]).Kind);
        Assert.Equal(ReachabilityKind.Unknown, Classify([Peer("a", "198.18.1.1", Router, 40000, 51234)]).Kind);
    }

    [Fact]
    public void Classify_AnyReportsOfOneAccount_NeverDecide()
    {
        // Whatever one contact says, from however many addresses, in either direction, about any
        // address (this machine's own among them): the node stays unknown.
        var addresses = Gen.Select(Gen.Byte, Gen.Byte, (a, b) => new IPAddress([198, 18, a, b]));
        var reports = Gen.Select(addresses, addresses, Gen.Int[1, 65535], Gen.Int[1, 65535], Gen.Bool, (from, seen, local, port, inbound) =>
            new AddressObservation(
                ObservationSource.Peer, "liar", from, new IPEndPoint(Home, local), new IPEndPoint(seen, port),
                inbound ? ConnectionDirection.Inbound : ConnectionDirection.Outbound, Now, Live: true));
        Gen.Select(reports.Array[1, 6], Gen.Bool).Sample((observations, claimOwn) =>
        {
            IPAddress[] interfaces = claimOwn ? [Home, .. observations.Select(o => o.Observed.Address)] : [Home];
            var report = ReachabilityClassifier.Classify(new ReachabilityInputs(observations, interfaces, Listen, null), Now);
            Assert.Equal(ReachabilityKind.Unknown, report.Kind);
        });
    }

    [Fact]
    public void Classify_OneAccountFromTwoAddresses_CountsOnce()
    {
        var report = Classify([Peer("a", "198.18.1.1", Router, 40000, 40000), Peer("a", "198.18.2.1", Router, 40001, 40001, ConnectionDirection.Inbound)]);

        Assert.Equal(ReachabilityKind.Unknown, report.Kind);
    }

    [Fact]
    public void Classify_TwoAccountsFromOneAddress_CountOnce()
    {
        // Two identities behind one address are one party as far as anyone can tell: a liar with two accounts.
        var report = Classify([Peer("a", "198.18.1.1", Router, 40000, 40000), Peer("b", "198.18.1.1", Router, 40001, 40001)]);

        Assert.Equal(ReachabilityKind.Unknown, report.Kind);
        Assert.Equal(1, ReachabilityClassifier.Witnesses([Peer("a", "198.18.1.1", Router, 1, 1), Peer("b", "::ffff:198.18.1.1", Router, 2, 2)]));
    }

    [Fact]
    public void Classify_TwoPeersSeeTheLocalPortKept_Punchable()
    {
        var report = Classify([Peer("a", "198.18.1.1", Router, 40000, 40000), Peer("b", "198.18.2.1", Router, 40001, 40001)]);

        Assert.Equal(ReachabilityKind.Punchable, report.Kind);
        Assert.Equal(Router, report.Endpoint!.Address);
        Assert.Equal("behind a NAT without port mapping (seen at 198.18.5.2, ports kept): contacts can reach you only through a relay (or when they are reachable themselves)", report.Sentence);
    }

    [Fact]
    public void Classify_TheDhtAndOnePeerAgree_Enough()
    {
        var report = Classify([Dht(Router, 7311, 7311), Peer("a", "198.18.1.1", Router, 40000, 40000)]);

        Assert.Equal(ReachabilityKind.Punchable, report.Kind);
    }

    [Fact]
    public void Classify_TheDhtAloneSeesAnInterfaceAddress_StillUnknownButSaysWhatItSees()
    {
        var report = Classify([Dht(PublicAddress, 7311, 7311)], PublicAddress);

        Assert.Equal(ReachabilityKind.Unknown, report.Kind);
        Assert.Equal("not yet confirmed: the DHT sees this node at its own address 198.18.0.10, and no contact has said so yet", report.Sentence);
    }

    [Fact]
    public void Classify_TheDhtAloneSeesARouter_StillUnknownButNamesTheNat()
    {
        var report = Classify([Dht(Router, 7311, 7311)]);

        Assert.Equal(ReachabilityKind.Unknown, report.Kind);
        Assert.Equal(new IPEndPoint(Router, 0), report.Endpoint);
        Assert.Equal("not yet confirmed: the DHT sees this node at 198.18.5.2, behind a NAT without port mapping, and no contact has said so yet: contacts can reach you only through a relay (or when they are reachable themselves)", report.Sentence);
    }

    [Fact]
    public void Classify_OneContactAlone_ItsWordIsNotRepeated()
    {
        var report = Classify([Peer("liar", "198.18.9.9", IPAddress.Parse("198.18.66.6"), 40000, 40000)]);

        Assert.DoesNotContain("198.18.66.6", report.Sentence, StringComparison.Ordinal);
        Assert.Null(report.Endpoint);
    }

    [Fact]
    public void Classify_TheDhtAndOnePeerSeeAnInterfaceAddress_Public()
    {
        var report = Classify([Dht(PublicAddress, 7311, 7311), Peer("a", "198.18.1.1", PublicAddress, 40000, 40000)], PublicAddress);

        Assert.Equal(ReachabilityKind.Public, report.Kind);
    }

    [Fact]
    public void Classify_TwoPeersSeePortsChanged_Symmetric()
    {
        var report = Classify([Peer("a", "198.18.1.1", Router, 40000, 61001), Peer("b", "198.18.2.1", Router, 40001, 52770)]);

        Assert.Equal(ReachabilityKind.Symmetric, report.Kind);
        Assert.Equal("behind a NAT that changes ports (symmetric; seen at 198.18.5.2): contacts can reach you only through a relay (or when they are reachable themselves)", report.Sentence);
    }

    [Fact]
    public void Classify_OneLocalPortSeenAtTwoExternalPorts_Symmetric()
    {
        // The same local port (reused for two destinations) mapped apart: a mapping per destination,
        // even though one of the two ports happens to be the local one.
        var report = Classify([Peer("a", "198.18.1.1", Router, 40000, 40000), Peer("b", "198.18.2.1", Router, 40000, 52770)]);

        Assert.Equal(ReachabilityKind.Symmetric, report.Kind);
    }

    [Fact]
    public void Classify_TwoPeersDialedInAtANonLocalAddress_PublicThroughAForwardedPort()
    {
        var report = Classify(
        [
            Peer("a", "198.18.1.1", Router, 7311, 7311, ConnectionDirection.Inbound),
            Peer("b", "198.18.2.1", Router, 7311, 7311, ConnectionDirection.Inbound),
        ]);

        Assert.Equal(ReachabilityKind.Public, report.Kind);
        Assert.Equal(new IPEndPoint(Router, 7311), report.Endpoint);
        Assert.Contains("forwarded port", report.Sentence, StringComparison.Ordinal);
    }

    [Fact]
    public void Classify_PeersDisagreeOnTheAddress_TheOneTwoAgreeOnWins()
    {
        var liar = IPAddress.Parse("198.18.66.6");
        var report = Classify(
        [
            Peer("liar", "198.18.9.9", liar, 40000, 40000),
            Peer("a", "198.18.1.1", Router, 40001, 40001),
            Peer("b", "198.18.2.1", Router, 40002, 40002),
        ]);

        Assert.Equal(ReachabilityKind.Punchable, report.Kind);
        Assert.Equal(Router, report.Endpoint!.Address);
    }

    [Fact]
    public void Classify_ObservationsOfEndedConnectionsGoStale()
    {
        AddressObservation[] ended =
        [
            Peer("a", "198.18.1.1", Router, 40000, 40000) with { Live = false, At = Now - ReachabilityClassifier.Lifetime - TimeSpan.FromSeconds(1) },
            Peer("b", "198.18.2.1", Router, 40001, 40001) with { Live = false, At = Now - TimeSpan.FromMinutes(1) },
        ];
        Assert.Equal(ReachabilityKind.Unknown, Classify(ended).Kind);

        ended[0] = ended[0] with { At = Now - ReachabilityClassifier.Lifetime + TimeSpan.FromSeconds(1) };
        Assert.Equal(ReachabilityKind.Punchable, Classify(ended).Kind);
    }

    [Fact]
    public void Classify_LiveObservations_NeverStale()
    {
        var old = Now - TimeSpan.FromDays(2);
        var report = Classify([Peer("a", "198.18.1.1", Router, 40000, 40000) with { At = old }, Peer("b", "198.18.2.1", Router, 40001, 40001) with { At = old }]);

        Assert.Equal(ReachabilityKind.Punchable, report.Kind);
    }

    [Fact]
    public void Classify_ObservationFromTheFuture_Ignored()
    {
        var report = Classify([Peer("a", "198.18.1.1", Router, 40000, 40000), Peer("b", "198.18.2.1", Router, 40001, 40001) with { Live = false, At = Now.AddHours(1) }]);

        Assert.Equal(ReachabilityKind.Unknown, report.Kind);
    }

    [Fact]
    public void Classify_InboundOverIpv6FromTheInternet_ReachableOverIpv6()
    {
        var own = IPAddress.Parse("2001:db8:5::10");
        var inbound = new AddressObservation(
            ObservationSource.Peer, "a", IPAddress.Parse("2001:db8:7::20"), new IPEndPoint(own, 7311), new IPEndPoint(own, 7311),
            ConnectionDirection.Inbound, Now, Live: true);

        var report = Classify([inbound], own);

        Assert.Equal(ReachabilityKind.Public, report.Kind);
        Assert.Equal(new IPEndPoint(own, 7311), report.Endpoint);
        Assert.StartsWith("reachable over IPv6 at [2001:db8:5::10]:7311 (a contact connected in over IPv6)", report.Sentence, StringComparison.Ordinal);
        Assert.Contains("over IPv4 not yet known", report.Sentence, StringComparison.Ordinal);
    }

    [Fact]
    public void Classify_Ipv6OnlyOutbound_SaysAFirewallMayDropInbound()
    {
        var own = IPAddress.Parse("2001:db8:5::10");
        var outbound = new AddressObservation(
            ObservationSource.Peer, "a", IPAddress.Parse("2001:db8:7::20"), new IPEndPoint(own, 45000), new IPEndPoint(own, 45000),
            ConnectionDirection.Outbound, Now, Live: true);

        var report = Classify([outbound], own);

        Assert.Equal(ReachabilityKind.Unknown, report.Kind);
        Assert.Equal("IPv6 at 2001:db8:5::10 behind a firewall or not yet tried: no contact has connected in over IPv6", report.Ipv6);
        Assert.EndsWith(report.Ipv6!, report.Sentence, StringComparison.Ordinal);
    }

    [Fact]
    public void Classify_Mapped_KeepsTheIpv6Sentence()
    {
        var own = IPAddress.Parse("2001:db8:5::10");
        var lease = new PortMappingLease(MappingProtocol.Tcp, 7311, new IPEndPoint(Router, 7311), Now.AddHours(1), "NAT-PMP");
        var outbound = new AddressObservation(
            ObservationSource.Peer, "a", IPAddress.Parse("2001:db8:7::20"), new IPEndPoint(own, 45000), new IPEndPoint(own, 45000),
            ConnectionDirection.Outbound, Now, Live: true);

        var report = ReachabilityClassifier.Classify(new ReachabilityInputs([outbound], [Home, own], Listen, lease), Now);

        Assert.Equal(ReachabilityKind.Mapped, report.Kind);
        Assert.StartsWith("reachable at 198.18.5.2:7311 (port mapped by the router through NAT-PMP); IPv6 at", report.Sentence, StringComparison.Ordinal);
    }

    private static ReachabilityReport Classify(AddressObservation[] observations, params IPAddress[] interfaces) =>
        ReachabilityClassifier.Classify(new ReachabilityInputs(observations, [Home, .. interfaces], Listen, null), Now);

    private static AddressObservation Peer(string account, string from, IPAddress seenAt, int localPort, int seenPort, ConnectionDirection direction = ConnectionDirection.Outbound) =>
        new(ObservationSource.Peer, account, IPAddress.Parse(from), new IPEndPoint(Home, localPort), new IPEndPoint(seenAt, seenPort), direction, Now, Live: true);

    private static AddressObservation Dht(IPAddress seenAt, int localPort, int seenPort) =>
        new(ObservationSource.Dht, AddressObservation.DhtWitness, null, new IPEndPoint(IPAddress.Any, localPort), new IPEndPoint(seenAt, seenPort), ConnectionDirection.Outbound, Now, Live: true);
}
