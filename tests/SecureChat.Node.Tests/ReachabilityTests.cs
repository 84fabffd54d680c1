using System.Net;
using SecureChat.Net.PortMapping;
using SecureChat.Node.Reachability;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.Node.Tests;

/// <summary>
/// Observed addresses over real connections (docs/discovery.md, "Observed addresses"): each side's
/// hello tells the other where it came from, the node keeps it with its own end of the connection,
/// and the contact views say how each contact is connected. The rules of the classification are
/// tested as a pure function in Reachability/ReachabilityClassifierTests.cs.
/// </summary>
public sealed class ReachabilityTests(ITestOutputHelper output) : TwoNodeTests(output)
{
    [Fact]
    public async Task Connect_BothContacts_EachKeepsWhereTheOtherSeesItAndHowItIsConnected()
    {
        var bobNode = Bob.Start();
        bobNode.AddContact(Alice.Account, "alice", null);
        await using var bobTrail = new EventTrail(bobNode);
        var aliceNode = Alice.Start();
        await using var aliceTrail = new EventTrail(aliceNode);
        var bob = aliceNode.AddContact(Bob.Account, "bob", Bob.Endpoint);
        await aliceTrail.WaitForAsync<PresenceChanged>(e => e.ContactAccount == bob.Account && e.Online, "bob online at alice");
        await bobTrail.WaitForAsync<PresenceChanged>(e => e.ContactAccount == Alice.Account.Text && e.Online, "alice online at bob");

        // Alice dialed: bob saw her come from her socket's own address and port (no NAT on loopback).
        var atAlice = Assert.Single(aliceNode.Observations(), o => o.Source == ObservationSource.Peer);
        Assert.Equal((Bob.Account.Text, ConnectionDirection.Outbound, true), (atAlice.Witness, atAlice.Direction, atAlice.Live));
        Assert.Equal(IPAddress.Loopback, atAlice.WitnessAddress);
        Assert.Equal(atAlice.Local, atAlice.Observed);
        Assert.True(atAlice.PortKept);
        var aliceConnection = aliceNode.ConnectionOf(bob);
        Assert.NotNull(aliceConnection);
        Assert.Equal(ConnectionDirection.Outbound, aliceConnection.Direction);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, Bob.Port), aliceConnection.Remote);
        Assert.Equal(atAlice.Local, aliceConnection.Local);
        Assert.Equal($"direct over IPv4, dialed by this node to 127.0.0.1:{Bob.Port} (on the local network)", aliceConnection.Sentence);

        // Bob was dialed: alice reached him at his listen port.
        var atBob = Assert.Single(bobNode.Observations(), o => o.Source == ObservationSource.Peer);
        Assert.Equal((Alice.Account.Text, ConnectionDirection.Inbound), (atBob.Witness, atBob.Direction));
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, Bob.Port), atBob.Observed);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, Bob.Port), atBob.Local);
        Assert.Equal(ConnectionDirection.Inbound, bobNode.ConnectionOf(Bob.ContactOf(Alice))!.Direction);

        // One contact's word alone decides nothing, and the node said so as the observation came.
        Assert.Equal(ReachabilityKind.Unknown, aliceNode.Reachability().Kind);
        Assert.Contains(aliceTrail.Of<ReachabilityChanged>(), e => e.Kind == ReachabilityKind.Unknown);

        // When the connection ends, the report stops being live and no connection is shown.
        await Bob.StopAsync();
        await aliceTrail.WaitForAsync<PresenceChanged>(e => e.ContactAccount == bob.Account && !e.Online, "bob offline at alice");
        await Eventually.HoldsAsync(() => aliceNode.Observations().Single().Live == false, "alice's report of bob no longer live");
        Assert.Null(aliceNode.ConnectionOf(bob));
    }

    [Fact]
    public async Task PortMapping_TcpLeaseSet_MappedAndAnnounced()
    {
        var aliceNode = Alice.Start();
        await using var aliceTrail = new EventTrail(aliceNode);
        var external = new IPEndPoint(IPAddress.Parse("198.18.5.2"), 7311);

        aliceNode.PortMapping = new PortMappingStatus(
            new PortMappingLease(MappingProtocol.Tcp, Alice.Port, external, aliceNode.Options.Time.GetUtcNow().AddHours(1), "UPnP-IGD"),
            null, "mapped TCP port to 198.18.5.2:7311 through UPnP-IGD");
        aliceNode.AnnounceReachability();

        var report = aliceNode.Reachability();
        Assert.Equal((ReachabilityKind.Mapped, external), (report.Kind, report.Endpoint));
        Assert.Equal("reachable at 198.18.5.2:7311 (port mapped by the router through UPnP-IGD)", report.Sentence);
        await aliceTrail.WaitForAsync<ReachabilityChanged>(e => e.Kind == ReachabilityKind.Mapped, "the mapped class announced");
    }
}
