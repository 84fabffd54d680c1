using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Messages;
using SecureChat.Storage;

namespace SecureChat.Node.Tests.Session;

/// <summary>
/// Ratchets out of step, clocks that disagree and quotas (docs/protocol.md 6.5, 6.7, 6.10), two
/// sessions in memory with fake clocks.
/// </summary>
public sealed class PeerSessionResetTests : TwoParties
{
    /// <summary>
    /// Bob's session is put back to an older state (a backup restored, a disk write lost) after
    /// both ratchets turned. The side that finds a message it cannot open forgets the session and
    /// closes; the next connection starts a new one and every text still in an outbox goes under
    /// it, each stored once.
    /// </summary>
    [Fact]
    public void Reset_RatchetsOutOfStep_SessionForgottenAndTheOutboxResentUnderANewOne()
    {
        var before = new[] { Alice.Send("a0"), Bob.Send("b0") };
        SessionPair.RunOnce(Alice, Bob);

        var snapshot = Bob.Store.SessionState;
        var turns = new List<MemoryOutgoing>();
        for (var i = 1; i <= 3; i++)
        {
            turns.Add(Alice.Send($"a{i}"));
            turns.Add(Bob.Send($"b{i}"));
            SessionPair.RunOnce(i % 2 == 0 ? Alice : Bob, i % 2 == 0 ? Bob : Alice);
        }

        Bob.Store.SessionState = snapshot;
        var after = new[] { Alice.Send("a after restore"), Bob.Send("b after restore") };
        SessionPair.RunOnce(Alice, Bob);

        var reset = Assert.Single(Alice.Closes.Concat(Bob.Closes));
        Assert.Equal(CloseReason.ProtocolViolation, reset.Reason);
        Assert.Contains("out of step", reset.Text, StringComparison.Ordinal);

        using var fresh = SessionPair.Run(Bob, Alice);

        Assert.Equal(fresh.HandshakeHash[..16], fresh.Dialer.SessionId.ToArray());
        var all = before.Concat(turns).Concat(after).ToList();
        Assert.Equal(all.Where(m => m.Text.StartsWith('a')).Select(m => m.Id), Bob.Store.Received.Select(m => m.MessageId));
        Assert.Equal(all.Where(m => m.Text.StartsWith('b')).Select(m => m.Id), Alice.Store.Received.Select(m => m.MessageId));
        Assert.All(all, m => Assert.Equal(MessageState.Delivered, m.State));
    }

    [Fact]
    public void ClockJump_SentAtMoreThanADayAhead_StoredWithTheReceiveTime()
    {
        Alice.Time.Advance(TimeSpan.FromDays(3));
        Alice.Send("from the future");

        using var pair = SessionPair.Run(Alice, Bob);

        var stored = Assert.Single(Bob.Store.Received);
        Assert.Equal(Bob.Now, stored.SentAt);
        Assert.Equal(Bob.Now, stored.ReceivedAt);
    }

    [Fact]
    public void ClockJump_SentAtLessThanADayAhead_KeepsTheClaimedTime()
    {
        Alice.Time.Advance(TimeSpan.FromHours(23));
        var text = Alice.Send("a little ahead");

        using var pair = SessionPair.Run(Alice, Bob);

        Assert.Equal(text.SentAt, Assert.Single(Bob.Store.Received).SentAt);
    }

    [Fact]
    public void ClockJump_ReceiverClockJumpsForwardMidConversation_DeliveryGoesOn()
    {
        using var pair = SessionPair.Run(Alice, Bob);
        Bob.Time.Advance(TimeSpan.FromDays(40));
        var text = Alice.Send("after bob's clock jumped");

        pair.Kick().Settle();

        Assert.Equal([text.Id], Bob.Store.Received.Select(m => m.MessageId));
        Assert.Equal(MessageState.Delivered, text.State);
        Assert.Empty(Bob.Closes);
    }

    [Fact]
    public void Lamport_BeyondTheWindow_ClosedNotStoredNotAcknowledged()
    {
        SessionPair.RunOnce(Alice, Bob);

        Alice.Clock.Value = Bob.Clock.Value + (long)NodeWire.LamportWindow;
        var text = Alice.Send("one past the bound");
        var bobClock = Bob.Clock.Value;

        SessionPair.RunOnce(Alice, Bob);

        var close = Assert.Single(Bob.Closes);
        Assert.Equal(CloseReason.ProtocolViolation, close.Reason);
        Assert.Contains("beyond this conversation's bound", close.Text, StringComparison.Ordinal);
        Assert.Empty(Bob.Store.Received);
        Assert.Equal(MessageState.Sent, text.State);
        Assert.Equal(bobClock, Bob.Clock.Value);
        Assert.True(Bob.Store.HasSession, "a bound refused is not a broken ratchet: the session is kept");
    }

    [Fact]
    public void Lamport_AtTheWindowEdge_StoredAndTheClockMovesPastIt()
    {
        SessionPair.RunOnce(Alice, Bob);

        Alice.Clock.Value = Bob.Clock.Value + (long)NodeWire.LamportWindow - 1;
        var text = Alice.Send("at the bound");

        SessionPair.RunOnce(Alice, Bob);

        Assert.Empty(Bob.Closes);
        Assert.Equal([text.Id], Bob.Store.Received.Select(m => m.MessageId));
        Assert.True(Bob.Clock.Value > text.Lamport);
    }

    /// <summary>
    /// Bob takes three texts a day from Alice. The fourth is refused (not stored, not
    /// acknowledged), and nothing after it is stored, so the order holds; Alice holds her outbox until the
    /// refusal ends, is woken then, and sends both again, which Bob now stores.
    /// </summary>
    [Fact]
    public void Quota_PeerOverItsLimit_RefusedHeldAndResentWhenTheRefusalEnds()
    {
        Bob.Limit = new QuotaLimit(3, 1 << 20);
        var sent = Enumerable.Range(0, 5).Select(i => Alice.Send($"text {i}")).ToList();

        using var pair = SessionPair.Run(Alice, Bob);

        Assert.Equal(sent.Take(3).Select(m => m.Id), Bob.Store.Received.Select(m => m.MessageId));
        Assert.All(sent.Skip(3), m => Assert.NotEqual(MessageState.Delivered, m.State));
        var refused = Assert.Single(Alice.Events.OfType<DeliveryRefused>()).Refusal;
        Assert.Equal("messages", refused.Reason);
        Assert.Equal(refused.Until, pair.Dialer.WakeAt);
        Assert.True(refused.Until > Alice.Now);

        // Just before the refusal ends, a pump sends nothing.
        var early = refused.Until - Alice.Now - TimeSpan.FromSeconds(1);
        Alice.Time.Advance(early);
        Bob.Time.Advance(early);
        pair.Kick().Settle();
        Assert.Equal(3, Bob.Store.Received.Count);

        Alice.Time.Advance(TimeSpan.FromSeconds(1));
        Bob.Time.Advance(TimeSpan.FromSeconds(1));
        pair.Kick().Settle();

        Assert.Equal(sent.Select(m => m.Id), Bob.Store.Received.Select(m => m.MessageId));
        Assert.All(sent, m => Assert.Equal(MessageState.Delivered, m.State));
        Assert.Null(pair.Dialer.WakeAt);
    }
}
