using SecureChat.Storage;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.Node.Tests;

/// <summary>
/// Two real nodes on 127.0.0.1, the integration layer of delivery (docs/protocol.md 6.4): a queued
/// text reaches the peer's store exactly once and in order, and the sender sees it move Queued →
/// Sent → Delivered → Read (Send_BothOnline_DeliveredOnceAndReceiptsMoveStates is the integration
/// test of delivery and receipts; Send_WhileRecipientOffline_DeliveredWhenItStarts of the redial
/// and the listen-port claim). The protocol's decisions (restarts mid-stream, both directions at
/// once, receipts while the sender is away, loss, repeats, reordering) are tested in memory in
/// Session/PeerSession*Tests.cs.
/// </summary>
public sealed class DeliveryTests(ITestOutputHelper output) : TwoNodeTests(output)
{

    [Fact]
    public async Task Send_BothOnline_DeliveredOnceAndReceiptsMoveStates()
    {
        // Both add each other: a stranger who dials in is a request, which the person reads only once accepted.
        var bobNode = Bob.Start();
        bobNode.AddContact(Alice.Account, "alice", null);
        var aliceNode = Alice.Start();
        await using var aliceTrail = new EventTrail(aliceNode);
        await using var bobTrail = new EventTrail(bobNode);
        var bob = aliceNode.AddContact(Bob.Account, "bob", Bob.Endpoint);
        await aliceTrail.WaitForAsync<PresenceChanged>(e => e.ContactAccount == bob.Account && e.Online, "bob online at alice");

        string[] texts = ["one", "two", "three"];
        var sent = texts.Select(text => aliceNode.Send(bob, text)).ToList();
        var ids = sent.Select(m => m.MessageId).ToList();
        Assert.All(sent, m => Assert.Equal(MessageState.Queued, m.State));

        await Eventually.HoldsAsync(() => StatesAt(Alice, ids).All(s => s == MessageState.Delivered), "all delivered", () => $"States: {string.Join(", ", StatesAt(Alice, ids))}");
        var received = Bob.History(Alice);
        Assert.Equal(texts, received.Select(m => m.Text));
        Assert.Equal(ids, received.Select(m => m.MessageId));
        Assert.All(received, m => Assert.Equal((false, MessageState.Received), (m.Outgoing, m.State)));

        var seen = bobNode.MarkRead(Bob.ContactOf(Alice));
        Assert.Equal(ids.Order(), seen.Order());
        await Eventually.HoldsAsync(() => StatesAt(Alice, ids).All(s => s == MessageState.Read), "all read", () => $"States: {string.Join(", ", StatesAt(Alice, ids))}");
        Assert.All(Bob.History(Alice), m => Assert.Equal(MessageState.Seen, m.State));
        Assert.Empty(bobNode.MarkRead(Bob.ContactOf(Alice)));

        // The event streams tell the same story: each message went through every state once, in
        // order, and bob announced each arrival once.
        await aliceTrail.WaitForAsync<MessageStateChanged>(e => e.MessageId == ids[^1] && e.State == MessageState.Read, "the last message's Read event");
        foreach (var id in ids)
        {
            Assert.Equal(
                [MessageState.Sent, MessageState.Delivered, MessageState.Read],
                aliceTrail.Of<MessageStateChanged>().Where(e => e.MessageId == id).Select(e => e.State));
        }

        await bobTrail.WaitForAsync<MessageStored>(e => e.Message.MessageId == ids[^1], "the last message stored at bob");
        Assert.Equal(ids, bobTrail.Of<MessageStored>().Where(e => !e.Message.Outgoing).Select(e => e.Message.MessageId));
        Assert.Equal(0, Alice.Store.Outbox.Count());
    }

    [Fact]
    public async Task SendAsync_ManyAtOnce_AllStoredInOrderAndDeliveredOnce()
    {
        Bob.Start().AddContact(Alice.Account, "alice", null);
        var aliceNode = Alice.Start();
        var bob = aliceNode.AddContact(Bob.Account, "bob", Bob.Endpoint);
        var texts = Enumerable.Range(0, 600).Select(i => $"burst {i}").ToList();

        // Issued together, the sends share transactions; each task still ends with its message on disk.
        var sent = await Task.WhenAll(texts.Select(text => aliceNode.SendAsync(bob, text)));

        Assert.Equal(texts, sent.Select(m => m.Text));
        Assert.All(sent, m => Assert.Equal(MessageState.Queued, m.State));
        var lamports = sent.Select(m => m.Lamport).ToList();
        Assert.Equal(lamports.Order(), lamports);
        Assert.Equal(lamports.Count, lamports.Distinct().Count());
        var ids = sent.Select(m => m.MessageId).ToList();
        await Eventually.HoldsAsync(() => Bob.CountWith(Alice) == texts.Count && Alice.Store.Outbox.Count() == 0, "all delivered", () => $"{Bob.CountWith(Alice)} at bob, {Alice.Store.Outbox.Count()} in alice's outbox");
        Assert.Equal(ids, Bob.History(Alice).Select(m => m.MessageId));
        Assert.Equal(texts, Bob.History(Alice).Select(m => m.Text));
    }

    [Fact]
    public async Task SendAsync_InvalidText_ThrowsAtOnceAndStoresNothing()
    {
        var aliceNode = Alice.Start();
        var bob = aliceNode.AddContact(Bob.Account, "bob", null);

        Assert.Throws<ArgumentException>(() => { _ = aliceNode.SendAsync(bob, ""); });
        Assert.Throws<ArgumentException>(() => { _ = aliceNode.SendAsync(bob, new string('x', 70_000)); });
        await aliceNode.SendAsync(bob, "fine");
        Assert.Equal(["fine"], Alice.History(Bob).Select(m => m.Text));
    }

    /// <summary>
    /// A stranger's request is not a contact: marking its texts read or telling it this side types
    /// waits for the person to accept it, as sending does; an account the book does not hold is
    /// refused the same way. Nothing is marked or sent.
    /// </summary>
    [Fact]
    public async Task MarkReadAndSetTyping_RequestOrUnknownAccount_RefusedWithASentence()
    {
        await using var carol = new NodeHome("carol", new TestOutputLogger(Output, "carol"), NodeHome.NotListening);
        var aliceNode = Alice.Start();
        var request = Alice.Store.Contacts.Pin(carol.Identity.Certificate, "carol", null, DateTimeOffset.UtcNow, ContactStanding.Request);
        var unknown = request with { Account = Bob.Account.Text, Name = "bob", Standing = ContactStanding.Contact };

        var refusals = new[]
        {
            Assert.Throws<StoreException>(() => aliceNode.MarkRead(request)),
            Assert.Throws<StoreException>(() => aliceNode.SetTyping(request, true)),
            Assert.Throws<StoreException>(() => aliceNode.MarkRead(unknown)),
            Assert.Throws<StoreException>(() => aliceNode.SetTyping(unknown, true)),
        };

        Assert.All(refusals, e => Assert.Equal(StoreError.NoSuchContact, e.Error));
        Assert.All(refusals.Take(2), e => Assert.Equal($"{carol.Account.Text} is a contact request, not a contact: accept it first.", e.Message));
        Assert.All(refusals.Skip(2), e => Assert.Equal("That contact was removed.", e.Message));
        Assert.Empty(Alice.Store.Outbox.PendingReceipts(request));
        Assert.Equal(ContactStanding.Request, Alice.ContactOf(carol).Standing);
    }

    [Fact]
    public async Task SendAsync_NodeStoppedRightAfter_EveryAcceptedSendIsInTheOutbox()
    {
        var aliceNode = Alice.Start();
        var bob = aliceNode.AddContact(Bob.Account, "bob", null);
        var pending = Enumerable.Range(0, 200).Select(i => aliceNode.SendAsync(bob, $"before the stop {i}")).ToList();

        await Alice.StopAsync();

        var sent = await Task.WhenAll(pending);
        Assert.Equal(200, Alice.Store.Outbox.Count());
        Assert.Equal(sent.Select(m => m.MessageId), Alice.History(Bob).Select(m => m.MessageId));
        Assert.Throws<ObjectDisposedException>(() => { _ = aliceNode.SendAsync(bob, "after the stop"); });
    }

    [Fact]
    public async Task Send_WhileRecipientOffline_DeliveredWhenItStarts()
    {
        // Bob's port, reserved by a first run, is then closed: alice's dials are refused.
        Bob.Start();
        await Bob.StopAsync();
        var aliceNode = Alice.Start();
        var bob = aliceNode.AddContact(Bob.Account, "bob", Bob.Endpoint);
        string[] texts = ["are you there?", "call me", "it's about the keys"];
        var ids = texts.Select(text => aliceNode.Send(bob, text).MessageId).ToList();
        Assert.False(aliceNode.IsOnline(bob));
        Assert.Equal(texts.Length, Alice.Store.Outbox.Count());

        // Nothing more is done on alice's side: her dialer finds bob once he listens again.
        Bob.Start();
        await Eventually.HoldsAsync(() => StatesAt(Alice, ids).All(s => s == MessageState.Delivered), "all delivered", () => $"States: {string.Join(", ", StatesAt(Alice, ids))}");
        var received = Bob.History(Alice);
        Assert.Equal(texts, received.Select(m => m.Text));
        Assert.Equal(ids, received.Select(m => m.MessageId));

        // Bob met alice when she dialed in, dialed the port her hello names, and keeps it once her key answered there.
        await Eventually.HoldsAsync(() => Bob.ContactOf(Alice).Endpoints.Contains(Alice.Endpoint), "bob learned where alice listens", () => $"Bob knows alice at {string.Join(", ", Bob.ContactOf(Alice).Endpoints)}");
        Assert.Contains(Alice.Endpoint, Bob.ContactOf(Alice).Endpoints);
    }

    private static List<MessageState?> StatesAt(NodeHome home, IEnumerable<string> ids) =>
        [.. ids.Select(id => home.Store.Messages.Find(id)?.State)];
}
