using SecureChat.Storage;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.Node.Tests;

/// <summary>
/// Two real nodes on 127.0.0.1, bob taking at most 2 texts an hour from each contact
/// (docs/protocol.md 6.10). The hour passes by a step of the wall clock both nodes read, so
/// nothing waits for it: alice's third text is refused with an event saying why, stays in her
/// outbox, and is delivered once when the window has moved and she sends again.
/// </summary>
public sealed class QuotaDeliveryTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly ClockJumpTests.SteppedClock _clock = new();
    private NodeHome _alice = null!;
    private NodeHome _bob = null!;

    public Task InitializeAsync()
    {
        var options = NodeHome.FastOptions with { Channel = NodeHome.FastOptions.Channel with { Time = _clock } };
        _alice = new NodeHome("alice", new TestOutputLogger(output, "alice"), options);
        _bob = new NodeHome("bob", new TestOutputLogger(output, "bob"), options with { ContactQuota = new QuotaLimit(2, 1 << 20), QuotaWindow = TimeSpan.FromHours(1) });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _alice.DisposeAsync();
        await _bob.DisposeAsync();
    }

    [Fact]
    public async Task Send_OverThePeersQuota_RefusedWithAnEventHeldInTheOutboxAndDeliveredOnceWhenTheWindowMoves()
    {
        _bob.Start().AddContact(_alice.Account, "alice", null);
        var aliceNode = _alice.Start();
        await using var trail = new EventTrail(aliceNode);
        var bob = aliceNode.AddContact(_bob.Account, "bob", _bob.Endpoint);
        await trail.WaitForAsync<PresenceChanged>(e => e.ContactAccount == bob.Account && e.Online, "bob online at alice");

        var sent = new List<StoredMessage>();
        for (var i = 1; i <= 3; i++)
        {
            sent.Add(await aliceNode.SendAsync(bob, $"text {i}"));
        }

        var refused = (await trail.WaitForAsync<DeliveryRefused>(e => e.Refusal.ContactAccount == bob.Account, "bob's refusal")).Refusal;
        Assert.Equal("messages", refused.Reason);
        Assert.Contains("at most 2 messages from you per hour", refused.Message, StringComparison.Ordinal);
        Assert.InRange(refused.Until, _clock.GetUtcNow().AddMinutes(55), _clock.GetUtcNow().AddHours(1));
        Assert.Equal(refused.Until, aliceNode.Refusals.HeldUntil(bob.Account, _clock.GetUtcNow()));

        await Eventually.HoldsAsync(() => StateOf(sent[1]) == MessageState.Delivered, "the second text delivered", () => $"state {StateOf(sent[1])}");
        Assert.Equal(sent.Take(2).Select(m => m.MessageId), _bob.History(_alice).Select(m => m.MessageId));
        Assert.Equal(MessageState.Sent, StateOf(sent[2]));
        Assert.Equal(1, _alice.Store.Outbox.Count());

        // An hour later (by the wall clock) bob takes two more: the refused text and a new one, once each, in order.
        _clock.Step(TimeSpan.FromHours(1));
        Assert.Null(aliceNode.Refusals.HeldUntil(bob.Account, _clock.GetUtcNow()));
        sent.Add(await aliceNode.SendAsync(bob, "text 4"));
        await Eventually.HoldsAsync(() => StateOf(sent[3]) == MessageState.Delivered, "the fourth text delivered", () => $"states {string.Join(", ", sent.Select(StateOf))}");
        Assert.Equal(sent.Select(m => m.MessageId), _bob.History(_alice).Select(m => m.MessageId));
        Assert.Equal(MessageState.Delivered, StateOf(sent[2]));
        Assert.Single(trail.Of<DeliveryRefused>());
    }

    private MessageState? StateOf(StoredMessage message) =>
        _alice.Store.Messages.Find(message.MessageId)?.State;
}
