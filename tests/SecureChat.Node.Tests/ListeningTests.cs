using System.Net;
using System.Net.Sockets;
using SecureChat.Net;
using SecureChat.Storage;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.Node.Tests;

/// <summary>
/// Listening switched at run time (the paper's Start Server and Stop Server): a node that does not
/// listen cannot be reached, one that starts listening can, stopping refuses new peers but keeps
/// the connections already up, and a port that cannot be taken is reported without harming the node.
/// </summary>
public sealed class ListeningTests(ITestOutputHelper output) : TwoNodeTests(output)
{
    private readonly NodeHome _carol = new("carol", new TestOutputLogger(output, "carol"), NodeHome.NotListening);
    private readonly CancellationTokenSource _deadline = new(Eventually.Deadline);

    private CancellationToken Deadline => _deadline.Token;

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _carol.DisposeAsync();
        _deadline.Dispose();
    }

    [Fact]
    public async Task Start_WithoutListenHost_ListensNowhereAndADialToItsPortFails()
    {
        // The port carol would listen on, were she listening: a dial to it must be refused.
        var port = LoopbackPort.Unused();
        await using var carol = new NodeHome("carol", new TestOutputLogger(Output, "carol-quiet"), NodeHome.NotListening with { ListenPort = port });
        var carolNode = carol.Start();
        await using var carolTrail = new EventTrail(carolNode);
        var aliceNode = Alice.Start();

        var error = await Assert.ThrowsAsync<NetworkException>(() => aliceNode.ConnectAsync(new PeerEndpoint("127.0.0.1", port), null, Deadline));

        Assert.Equal(NetworkError.ConnectionRefused, error.Error);
        Assert.Null(carolNode.ListenEndPoint);
        Assert.Empty(carolNode.AdvertisedEndPoints());
        Assert.Null(Alice.FindContact(carol));
        Assert.Empty(carolTrail.Of<ListeningChanged>());
    }

    [Fact]
    public async Task StartListeningAsync_PortZero_PeerConnectsAndMessagesFlowBothWays()
    {
        var carolNode = _carol.Start();
        await using var carolTrail = new EventTrail(carolNode);
        var aliceNode = Alice.Start();

        var listening = await carolNode.StartListeningAsync("127.0.0.1", 0, Deadline);

        Assert.Equal(IPAddress.Loopback, listening.Address);
        Assert.NotEqual(0, listening.Port);
        Assert.Equal(listening, carolNode.ListenEndPoint);
        Assert.Equal([listening], carolNode.AdvertisedEndPoints());
        var started = await carolTrail.WaitForAsync<ListeningChanged>(_ => true, "carol's listening announced");
        Assert.Equal(listening, started.EndPoint);

        var carol = await aliceNode.ConnectAsync(new PeerEndpoint("127.0.0.1", listening.Port), _carol.Account, Deadline);
        await ExchangeAsync(Alice, _carol, "hello carol", "hello alice");

        Assert.Equal(_carol.Account.Text, carol.Account);
    }

    [Fact]
    public async Task StartAndStopListeningAsync_Events_CarryTheEndpointThenNull()
    {
        var carolNode = _carol.Start();
        await using var carolTrail = new EventTrail(carolNode);

        var listening = await carolNode.StartListeningAsync("127.0.0.1", 0, Deadline);
        await carolNode.StopListeningAsync(Deadline);
        await carolTrail.WaitForAsync<ListeningChanged>(e => e.EndPoint is null, "carol's stop announced");

        Assert.Equal([listening, null], carolTrail.Of<ListeningChanged>().Select(e => e.EndPoint));
        Assert.Null(carolNode.ListenEndPoint);
        Assert.Empty(carolNode.AdvertisedEndPoints());
    }

    [Fact]
    public async Task StopListeningAsync_NotListening_ChangesNothing()
    {
        var carolNode = _carol.Start();
        await using var carolTrail = new EventTrail(carolNode);

        await carolNode.StopListeningAsync(Deadline);
        var listening = await carolNode.StartListeningAsync("127.0.0.1", 0, Deadline);
        await carolTrail.WaitForAsync<ListeningChanged>(e => e.EndPoint is not null, "carol's listening announced");

        Assert.Equal([listening], carolTrail.Of<ListeningChanged>().Select(e => e.EndPoint));
    }

    [Fact]
    public async Task StopListeningAsync_ConnectionUp_NewDialFailsButTheConnectionStillCarriesMessages()
    {
        var carolNode = _carol.Start();
        var listening = await carolNode.StartListeningAsync("127.0.0.1", 0, Deadline);
        var aliceNode = Alice.Start();
        var bobNode = Bob.Start();
        var carol = await aliceNode.ConnectAsync(new PeerEndpoint("127.0.0.1", listening.Port), _carol.Account, Deadline);
        await Eventually.HoldsAsync(() => _carol.FindContact(Alice) is { } alice && carolNode.IsOnline(alice), "carol online with alice");
        await Eventually.HoldsAsync(() => aliceNode.IsOnline(carol), "alice online with carol (her side of the hellos can end a little later)");

        await carolNode.StopListeningAsync(Deadline);

        var error = await Assert.ThrowsAsync<NetworkException>(() => bobNode.ConnectAsync(new PeerEndpoint("127.0.0.1", listening.Port), _carol.Account, Deadline));
        Assert.Equal(NetworkError.ConnectionRefused, error.Error);
        Assert.Null(Bob.FindContact(_carol));
        Assert.True(aliceNode.IsOnline(carol), "Alice's connection to carol ended when carol stopped listening.");
        await ExchangeAsync(Alice, _carol, "still there?", "still here");
        Assert.True(aliceNode.IsOnline(carol));
    }

    [Fact]
    public async Task StartListeningAsync_PortInUse_ThrowsNetworkExceptionAndTheNodeKeepsWorking()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var held = ((IPEndPoint)holder.LocalEndpoint).Port;
        var carolNode = _carol.Start();
        await using var carolTrail = new EventTrail(carolNode);
        var aliceNode = Alice.Start();

        var error = await Assert.ThrowsAsync<NetworkException>(() => carolNode.StartListeningAsync("127.0.0.1", held, Deadline));

        Assert.Equal(NetworkError.AddressInUse, error.Error);
        Assert.Equal($"Port {held} on 127.0.0.1 is already in use: choose another with --port, or stop the program that holds it.", error.Message);
        Assert.Null(carolNode.ListenEndPoint);
        Assert.Empty(carolTrail.Of<ListeningChanged>());

        // It still dials out and talks, and can listen elsewhere.
        var alice = await carolNode.ConnectAsync(new PeerEndpoint("127.0.0.1", Alice.Port), Alice.Account, Deadline);
        await ExchangeAsync(_carol, Alice, "the port was taken", "never mind");
        var listening = await carolNode.StartListeningAsync("127.0.0.1", 0, Deadline);
        var bob = await Bob.Start().ConnectAsync(new PeerEndpoint("127.0.0.1", listening.Port), _carol.Account, Deadline);
        Assert.Equal(_carol.Account.Text, bob.Account);
        Assert.Equal(Alice.Account.Text, alice.Account);
    }

    /// <summary>
    /// Moving to a port that is taken fails; whatever the node does then, what it reports must be
    /// true: either it still listens where it did (and is reachable there), or it says it stopped.
    /// </summary>
    [Fact]
    public async Task StartListeningAsync_MovingToAPortInUse_ReportsWhereItListensTruly()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var held = ((IPEndPoint)holder.LocalEndpoint).Port;
        var carolNode = _carol.Start();
        await using var carolTrail = new EventTrail(carolNode);
        var before = await carolNode.StartListeningAsync("127.0.0.1", 0, Deadline);
        await carolTrail.WaitForAsync<ListeningChanged>(e => before.Equals(e.EndPoint), "carol's listening announced");

        await Assert.ThrowsAsync<NetworkException>(() => carolNode.StartListeningAsync("127.0.0.1", held, Deadline));

        var reported = carolTrail.Of<ListeningChanged>().Select(e => e.EndPoint).ToList();
        if (carolNode.ListenEndPoint is { } still)
        {
            Assert.Equal(before, still);
            Assert.Equal([before], reported);
            await Alice.Start().ConnectAsync(new PeerEndpoint("127.0.0.1", before.Port), _carol.Account, Deadline);
        }
        else
        {
            await carolTrail.WaitForAsync<ListeningChanged>(e => e.EndPoint is null, "carol's stop announced");
            Assert.Equal([before, null], carolTrail.Of<ListeningChanged>().Select(e => e.EndPoint));
        }
    }

    [Theory]
    [InlineData("not-an-address", 0, NetworkError.InvalidAddress)]
    [InlineData("127.0.0.1", 70000, NetworkError.InvalidAddress)]
    [InlineData("127.0.0.1", -1, NetworkError.InvalidAddress)]
    [InlineData("192.0.2.1", 0, NetworkError.AddressNotAvailable)]
    public async Task StartListeningAsync_AddressItCannotListenOn_ThrowsNetworkExceptionWithASentence(string host, int port, NetworkError expected)
    {
        var carolNode = _carol.Start();

        var error = await Assert.ThrowsAsync<NetworkException>(() => carolNode.StartListeningAsync(host, port, Deadline));

        Assert.Equal(expected, error.Error);
        Assert.EndsWith(".", error.Message, StringComparison.Ordinal);
        Assert.Null(carolNode.ListenEndPoint);
    }

    [Fact]
    public async Task StartListeningAsync_AgainOnAnotherPort_MovesThere()
    {
        var carolNode = _carol.Start();
        await using var carolTrail = new EventTrail(carolNode);
        var aliceNode = Alice.Start();
        var first = await carolNode.StartListeningAsync("127.0.0.1", 0, Deadline);

        var second = await carolNode.StartListeningAsync("127.0.0.1", 0, Deadline);

        Assert.Equal(IPAddress.Loopback, second.Address);
        Assert.NotEqual(first.Port, second.Port);
        Assert.Equal(second, carolNode.ListenEndPoint);
        await carolTrail.WaitForAsync<ListeningChanged>(e => second.Equals(e.EndPoint), "carol's move announced");
        // A move is announced as the new address alone: the node was never without a listener.
        Assert.Equal([first, second], carolTrail.Of<ListeningChanged>().Select(e => e.EndPoint));
        var error = await Assert.ThrowsAsync<NetworkException>(() => aliceNode.ConnectAsync(new PeerEndpoint("127.0.0.1", first.Port), _carol.Account, Deadline));
        Assert.Equal(NetworkError.ConnectionRefused, error.Error);
        await aliceNode.ConnectAsync(new PeerEndpoint("127.0.0.1", second.Port), _carol.Account, Deadline);
        await ExchangeAsync(Alice, _carol, "found you", "I moved");
    }

    /// <summary>Each side sends one text to the other over whatever connection is up; both must arrive.</summary>
    private static async Task ExchangeAsync(NodeHome one, NodeHome other, string fromOne, string fromOther)
    {
        one.Node.Send(one.ContactOf(other), fromOne);
        await Eventually.HoldsAsync(() => other.FindContact(one) is not null, $"{other.Identity.DisplayName} knows {one.Identity.DisplayName}");

        // The side that was dialed by a stranger sees a contact request first, and accepts it.
        var answerTo = other.ContactOf(one) is { Standing: ContactStanding.Request } request
            ? await other.Node.AcceptRequestAsync(request, null)
            : other.ContactOf(one);
        other.Node.Send(answerTo, fromOther);

        await Eventually.HoldsAsync(
            () => one.History(other).Any(m => !m.Outgoing && m.Text == fromOther) && other.History(one).Any(m => !m.Outgoing && m.Text == fromOne),
            $"'{fromOne}' and '{fromOther}' delivered",
            () => $"Outboxes: {one.Identity.DisplayName} {one.Store.Outbox.Count()}, {other.Identity.DisplayName} {other.Store.Outbox.Count()}.");
        Assert.All(other.History(one).Where(m => !m.Outgoing), m => Assert.Equal(MessageState.Received, m.State));
    }
}
