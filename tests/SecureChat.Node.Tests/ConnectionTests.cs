using System.Diagnostics;
using System.Net;
using SecureChat.Net;
using SecureChat.Storage;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.Node.Tests;

/// <summary>
/// How nodes find each other and keep one connection per contact (docs/protocol.md 6.6): a
/// stranger dialing in becomes a contact request (accepted, declined or blocked), two nodes dialing each other at once settle on the same
/// connection, and a node stops promptly. These are the integration tests of requests, invite
/// links and crossing dials; what a session decides for a request or an invite token (the held
/// texts, the refusal, the promotion) is tested in memory in Session/PeerSessionRequestTests.cs.
/// </summary>
public sealed class ConnectionTests(ITestOutputHelper output) : TwoNodeTests(output)
{
    private readonly NodeHome _carol = new("carol", new TestOutputLogger(output, "carol"));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _carol.DisposeAsync();
    }

    [Fact]
    public async Task ConnectAsync_StrangerDialsIn_HeldAsARequestUntilAcceptedThenMessagesFlowBothWays()
    {
        var aliceNode = Alice.Start();
        await using var aliceTrail = new EventTrail(aliceNode);
        var carolNode = _carol.Start();
        using var timeout = new CancellationTokenSource(Eventually.Deadline);

        // The dialer chose to connect: alice is carol's contact at once.
        var alice = await carolNode.ConnectAsync(new PeerEndpoint("127.0.0.1", Alice.Port), null, timeout.Token);
        Assert.Equal(Alice.Account.Text, alice.Account);
        Assert.Equal(ContactStanding.Contact, alice.Standing);

        // The stranger is a request at alice's: not a contact, not named by what it calls itself.
        var asked = await aliceTrail.WaitForAsync<RequestChanged>(e => e.Request.Account == _carol.Account.Text && e.IsNew, "carol as a request");
        Assert.Equal("carol", asked.Request.DisplayName);
        Assert.False(asked.Request.Named);
        Assert.Empty(aliceTrail.Of<ContactChanged>());
        Assert.DoesNotContain(Alice.Store.Contacts.All, c => c.Account == _carol.Account.Text);
        Assert.Equal([_carol.Account.Text], aliceNode.Requests.Select(r => r.Account));
        Assert.Equal(_carol.Identity.Certificate.Encoded.ToArray(), Alice.ContactOf(_carol).DecodeCertificate()?.Encoded.ToArray());
        Assert.Throws<StoreException>(() => Alice.Store.Contacts.Resolve("carol"));

        string[] texts = ["hi, we have not met", "I got your address from bob"];
        foreach (var text in texts)
        {
            carolNode.Send(alice, text);
        }

        await Eventually.HoldsAsync(() => _carol.Store.Outbox.Count() == 0, "carol's texts delivered");
        Assert.Equal(texts, Alice.History(_carol).Select(m => m.Text));
        Assert.Throws<StoreException>(() => aliceNode.Send(Alice.ContactOf(_carol), "not yet"));

        // One click: the request becomes a contact, and alice answers.
        var carol = await aliceNode.AcceptRequestAsync(Alice.ContactOf(_carol), null);
        Assert.Equal(ContactStanding.Contact, carol.Standing);
        await aliceTrail.WaitForAsync<RequestRemoved>(e => e.Account == _carol.Account.Text && e.Outcome == "accepted", "the request answered");
        aliceNode.Send(carol, "welcome");
        await Eventually.HoldsAsync(() => Alice.Store.Outbox.Count() == 0, "alice's answer delivered");
        Assert.Equal([.. texts, "welcome"], _carol.History(Alice).Select(m => m.Text));
        Assert.Single(aliceTrail.Of<ContactChanged>());
    }

    /// <summary>
    /// A one-time invite link (docs/protocol.md 7.6): its holder, who dials with the link's token
    /// in the hello, is a contact at the inviter at once, and all it sends arrives; the token is
    /// then spent, so a second account holding the same link is an ordinary request.
    /// </summary>
    [Fact]
    public async Task AddContact_OneTimeLinkHolderDials_IsAContactAtOnceAndASecondHolderIsARequest()
    {
        var aliceNode = Alice.Start();
        await using var aliceTrail = new EventTrail(aliceNode);
        var carolNode = _carol.Start();
        var link = aliceNode.CreateInvite(withAddress: true, oneTime: true);
        Assert.NotNull(link.Token);
        Assert.True(InviteLink.TryParse(link.ToString(), out var pasted, out _));
        Assert.Contains(pasted.Endpoints, e => e.Port == Alice.Port);

        var alice = carolNode.AddContact(pasted.Account, null, new PeerEndpoint("127.0.0.1", Alice.Port).ToString(), pasted.Token);
        Assert.Equal(pasted.Token, alice.InviteToken);

        var added = await aliceTrail.WaitForAsync<ContactChanged>(e => e.Contact.Account == _carol.Account.Text, "carol a contact by the link");
        Assert.Equal(ContactStanding.Contact, added.Contact.Standing);
        Assert.Equal(ContactStanding.Contact, Alice.ContactOf(_carol).Standing);
        Assert.Empty(aliceNode.Requests);
        await Eventually.HoldsAsync(() => _carol.Store.Contacts.Find(Alice.Account)?.InviteToken is null, "carol's node forgets the spent token");
        Assert.Equal(0, Alice.Store.Invites.Outstanding);

        // More texts than a request holds: a contact's quota, so every one arrives, in order.
        var texts = Enumerable.Range(0, aliceNode.Options.RequestQuota.Messages + 3).Select(i => $"hello {i}").ToList();
        foreach (var text in texts)
        {
            carolNode.Send(alice, text);
        }

        await Eventually.HoldsAsync(() => _carol.Store.Outbox.Count() == 0, "carol's texts delivered");
        Assert.Equal(texts, Alice.History(_carol).Select(m => m.Text));
        aliceNode.Send(Alice.ContactOf(_carol), "welcome");
        await Eventually.HoldsAsync(() => _carol.History(Alice).Any(m => m.Text == "welcome"), "alice's answer delivered");

        // The same link in another account's hands: the token is spent, so it is a request.
        await using var dave = new NodeHome("dave", new TestOutputLogger(Output, "dave"));
        var daveNode = dave.Start();
        daveNode.AddContact(pasted.Account, null, new PeerEndpoint("127.0.0.1", Alice.Port).ToString(), pasted.Token);
        var asked = await aliceTrail.WaitForAsync<RequestChanged>(e => e.Request.Account == dave.Account.Text && e.IsNew, "dave as a request");
        Assert.Equal(ContactStanding.Request, asked.Request.Standing);
        await Eventually.HoldsAsync(() => dave.Store.Contacts.Find(Alice.Account)?.InviteToken is null, "dave's node presented its token");
        Assert.Equal(ContactStanding.Request, Alice.ContactOf(dave).Standing);
        Assert.DoesNotContain(aliceTrail.Of<ContactChanged>(), e => e.Contact.Account == dave.Account.Text);
    }

    /// <summary>A token this node never issued changes nothing: the stranger is a request like any other.</summary>
    [Fact]
    public async Task AddContact_ForgedToken_StrangerIsARequest()
    {
        var aliceNode = Alice.Start();
        await using var aliceTrail = new EventTrail(aliceNode);
        var carolNode = _carol.Start();
        var forged = InviteLink.EncodeToken(new byte[InviteLink.TokenBytes]);
        aliceNode.CreateInvite(withAddress: false, oneTime: true);

        carolNode.AddContact(Alice.Account, null, new PeerEndpoint("127.0.0.1", Alice.Port).ToString(), forged);

        await aliceTrail.WaitForAsync<RequestChanged>(e => e.Request.Account == _carol.Account.Text && e.IsNew, "carol as a request");
        await Eventually.HoldsAsync(() => _carol.Store.Contacts.Find(Alice.Account)?.InviteToken is null, "carol's node presented its token");
        Assert.Equal(ContactStanding.Request, Alice.ContactOf(_carol).Standing);
        Assert.Empty(aliceTrail.Of<ContactChanged>());
        Assert.Equal(1, Alice.Store.Invites.Outstanding);
    }

    /// <summary>The requests waiting at once are capped (NodeOptions.MaxRequests), whatever addresses the strangers use.</summary>
    [Fact]
    public async Task Start_MoreStrangersThanTheRequestCap_TheRestAreClosedAndNothingOfThemIsKept()
    {
        await using var dave = new NodeHome("dave", new TestOutputLogger(Output, "dave"), NodeHome.NotListening);
        await using var erin = new NodeHome("erin", new TestOutputLogger(Output, "erin"), NodeHome.NotListening);
        await using var host = new NodeHome("host", new TestOutputLogger(Output, "host"), NodeHome.FastOptions with { ListenPort = 0, MaxRequests = 2, RequestsPerAddressPerHour = 100 });
        var hostNode = host.Start();
        await using var hostTrail = new EventTrail(hostNode);
        using var timeout = new CancellationTokenSource(Eventually.Deadline);
        var at = new PeerEndpoint("127.0.0.1", hostNode.ListenEndPoint!.Port);

        foreach (var stranger in new[] { _carol, dave })
        {
            await stranger.Start().ConnectAsync(at, null, timeout.Token);
            await hostTrail.WaitForAsync<RequestChanged>(e => e.Request.Account == stranger.Account.Text, $"{stranger.Identity.DisplayName} as a request");
        }

        // The third stranger completes its handshake and is closed with a sentence; nothing is pinned.
        await using var third = await ChannelDialer.ConnectAsync(at, erin.Identity, default, _ => null, new ChannelOptions(), timeout.Token);
        Assert.Null(await third.ReceiveAsync(timeout.Token));
        Assert.Equal("this node takes no more contact requests now; try later", third.PeerClose?.Text);
        Assert.Equal([_carol.Account.Text, dave.Account.Text], hostNode.Requests.Select(r => r.Account));
        Assert.Null(host.FindContact(erin));

        // Answering one makes room. Dave stops first: his node keeps the host as a contact and
        // redials it, and a declined stranger who dials again is a new request, which could take
        // the place before erin does (it did once, in a loop of this class).
        await dave.StopAsync();
        await hostNode.DeclineRequestAsync(host.ContactOf(dave));
        await erin.Start().ConnectAsync(at, null, timeout.Token);
        await hostTrail.WaitForAsync<RequestChanged>(e => e.Request.Account == erin.Account.Text, "erin as a request once there is room");
    }

    [Fact]
    public async Task BlockAsync_ARequest_ItsNextHandshakeIsRefusedAndNothingIsStored()
    {
        var aliceNode = Alice.Start();
        await using var aliceTrail = new EventTrail(aliceNode);
        var carolNode = _carol.Start();
        using var timeout = new CancellationTokenSource(Eventually.Deadline);
        var alice = await carolNode.ConnectAsync(new PeerEndpoint("127.0.0.1", Alice.Port), null, timeout.Token);
        carolNode.Send(alice, "buy my stuff");
        await Eventually.HoldsAsync(() => Alice.History(_carol).Count == 1, "the request's message held");

        await aliceNode.BlockAsync(_carol.Account);

        Assert.Empty(aliceNode.Requests);
        Assert.Equal([_carol.Account.Text], aliceNode.Blocked.Select(b => b.Account));
        Assert.Empty(Alice.History(_carol));
        await aliceTrail.WaitForAsync<RequestRemoved>(e => e.Outcome == "blocked", "the request blocked");
        await _carol.StopAsync();

        // Carol dials again by hand: alice ends the handshake with a refusal and keeps nothing.
        await using var again = await ChannelDialer.ConnectAsync(new PeerEndpoint("127.0.0.1", Alice.Port), _carol.Identity, default, _ => null, new ChannelOptions(), timeout.Token);
        Assert.Null(await again.ReceiveAsync(timeout.Token));
        Assert.Equal(Protocol.Channel.CloseReason.PeerKeyRejected, again.PeerClose?.Reason);
        Assert.Contains("does not accept connections from your account", again.PeerClose?.Text, StringComparison.Ordinal);
        Assert.Equal(ContactStanding.Blocked, Alice.ContactOf(_carol).Standing);
        Assert.Empty(Alice.History(_carol));
        Assert.Empty(aliceNode.Requests);
    }

    [Fact]
    public async Task DeclineRequestAsync_TheStrangerDialsAgain_ItIsANewRequest()
    {
        var aliceNode = Alice.Start();
        await using var aliceTrail = new EventTrail(aliceNode);
        var carolNode = _carol.Start();
        using var timeout = new CancellationTokenSource(Eventually.Deadline);
        await carolNode.ConnectAsync(new PeerEndpoint("127.0.0.1", Alice.Port), null, timeout.Token);
        await aliceTrail.WaitForAsync<RequestChanged>(e => e.IsNew, "carol as a request");

        await aliceNode.DeclineRequestAsync(Alice.ContactOf(_carol));
        Assert.Null(Alice.FindContact(_carol));

        // Carol keeps alice as a contact and redials: she asks again, as a new request.
        await Eventually.HoldsAsync(() => aliceTrail.Of<RequestChanged>().Count(e => e.IsNew) == 2, "carol asking again");
        Assert.Equal(ContactStanding.Request, Alice.ContactOf(_carol).Standing);
        Assert.DoesNotContain(Alice.Store.Contacts.All, c => c.Account == _carol.Account.Text);
    }

    [Fact]
    public async Task Start_BothDialEachOtherAtOnce_ConvergeOnOneConnectionAndMessagesFlowOnce()
    {
        // A first run only reserves each node's port, so each can be given the other's address.
        Alice.Start();
        Bob.Start();
        await Alice.StopAsync();
        await Bob.StopAsync();
        var bob = Alice.Store.Contacts.Add(Bob.Account, "bob", Bob.Endpoint, DateTimeOffset.UtcNow);
        var alice = Bob.Store.Contacts.Add(Alice.Account, "alice", Alice.Endpoint, DateTimeOffset.UtcNow);
        var fromAlice = new List<string>();
        var fromBob = new List<string>();

        for (var round = 0; round < 3; round++)
        {
            await Task.WhenAll(Task.Run(Alice.Start), Task.Run(Bob.Start));
            (int AliceSees, int BobSees)? kept = null;
            await Eventually.HoldsAsync(
                () => (kept = SharedConnection(bob, alice)) is not null,
                $"on one connection in round {round}",
                () => $"Alice sees bob at {Alice.Node.OnlineEndpoint(bob) ?? "none"}, bob sees alice at {Bob.Node.OnlineEndpoint(alice) ?? "none"}; "
                    + $"alice listens on {Alice.Port}, bob on {Bob.Port}.");
            Output.WriteLine($"Round {round}: kept the connection dialed by {(kept!.Value.AliceSees == Bob.Port ? "alice" : "bob")}.");

            for (var i = 0; i < 10; i++)
            {
                fromAlice.Add($"round {round} alice {i}");
                Alice.Node.Send(bob, fromAlice[^1]);
                fromBob.Add($"round {round} bob {i}");
                Bob.Node.Send(alice, fromBob[^1]);
            }

            await Eventually.HoldsAsync(
                () => Alice.Store.Outbox.Count() == 0 && Bob.Store.Outbox.Count() == 0,
                $"all delivered in round {round}",
                () => $"Outboxes: alice {Alice.Store.Outbox.Count()}, bob {Bob.Store.Outbox.Count()}.");

            // They end on one connection both see. (It may be another than the first one seen: a
            // redial already under way when they first agreed can still cross it, and then the
            // tie-break, not the order of arrival, picks the one both keep.)
            (int AliceSees, int BobSees)? settled = null;
            await Eventually.HoldsAsync(
                () => (settled = SharedConnection(bob, alice)) is not null,
                $"on one connection after round {round}",
                () => $"Alice sees bob at {Alice.Node.OnlineEndpoint(bob) ?? "none"}, bob sees alice at {Bob.Node.OnlineEndpoint(alice) ?? "none"}.");
            if (settled != kept)
            {
                Output.WriteLine($"Round {round}: a crossing dial replaced the first connection; both settled on {settled}.");
            }
            await Task.WhenAll(Alice.StopAsync(), Bob.StopAsync());
        }

        Assert.Equal(fromBob, Alice.History(Bob).Where(m => !m.Outgoing).Select(m => m.Text));
        Assert.Equal(fromAlice, Bob.History(Alice).Where(m => !m.Outgoing).Select(m => m.Text));
        Assert.Equal(fromAlice.Count + fromBob.Count, Alice.History(Bob).Count);
        Assert.Equal(fromAlice.Count + fromBob.Count, Bob.History(Alice).Count);
    }

    /// <summary>
    /// A clean close is answered at once (docs/protocol.md 5.5: the peer replies to a CLOSE as
    /// soon as it reads it), so stopping a node with a contact online takes milliseconds, not the
    /// close timeout. Several rounds, because whether the answer is read depends on which of a
    /// connection's tasks ends first.
    /// </summary>
    [Fact]
    public async Task DisposeAsync_PeerOnline_EndsWithoutWaitingOutCloseTimeout()
    {
        var options = NodeHome.FastOptions with { Channel = new ChannelOptions() };
        await using var alice = new NodeHome("alice", new TestOutputLogger(Output, "alice"), options);
        await using var bob = new NodeHome("bob", new TestOutputLogger(Output, "bob"), options);
        var limit = options.Channel.CloseTimeout / 2;
        bob.Start();
        alice.Start().AddContact(bob.Account, "bob", bob.Endpoint);

        for (var round = 0; round < 5; round++)
        {
            await Eventually.HoldsAsync(() => alice.Node.IsOnline(alice.ContactOf(bob)) && bob.Node.IsOnline(bob.ContactOf(alice)), "both online");
            var stopping = Stopwatch.StartNew();
            await alice.StopAsync();
            Assert.True(
                stopping.Elapsed < limit,
                $"Round {round}: stopping alice took {stopping.ElapsedMilliseconds} ms; bob answers her close at once, yet she waited for the close timeout ({options.Channel.CloseTimeout.TotalSeconds} s).");
            alice.Start();
        }
    }

    /// <summary>
    /// The two ports each side sees the other at, when both are on the same connection: one side
    /// sees the other's listening port (it dialed), the other an ephemeral port. Null otherwise.
    /// </summary>
    private (int AliceSees, int BobSees)? SharedConnection(Contact bob, Contact alice)
    {
        if (Alice.Node.OnlineEndpoint(bob) is not { } aliceSees || Bob.Node.OnlineEndpoint(alice) is not { } bobSees)
        {
            return null;
        }

        var aliceSeesPort = IPEndPoint.Parse(aliceSees).Port;
        var bobSeesPort = IPEndPoint.Parse(bobSees).Port;
        return (aliceSeesPort == Bob.Port) != (bobSeesPort == Alice.Port) ? (aliceSeesPort, bobSeesPort) : null;
    }
}
