using Google.Protobuf;
using SecureChat.Protocol.Messages.Wire;
using SecureChat.Storage;

namespace SecureChat.Node.Tests.Session;

/// <summary>
/// Quotas and refusals (docs/protocol.md 6.10) rule by rule, two sessions in memory with fake
/// clocks. QuotaDeliveryTests.Send_OverThePeersQuota_RefusedWithAnEventHeldInTheOutboxAndDeliveredOnceWhenTheWindowMoves
/// stays as the integration test over sockets and the real store.
/// </summary>
public sealed class PeerSessionQuotaTests : IDisposable
{
    private readonly Party _alice = new("alice");
    private readonly Party _bob = new("bob");

    public void Dispose()
    {
        _alice.Dispose();
        _bob.Dispose();
    }

    /// <summary>The text that crosses the byte limit is the last one stored; the next is refused for bytes.</summary>
    [Fact]
    public void Quota_ByteLimit_TheTextThatCrossesItIsTheLastStoredAndTheReasonIsBytes()
    {
        _bob.Limit = new QuotaLimit(100, 10);
        var sent = new[] { _alice.Send("aaaaaa"), _alice.Send("bbbbbb"), _alice.Send("cc") };

        SessionPair.RunOnce(_alice, _bob);

        Assert.Equal(sent.Take(2).Select(m => m.Id), _bob.Store.Received.Select(m => m.MessageId));
        var refusal = Assert.Single(_alice.Events.OfType<DeliveryRefused>()).Refusal;
        Assert.Equal("bytes", refusal.Reason);
        Assert.Contains("at most 10 bytes of text from you per day", refusal.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Two texts over the quota in one batch: one refusal is sent, for the first, and the second is
    /// refused silently (6.10), so the conversation is stored in order or not at all.
    /// </summary>
    [Fact]
    public void Quota_SeveralTextsOverIt_OneRefusalAndNothingAfterTheFirstRefusedStored()
    {
        _bob.Limit = new QuotaLimit(2, 1 << 20);
        var sent = Enumerable.Range(0, 5).Select(i => _alice.Send($"text {i}")).ToList();

        using var pair = new SessionPair(_alice, _bob).Start();
        pair.Settle();

        Assert.Equal(sent.Take(2).Select(m => m.Id), _bob.Store.Received.Select(m => m.MessageId));
        Assert.Single(_alice.Events.OfType<DeliveryRefused>());
        Assert.All(sent.Skip(2), m => Assert.NotEqual(MessageState.Delivered, m.State));
    }

    /// <summary>
    /// While Alice's texts are held, what is not a text still goes both ways (6.10): her read
    /// receipt and her typing notice reach Bob, and Bob's texts reach her.
    /// </summary>
    [Fact]
    public void Quota_WhileHeld_ReadReceiptsTypingAndThePeersTextsStillGo()
    {
        _bob.Limit = new QuotaLimit(1, 1 << 20);
        _alice.Send("one");
        _alice.Send("two");
        using var pair = SessionPair.Run(_alice, _bob);
        Assert.NotNull(pair.Dialer.WakeAt);

        var fromBob = _bob.Send("bob's text");
        pair.Kick().Settle();
        _alice.Store.MarkAllSeen();
        pair.Dialer.Typing(true);
        pair.Kick().Settle();

        Assert.Equal([fromBob.Id], _alice.Store.Received.Select(m => m.MessageId));
        Assert.Equal(MessageState.Read, fromBob.State);
        Assert.Single(_bob.Events.OfType<TypingChanged>(), e => e.Active);
        Assert.Single(_bob.Store.Received);
        Assert.Empty(_alice.Store.Receipts);
    }

    /// <summary>
    /// A refusal asks for a wait; the sender holds at least 1 s (a peer that asks for none is not
    /// hammered) and at most 2 days (a peer cannot silence it for longer), by its own clock. A refusal is not acknowledged: nothing goes back for it.
    /// </summary>
    [Theory]
    [InlineData(0, 1_000)]
    [InlineData(250, 1_000)]
    [InlineData(90_000, 90_000)]
    [InlineData(365L * 24 * 3_600_000, 2L * 24 * 3_600_000)]
    public void Refusal_AsksForAWait_HeldForItWithinOneSecondAndTwoDays(long askedMilliseconds, long heldMilliseconds)
    {
        using var pair = SessionPair.Run(_alice, _bob);
        var dialerFrames = pair.RatchetFrames.FromDialer;

        pair.ToDialer.Add(_bob.Seal(_bob.Envelope(_alice, e => e.Refusal = new Refusal
        {
            Reason = RefusalReason.MessageQuota,
            MessageId = ByteString.CopyFrom(new byte[16]),
            RetryAfterMs = (ulong)askedMilliseconds,
            Limit = 3,
            WindowSeconds = 86_400,
        })));
        pair.Settle();

        var refusal = Assert.Single(_alice.Events.OfType<DeliveryRefused>()).Refusal;
        Assert.Equal(_alice.Now + TimeSpan.FromMilliseconds(heldMilliseconds), refusal.Until);
        Assert.Equal(refusal.Until, pair.Dialer.WakeAt);
        Assert.Empty(_alice.Closes);
        Assert.Equal(dialerFrames, pair.RatchetFrames.FromDialer);
    }

    /// <summary>
    /// Once a text is refused on a connection, later texts on it are refused silently (no refusal
    /// and no acknowledgement goes back), even when the quota would take them, until the refused
    /// text comes again (6.10): the conversation is stored in order or not at all.
    /// </summary>
    [Fact]
    public void Quota_LaterTextsAfterARefusal_RefusedSilentlyUntilTheRefusedOneComesAgain()
    {
        _bob.Limit = new QuotaLimit(1, 1 << 20);
        var first = _alice.Send("stored");
        var refused = _alice.Send("refused");
        using var pair = SessionPair.Run(_alice, _bob);
        Assert.Equal([first.Id], _bob.Store.Received.Select(m => m.MessageId));
        var answered = pair.RatchetFrames.FromAnswerer;
        _bob.Limit = QuotaLimit.ContactDefault;

        pair.ToAnswerer.Add(_alice.Seal(_alice.Envelope(_bob, e => e.Text = new Text { Content = "later" })));
        pair.Settle();

        Assert.Single(_bob.Store.Received);
        Assert.Equal(answered, pair.RatchetFrames.FromAnswerer);

        pair.ToAnswerer.Add(_alice.Seal(_alice.Envelope(_bob, e =>
        {
            e.MessageId = ByteString.CopyFrom(Convert.FromHexString(refused.Id));
            e.Lamport = (ulong)refused.Lamport;
            e.Text = new Text { Content = refused.Text };
        })));
        pair.ToAnswerer.Add(_alice.Seal(_alice.Envelope(_bob, e => e.Text = new Text { Content = "after it" })));
        pair.Settle();

        Assert.Equal(["stored", "refused", "after it"], _bob.Store.Received.Select(m => m.Text));
        Assert.Equal(answered + 1, pair.RatchetFrames.FromAnswerer);
        Assert.Empty(_bob.Closes);
    }

    /// <summary>A refusal of a reason this version does not know is held like any quota (6.10: the enum is open).</summary>
    [Fact]
    public void Refusal_UnknownReason_HeldAsALimitOfUnknownKind()
    {
        using var pair = SessionPair.Run(_alice, _bob);
        var text = _alice.Send("waits");

        pair.ToDialer.Add(_bob.Seal(_bob.Envelope(_alice, e => e.Refusal = new Refusal
        {
            Reason = (RefusalReason)77,
            MessageId = ByteString.CopyFrom(new byte[16]),
            RetryAfterMs = 60_000,
        })));
        pair.Settle();
        pair.Kick().Settle();

        Assert.Equal("limit", Assert.Single(_alice.Events.OfType<DeliveryRefused>()).Refusal.Reason);
        Assert.Equal(MessageState.Queued, text.State);
        Assert.Empty(_bob.Store.Received);
    }

    /// <summary>
    /// A quota hold outlives the connection: a new one within it sends no text (only a request's
    /// hold ends on a new connection); once it ends the outbox goes from its oldest text.
    /// </summary>
    [Fact]
    public void Refusal_NewConnectionWithinTheHold_SendsNoTextUntilItEnds()
    {
        _bob.Limit = new QuotaLimit(2, 1 << 20);
        var sent = Enumerable.Range(0, 4).Select(i => _alice.Send($"text {i}")).ToList();
        SessionPair.RunOnce(_alice, _bob);
        var until = Assert.Single(_alice.Events.OfType<DeliveryRefused>()).Refusal.Until;

        using (var pair = SessionPair.Run(_bob, _alice))
        {
            Assert.Equal(until, pair.Answerer.WakeAt);
            Assert.Equal(0, pair.RatchetFrames.FromAnswerer);
        }

        Assert.Equal(2, _bob.Store.Received.Count);
        var wait = until - _alice.Now;
        _alice.Time.Advance(wait);
        _bob.Time.Advance(wait);
        SessionPair.RunOnce(_alice, _bob);

        Assert.Equal(sent.Select(m => m.Id), _bob.Store.Received.Select(m => m.MessageId));
        Assert.Single(_alice.Events.OfType<DeliveryRefused>());
    }

    /// <summary>
    /// Alice's clock runs two days ahead of Bob's, so her hold ends before Bob's window has moved:
    /// her retry is refused again, with a new wait, and nothing more is stored (6.10).
    /// </summary>
    [Fact]
    public void Refusal_RetryBeforeTheWindowAllows_RefusedAgainWithANewWait()
    {
        _bob.Limit = new QuotaLimit(2, 1 << 20);
        for (var i = 0; i < 3; i++)
        {
            _alice.Send($"text {i}");
        }

        using var pair = SessionPair.Run(_alice, _bob);

        _alice.Time.Advance(TimeSpan.FromDays(2));
        pair.Kick().Settle();

        Assert.Equal(2, _alice.Events.OfType<DeliveryRefused>().Count());
        Assert.Equal(2, _bob.Store.Received.Count);
        Assert.True(_alice.Events.OfType<DeliveryRefused>().Last().Refusal.Until > _alice.Now);
    }

    /// <summary>One peer over its quota does not touch another's: Carol's texts to Bob are stored while Alice's are refused.</summary>
    [Fact]
    public void Quota_OnePeerOverIt_AnotherPeerStillStored()
    {
        using var carol = new Party("carol");
        _bob.Limit = new QuotaLimit(1, 1 << 20);
        _alice.Send("alice 0");
        _alice.Send("alice 1");
        var fromCarol = carol.Send("carol 0");

        SessionPair.RunOnce(_alice, _bob);
        SessionPair.RunOnce(carol, _bob);

        Assert.Equal(["alice 0", "carol 0"], _bob.Store.Received.Select(m => m.Text));
        Assert.Equal(MessageState.Delivered, fromCarol.State);
        Assert.Empty(carol.Events.OfType<DeliveryRefused>());
    }
}
