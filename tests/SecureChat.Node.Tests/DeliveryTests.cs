using SecureChat.Storage;
using Xunit.Abstractions;

namespace SecureChat.Node.Tests;

/// <summary>
/// Two real nodes on 127.0.0.1: every queued text reaches the peer's store exactly once and in
/// order, whatever the peer does meanwhile (offline, restarted mid-stream, sending as fast as this
/// side), and the sender sees it move Queued → Sent → Delivered → Read.
/// </summary>
public sealed class DeliveryTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly NodeHome _alice = new("alice", new TestOutputLogger(output, "alice"));
    private readonly NodeHome _bob = new("bob", new TestOutputLogger(output, "bob"));

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _alice.DisposeAsync();
        await _bob.DisposeAsync();
    }

    [Fact]
    public async Task Send_BothOnline_DeliveredOnceAndReceiptsMoveStates()
    {
        var bobNode = _bob.Start();
        var aliceNode = _alice.Start();
        await using var aliceTrail = new EventTrail(aliceNode);
        await using var bobTrail = new EventTrail(bobNode);
        var bob = aliceNode.AddContact(_bob.Account, "bob", _bob.Endpoint);
        await aliceTrail.WaitForAsync<PresenceChanged>(e => e.ContactAccount == bob.Account && e.Online, "bob online at alice");

        string[] texts = ["one", "two", "three"];
        var sent = texts.Select(text => aliceNode.Send(bob, text)).ToList();
        var ids = sent.Select(m => m.MessageId).ToList();
        Assert.All(sent, m => Assert.Equal(MessageState.Queued, m.State));

        await Eventually.HoldsAsync(() => StatesAt(_alice, ids).All(s => s == MessageState.Delivered), "all delivered", () => $"States: {string.Join(", ", StatesAt(_alice, ids))}");
        var received = _bob.History(_alice);
        Assert.Equal(texts, received.Select(m => m.Text));
        Assert.Equal(ids, received.Select(m => m.MessageId));
        Assert.All(received, m => Assert.Equal((false, MessageState.Received), (m.Outgoing, m.State)));

        var seen = bobNode.MarkRead(_bob.ContactOf(_alice));
        Assert.Equal(ids.Order(), seen.Order());
        await Eventually.HoldsAsync(() => StatesAt(_alice, ids).All(s => s == MessageState.Read), "all read", () => $"States: {string.Join(", ", StatesAt(_alice, ids))}");
        Assert.All(_bob.History(_alice), m => Assert.Equal(MessageState.Seen, m.State));
        Assert.Empty(bobNode.MarkRead(_bob.ContactOf(_alice)));

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
        Assert.Equal(0, _alice.Store.Messages.OutboxCount());
    }

    [Fact]
    public async Task Send_WhileRecipientOffline_DeliveredWhenItStarts()
    {
        // Bob's port, reserved by a first run, is then closed: alice's dials are refused.
        _bob.Start();
        await _bob.StopAsync();
        var aliceNode = _alice.Start();
        var bob = aliceNode.AddContact(_bob.Account, "bob", _bob.Endpoint);
        string[] texts = ["are you there?", "call me", "it's about the keys"];
        var ids = texts.Select(text => aliceNode.Send(bob, text).MessageId).ToList();
        Assert.False(aliceNode.IsOnline(bob));
        Assert.Equal(texts.Length, _alice.Store.Messages.OutboxCount());

        // Nothing more is done on alice's side: her dialer finds bob once he listens again.
        _bob.Start();
        await Eventually.HoldsAsync(() => StatesAt(_alice, ids).All(s => s == MessageState.Delivered), "all delivered", () => $"States: {string.Join(", ", StatesAt(_alice, ids))}");
        var received = _bob.History(_alice);
        Assert.Equal(texts, received.Select(m => m.Text));
        Assert.Equal(ids, received.Select(m => m.MessageId));

        // Bob met alice when she dialed in, and learned from her hello where she listens.
        Assert.Contains(_alice.Endpoint, _bob.ContactOf(_alice).Endpoints);
    }

    [Fact]
    public async Task MarkRead_WhileSenderOffline_SenderSeesReadAfterItRestarts()
    {
        _bob.Start();
        var aliceNode = _alice.Start();
        var bob = aliceNode.AddContact(_bob.Account, "bob", _bob.Endpoint);
        var ids = new[] { "first", "second" }.Select(text => aliceNode.Send(bob, text).MessageId).ToList();
        await Eventually.HoldsAsync(() => _alice.Store.Messages.OutboxCount() == 0, "both delivered");

        await _alice.StopAsync();
        Assert.Equal(ids.Order(), _bob.Node.MarkRead(_bob.ContactOf(_alice)).Order());

        // The read receipt waits on bob's disk until alice is back.
        _alice.Start();
        await Eventually.HoldsAsync(() => StatesAt(_alice, ids).All(s => s == MessageState.Read), "both read", () => $"States: {string.Join(", ", StatesAt(_alice, ids))}");
        await Eventually.HoldsAsync(() => _bob.Store.Receipts.Pending(_bob.ContactOf(_alice)).Count == 0, "bob's receipt acknowledged");
    }

    /// <summary>
    /// Alice queues 500 texts in a loop; bob stops once the first have arrived and starts again on
    /// the same store and port while she is still queuing. Alice sends in small batches with few in
    /// flight, so bob stops in the middle of the stream: some texts are on the wire, some stored
    /// with their acknowledgement lost.
    /// </summary>
    [Fact]
    public async Task Send_ReceiverRestartsMidStream_EachMessageStoredOnceInOrder()
    {
        const int Count = 500;
        const int StopAt = 150;
        const int RestartAt = 350;
        await using var alice = new NodeHome("alice", new TestOutputLogger(output, "alice"), NodeHome.FastOptions with { SendBatch = 8, MaxInFlight = 8 });
        _bob.Start();
        var aliceNode = alice.Start();
        var bob = aliceNode.AddContact(_bob.Account, "bob", _bob.Endpoint);
        var texts = Enumerable.Range(0, Count).Select(i => $"message {i:D3}").ToList();
        var ids = new List<string>();

        long storedAtStop = 0;
        for (var i = 0; i < Count; i++)
        {
            if (i == StopAt)
            {
                await Eventually.HoldsAsync(() => _bob.CountWith(alice) > 0, "the first text stored at bob");
                await _bob.StopAsync();
                storedAtStop = _bob.CountWith(alice);
            }
            else if (i == RestartAt)
            {
                _bob.Start();
            }

            ids.Add(aliceNode.Send(bob, texts[i]).MessageId);
        }

        output.WriteLine($"Bob stopped with {storedAtStop} of the first {StopAt} stored.");
        await Eventually.HoldsAsync(
            () => alice.Store.Messages.OutboxCount() == 0 && _bob.CountWith(alice) >= Count,
            "all delivered",
            () => $"Alice's outbox holds {alice.Store.Messages.OutboxCount()}; bob stored {_bob.CountWith(alice)}.");
        var received = _bob.History(alice);
        Assert.Equal(texts, received.Select(m => m.Text));
        Assert.Equal(ids, received.Select(m => m.MessageId));
        Assert.All(alice.History(_bob), m => Assert.Equal(MessageState.Delivered, m.State));
    }

    [Fact]
    public async Task Send_BothDirectionsAtOnce_EachSideReceivesAllInOrder()
    {
        const int Count = 1000;
        var bobNode = _bob.Start();
        var aliceNode = _alice.Start();
        var alice = bobNode.AddContact(_alice.Account, "alice", null);
        var bob = aliceNode.AddContact(_bob.Account, "bob", _bob.Endpoint);
        await Eventually.HoldsAsync(() => aliceNode.IsOnline(bob) && bobNode.IsOnline(alice), "both online");

        var fromAlice = Enumerable.Range(0, Count).Select(i => $"alice {i:D4}").ToList();
        var fromBob = Enumerable.Range(0, Count).Select(i => $"bob {i:D4}").ToList();
        await Task.WhenAll(
            Task.Run(() => fromAlice.ForEach(text => aliceNode.Send(bob, text))),
            Task.Run(() => fromBob.ForEach(text => bobNode.Send(alice, text))));

        await Eventually.HoldsAsync(
            () => _alice.Store.Messages.OutboxCount() == 0 && _bob.Store.Messages.OutboxCount() == 0
                && _alice.CountWith(_bob) >= 2 * Count && _bob.CountWith(_alice) >= 2 * Count,
            "all delivered both ways",
            () => $"Outboxes: alice {_alice.Store.Messages.OutboxCount()}, bob {_bob.Store.Messages.OutboxCount()}; "
                + $"stored: alice {_alice.CountWith(_bob)}, bob {_bob.CountWith(_alice)}.");
        var atAlice = _alice.History(_bob);
        var atBob = _bob.History(_alice);
        Assert.Equal(fromBob, atAlice.Where(m => !m.Outgoing).Select(m => m.Text));
        Assert.Equal(fromAlice, atBob.Where(m => !m.Outgoing).Select(m => m.Text));
        Assert.Equal(2 * Count, atAlice.Count);
        Assert.Equal(2 * Count, atBob.Count);
    }

    private static List<MessageState?> StatesAt(NodeHome home, IEnumerable<string> ids) =>
        [.. ids.Select(id => home.Store.Messages.Find(id)?.State)];
}
