using SecureChat.Storage;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.Node.Tests;

/// <summary>
/// The wall clock steps while two nodes talk, as when an administrator or NTP sets it, or a
/// laptop wakes with a wrong clock: back a day, then forward 40 days (past the ratchet's 30-day
/// skipped-key lifetime and any rekey interval), in the middle of a two-way conversation and while
/// one node is down with messages queued for it. Both nodes and their stores read the wall clock
/// from one <see cref="SteppedClock"/>. The promise: messages keep flowing both ways, each
/// delivered exactly once and in the order sent, what was queued across a step goes out, and no
/// connection churns (the number of connections stays that of the restarts). Timers, the redial
/// backoff, the hello timeout and the channel's rekey interval run on the monotonic clock
/// (TimeProvider timestamps and timers), which a wall-clock step does not move, as on a real machine.
/// </summary>
public sealed class ClockJumpTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Back = TimeSpan.FromDays(-1);
    private static readonly TimeSpan Forward = TimeSpan.FromDays(40);

    private readonly SteppedClock _clock = new();
    private NodeHome _alice = null!;
    private NodeHome _bob = null!;

    public Task InitializeAsync()
    {
        var options = NodeHome.FastOptions with { Channel = NodeHome.FastOptions.Channel with { Time = _clock } };
        _alice = new NodeHome("alice", new TestOutputLogger(output, "alice"), options);
        _bob = new NodeHome("bob", new TestOutputLogger(output, "bob"), options);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _alice.DisposeAsync();
        await _bob.DisposeAsync();
    }

    [Fact]
    public async Task Send_WallClockStepsBackAndForwardMidConversation_EveryMessageOnceInOrderBothWays()
    {
        var bobNode = _bob.Start();
        bobNode.AddContact(_alice.Account, "alice", null);
        var aliceNode = _alice.Start();
        await using var aliceTrail = new EventTrail(aliceNode);
        var bobAtAlice = aliceNode.AddContact(_bob.Account, "bob", _bob.Endpoint);
        await aliceTrail.WaitForAsync<PresenceChanged>(e => e.ContactAccount == bobAtAlice.Account && e.Online, "bob online at alice");
        var aliceAtBob = _bob.ContactOf(_alice);
        var fromAlice = new List<StoredMessage>();
        var fromBob = new List<StoredMessage>();

        // Both sides send in turn; the clock steps back, then forward, with messages in flight.
        for (var i = 0; i < 90; i++)
        {
            if (i == 30)
            {
                _clock.Step(Back);
            }
            else if (i == 60)
            {
                _clock.Step(Forward);
            }

            fromAlice.Add(await aliceNode.SendAsync(bobAtAlice, $"alice {i:D3}"));
            fromBob.Add(await bobNode.SendAsync(aliceAtBob, $"bob {i:D3}"));
        }

        // The steps reached the stores: the send times moved with the clock.
        Assert.True(fromAlice[30].SentAt < fromAlice[29].SentAt - TimeSpan.FromHours(23), $"{fromAlice[30].SentAt} after {fromAlice[29].SentAt}");
        Assert.True(fromAlice[60].SentAt > fromAlice[59].SentAt + TimeSpan.FromDays(39), $"{fromAlice[60].SentAt} after {fromAlice[59].SentAt}");
        await AllDeliveredAsync(fromAlice, fromBob);

        // Bob is down while alice queues; the clock steps forward, bob comes back and answers, the clock steps back.
        await _bob.StopAsync();
        for (var i = 0; i < 20; i++)
        {
            fromAlice.Add(await aliceNode.SendAsync(bobAtAlice, $"alice queued {i:D3}"));
        }

        _clock.Step(Forward);
        bobNode = _bob.Start();
        for (var i = 0; i < 10; i++)
        {
            fromBob.Add(await bobNode.SendAsync(aliceAtBob, $"bob back {i:D3}"));
        }

        _clock.Step(Back);
        for (var i = 0; i < 10; i++)
        {
            fromAlice.Add(await aliceNode.SendAsync(bobAtAlice, $"alice after {i:D3}"));
            fromBob.Add(await bobNode.SendAsync(aliceAtBob, $"bob after {i:D3}"));
        }

        await AllDeliveredAsync(fromAlice, fromBob);

        // No churn: one connection at first, one after bob's restart, and at most one crossing or replaced one more.
        var connections = aliceTrail.Of<PresenceChanged>().Count(e => e.Online);
        output.WriteLine($"clock {_clock.Offset.TotalDays:+0;-0} days; {connections} connections at alice");
        Assert.InRange(connections, 2, 4);
    }

    /// <summary>Both outboxes drain, every message is delivered, and each side holds the other's exactly once, in order.</summary>
    private async Task AllDeliveredAsync(List<StoredMessage> fromAlice, List<StoredMessage> fromBob)
    {
        await Eventually.HoldsAsync(
            () => _alice.Store.Outbox.Count() == 0 && _bob.Store.Outbox.Count() == 0,
            "both outboxes empty",
            () => $"alice {_alice.Store.Outbox.Count()}, bob {_bob.Store.Outbox.Count()} queued");
        AssertOnceInOrder(_alice, _bob, fromAlice);
        AssertOnceInOrder(_bob, _alice, fromBob);
    }

    private static void AssertOnceInOrder(NodeHome sender, NodeHome receiver, List<StoredMessage> sent)
    {
        var atSender = sender.History(receiver).Where(m => m.Outgoing).ToList();
        Assert.Equal(sent.Select(m => m.MessageId), atSender.Select(m => m.MessageId));
        Assert.All(atSender, m => Assert.True(m.State is MessageState.Delivered or MessageState.Read, $"{m.Text} is {m.State}"));
        var atReceiver = receiver.History(sender).Where(m => !m.Outgoing).ToList();
        Assert.Equal(sent.Select(m => (m.MessageId, m.Text)), atReceiver.Select(m => (m.MessageId, m.Text)));
    }

    /// <summary>
    /// The system's clock with a wall-clock offset the test steps: <see cref="TimeProvider.GetUtcNow"/>
    /// moves, while timestamps and timers stay the system's monotonic ones, as on a real machine
    /// whose clock is set.
    /// </summary>
    internal sealed class SteppedClock : TimeProvider
    {
        private long _offsetTicks;

        public TimeSpan Offset => TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));

        public void Step(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);

        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + Offset;
    }
}
