using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Messages;
using SecureChat.Storage;

namespace SecureChat.Node.Tests.Session;

/// <summary>
/// Ratchets out of step, clocks that disagree and quotas (docs/protocol.md 6.5, 6.7, 6.10), two
/// sessions in memory with fake clocks.
/// </summary>
public sealed class PeerSessionResetTests : IDisposable
{
    private readonly Party _alice = new("alice");
    private readonly Party _bob = new("bob");

    public void Dispose()
    {
        _alice.Dispose();
        _bob.Dispose();
    }

    /// <summary>
    /// Bob's session is put back to an older state (a backup restored, a disk write lost) after
    /// both ratchets turned. The side that finds a message it cannot open forgets the session and
    /// closes; the next connection starts a new one and every text still in an outbox goes under
    /// it, each stored once.
    /// </summary>
    [Fact]
    public void Reset_RatchetsOutOfStep_SessionForgottenAndTheOutboxResentUnderANewOne()
    {
        var before = new[] { _alice.Send("a0"), _bob.Send("b0") };
        SessionPair.RunOnce(_alice, _bob);

        var snapshot = _bob.Store.SessionState;
        var turns = new List<MemoryOutgoing>();
        for (var i = 1; i <= 3; i++)
        {
            turns.Add(_alice.Send($"a{i}"));
            turns.Add(_bob.Send($"b{i}"));
            SessionPair.RunOnce(i % 2 == 0 ? _alice : _bob, i % 2 == 0 ? _bob : _alice);
        }

        _bob.Store.SessionState = snapshot;
        var after = new[] { _alice.Send("a after restore"), _bob.Send("b after restore") };
        SessionPair.RunOnce(_alice, _bob);

        var reset = Assert.Single(_alice.Closes.Concat(_bob.Closes));
        Assert.Equal(CloseReason.ProtocolViolation, reset.Reason);
        Assert.Contains("out of step", reset.Text, StringComparison.Ordinal);

        using var fresh = SessionPair.Run(_bob, _alice);

        Assert.Equal(fresh.HandshakeHash[..16], fresh.Dialer.SessionId.ToArray());
        var all = before.Concat(turns).Concat(after).ToList();
        Assert.Equal(all.Where(m => m.Text.StartsWith('a')).Select(m => m.Id), _bob.Store.Received.Select(m => m.MessageId));
        Assert.Equal(all.Where(m => m.Text.StartsWith('b')).Select(m => m.Id), _alice.Store.Received.Select(m => m.MessageId));
        Assert.All(all, m => Assert.Equal(MessageState.Delivered, m.State));
    }

    [Fact]
    public void ClockJump_SentAtMoreThanADayAhead_StoredWithTheReceiveTime()
    {
        _alice.Time.Advance(TimeSpan.FromDays(3));
        _alice.Send("from the future");

        using var pair = SessionPair.Run(_alice, _bob);

        var stored = Assert.Single(_bob.Store.Received);
        Assert.Equal(_bob.Now, stored.SentAt);
        Assert.Equal(_bob.Now, stored.ReceivedAt);
    }

    [Fact]
    public void ClockJump_SentAtLessThanADayAhead_KeepsTheClaimedTime()
    {
        _alice.Time.Advance(TimeSpan.FromHours(23));
        var text = _alice.Send("a little ahead");

        using var pair = SessionPair.Run(_alice, _bob);

        Assert.Equal(text.SentAt, Assert.Single(_bob.Store.Received).SentAt);
    }

    [Fact]
    public void ClockJump_ReceiverClockJumpsForwardMidConversation_DeliveryGoesOn()
    {
        using var pair = SessionPair.Run(_alice, _bob);
        _bob.Time.Advance(TimeSpan.FromDays(40));
        var text = _alice.Send("after bob's clock jumped");

        pair.Kick().Settle();

        Assert.Equal([text.Id], _bob.Store.Received.Select(m => m.MessageId));
        Assert.Equal(MessageState.Delivered, text.State);
        Assert.Empty(_bob.Closes);
    }

    [Fact]
    public void Lamport_BeyondTheWindow_ClosedNotStoredNotAcknowledged()
    {
        SessionPair.RunOnce(_alice, _bob);

        _alice.Clock.Value = _bob.Clock.Value + (long)NodeWire.LamportWindow;
        var text = _alice.Send("one past the bound");
        var bobClock = _bob.Clock.Value;

        SessionPair.RunOnce(_alice, _bob);

        var close = Assert.Single(_bob.Closes);
        Assert.Equal(CloseReason.ProtocolViolation, close.Reason);
        Assert.Contains("beyond this conversation's bound", close.Text, StringComparison.Ordinal);
        Assert.Empty(_bob.Store.Received);
        Assert.Equal(MessageState.Sent, text.State);
        Assert.Equal(bobClock, _bob.Clock.Value);
        Assert.True(_bob.Store.HasSession, "a bound refused is not a broken ratchet: the session is kept");
    }

    [Fact]
    public void Lamport_AtTheWindowEdge_StoredAndTheClockMovesPastIt()
    {
        SessionPair.RunOnce(_alice, _bob);

        _alice.Clock.Value = _bob.Clock.Value + (long)NodeWire.LamportWindow - 1;
        var text = _alice.Send("at the bound");

        SessionPair.RunOnce(_alice, _bob);

        Assert.Empty(_bob.Closes);
        Assert.Equal([text.Id], _bob.Store.Received.Select(m => m.MessageId));
        Assert.True(_bob.Clock.Value > text.Lamport);
    }

    /// <summary>
    /// Bob takes three texts a day from Alice. The fourth is refused (not stored, not
    /// acknowledged), and nothing after it is stored, so the order holds; Alice holds her outbox until the
    /// refusal ends, is woken then, and sends both again, which Bob now stores.
    /// </summary>
    [Fact]
    public void Quota_PeerOverItsLimit_RefusedHeldAndResentWhenTheRefusalEnds()
    {
        _bob.Limit = new QuotaLimit(3, 1 << 20);
        var sent = Enumerable.Range(0, 5).Select(i => _alice.Send($"text {i}")).ToList();

        using var pair = SessionPair.Run(_alice, _bob);

        Assert.Equal(sent.Take(3).Select(m => m.Id), _bob.Store.Received.Select(m => m.MessageId));
        Assert.All(sent.Skip(3), m => Assert.NotEqual(MessageState.Delivered, m.State));
        var refused = Assert.Single(_alice.Events.OfType<DeliveryRefused>()).Refusal;
        Assert.Equal("messages", refused.Reason);
        Assert.Equal(refused.Until, pair.Dialer.WakeAt);
        Assert.True(refused.Until > _alice.Now);

        // Just before the refusal ends, a pump sends nothing.
        var early = refused.Until - _alice.Now - TimeSpan.FromSeconds(1);
        _alice.Time.Advance(early);
        _bob.Time.Advance(early);
        pair.Kick().Settle();
        Assert.Equal(3, _bob.Store.Received.Count);

        _alice.Time.Advance(TimeSpan.FromSeconds(1));
        _bob.Time.Advance(TimeSpan.FromSeconds(1));
        pair.Kick().Settle();

        Assert.Equal(sent.Select(m => m.Id), _bob.Store.Received.Select(m => m.MessageId));
        Assert.All(sent, m => Assert.Equal(MessageState.Delivered, m.State));
        Assert.Null(pair.Dialer.WakeAt);
    }
}
