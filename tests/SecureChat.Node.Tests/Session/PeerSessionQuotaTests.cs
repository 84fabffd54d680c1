using Google.Protobuf;
using SecureChat.Protocol.Messages.Wire;
using SecureChat.Storage;

namespace SecureChat.Node.Tests.Session;

/// <summary>
/// Quotas and refusals (docs/protocol.md 6.10) rule by rule, two sessions in memory with fake
/// clocks. QuotaDeliveryTests.Send_OverThePeersQuota_RefusedWithAnEventHeldInTheOutboxAndDeliveredOnceWhenTheWindowMoves
/// stays as the integration test over sockets and the real store.
/// </summary>
public sealed class PeerSessionQuotaTests : TwoParties
{
    /// <summary>The text that crosses the byte limit is the last one stored; the next is refused for bytes.</summary>
    [Fact]
    public void Quota_ByteLimit_TheTextThatCrossesItIsTheLastStoredAndTheReasonIsBytes()
    {
        Bob.Limit = new QuotaLimit(100, 10);
        var sent = new[] { Alice.Send("aaaaaa"), Alice.Send("bbbbbb"), Alice.Send("cc") };

        SessionPair.RunOnce(Alice, Bob);

        Assert.Equal(sent.Take(2).Select(m => m.Id), Bob.Store.Received.Select(m => m.MessageId));
        var refusal = Assert.Single(Alice.Events.OfType<DeliveryRefused>()).Refusal;
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
        Bob.Limit = new QuotaLimit(2, 1 << 20);
        var sent = Enumerable.Range(0, 5).Select(i => Alice.Send($"text {i}")).ToList();

        using var pair = new SessionPair(Alice, Bob).Start();
        pair.Settle();

        Assert.Equal(sent.Take(2).Select(m => m.Id), Bob.Store.Received.Select(m => m.MessageId));
        Assert.Single(Alice.Events.OfType<DeliveryRefused>());
        Assert.All(sent.Skip(2), m => Assert.NotEqual(MessageState.Delivered, m.State));
    }

    /// <summary>
    /// While Alice's texts are held, what is not a text still goes both ways (6.10): her read
    /// receipt and her typing notice reach Bob, and Bob's texts reach her.
    /// </summary>
    [Fact]
    public void Quota_WhileHeld_ReadReceiptsTypingAndThePeersTextsStillGo()
    {
        Bob.Limit = new QuotaLimit(1, 1 << 20);
        Alice.Send("one");
        Alice.Send("two");
        using var pair = SessionPair.Run(Alice, Bob);
        Assert.NotNull(pair.Dialer.WakeAt);

        var fromBob = Bob.Send("bob's text");
        pair.Kick().Settle();
        Alice.Store.MarkAllSeen();
        pair.Dialer.Typing(true);
        pair.Kick().Settle();

        Assert.Equal([fromBob.Id], Alice.Store.Received.Select(m => m.MessageId));
        Assert.Equal(MessageState.Read, fromBob.State);
        Assert.Single(Bob.Events.OfType<TypingChanged>(), e => e.Active);
        Assert.Single(Bob.Store.Received);
        Assert.Empty(Alice.Store.Receipts);
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
        using var pair = SessionPair.Run(Alice, Bob);
        var dialerFrames = pair.RatchetFrames.FromDialer;

        pair.ToDialer.Add(Bob.Seal(Bob.Envelope(Alice, e => e.Refusal = new Refusal
        {
            Reason = RefusalReason.MessageQuota,
            MessageId = ByteString.CopyFrom(new byte[16]),
            RetryAfterMs = (ulong)askedMilliseconds,
            Limit = 3,
            WindowSeconds = 86_400,
        })));
        pair.Settle();

        var refusal = Assert.Single(Alice.Events.OfType<DeliveryRefused>()).Refusal;
        Assert.Equal(Alice.Now + TimeSpan.FromMilliseconds(heldMilliseconds), refusal.Until);
        Assert.Equal(refusal.Until, pair.Dialer.WakeAt);
        Assert.Empty(Alice.Closes);
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
        Bob.Limit = new QuotaLimit(1, 1 << 20);
        var first = Alice.Send("stored");
        var refused = Alice.Send("refused");
        using var pair = SessionPair.Run(Alice, Bob);
        Assert.Equal([first.Id], Bob.Store.Received.Select(m => m.MessageId));
        var answered = pair.RatchetFrames.FromAnswerer;
        Bob.Limit = QuotaLimit.ContactDefault;

        pair.ToAnswerer.Add(Alice.Seal(Alice.Envelope(Bob, e => e.Text = new Text { Content = "later" })));
        pair.Settle();

        Assert.Single(Bob.Store.Received);
        Assert.Equal(answered, pair.RatchetFrames.FromAnswerer);

        pair.ToAnswerer.Add(Alice.Seal(Alice.Envelope(Bob, e =>
        {
            e.MessageId = ByteString.CopyFrom(Convert.FromHexString(refused.Id));
            e.Lamport = (ulong)refused.Lamport;
            e.Text = new Text { Content = refused.Text };
        })));
        pair.ToAnswerer.Add(Alice.Seal(Alice.Envelope(Bob, e => e.Text = new Text { Content = "after it" })));
        pair.Settle();

        Assert.Equal(["stored", "refused", "after it"], Bob.Store.Received.Select(m => m.Text));
        Assert.Equal(answered + 1, pair.RatchetFrames.FromAnswerer);
        Assert.Empty(Bob.Closes);
    }

    /// <summary>A refusal of a reason this version does not know is held like any quota (6.10: the enum is open).</summary>
    [Fact]
    public void Refusal_UnknownReason_HeldAsALimitOfUnknownKind()
    {
        using var pair = SessionPair.Run(Alice, Bob);
        var text = Alice.Send("waits");

        pair.ToDialer.Add(Bob.Seal(Bob.Envelope(Alice, e => e.Refusal = new Refusal
        {
            Reason = (RefusalReason)77,
            MessageId = ByteString.CopyFrom(new byte[16]),
            RetryAfterMs = 60_000,
        })));
        pair.Settle();
        pair.Kick().Settle();

        Assert.Equal("limit", Assert.Single(Alice.Events.OfType<DeliveryRefused>()).Refusal.Reason);
        Assert.Equal(MessageState.Queued, text.State);
        Assert.Empty(Bob.Store.Received);
    }

    /// <summary>
    /// A quota hold outlives the connection: a new one within it sends no text (only a request's
    /// hold ends on a new connection); once it ends the outbox goes from its oldest text.
    /// </summary>
    [Fact]
    public void Refusal_NewConnectionWithinTheHold_SendsNoTextUntilItEnds()
    {
        Bob.Limit = new QuotaLimit(2, 1 << 20);
        var sent = Enumerable.Range(0, 4).Select(i => Alice.Send($"text {i}")).ToList();
        SessionPair.RunOnce(Alice, Bob);
        var until = Assert.Single(Alice.Events.OfType<DeliveryRefused>()).Refusal.Until;

        using (var pair = SessionPair.Run(Bob, Alice))
        {
            Assert.Equal(until, pair.Answerer.WakeAt);
            Assert.Equal(0, pair.RatchetFrames.FromAnswerer);
        }

        Assert.Equal(2, Bob.Store.Received.Count);
        var wait = until - Alice.Now;
        Alice.Time.Advance(wait);
        Bob.Time.Advance(wait);
        SessionPair.RunOnce(Alice, Bob);

        Assert.Equal(sent.Select(m => m.Id), Bob.Store.Received.Select(m => m.MessageId));
        Assert.Single(Alice.Events.OfType<DeliveryRefused>());
    }

    /// <summary>
    /// Alice's clock runs two days ahead of Bob's, so her hold ends before Bob's window has moved:
    /// her retry is refused again, with a new wait, and nothing more is stored (6.10).
    /// </summary>
    [Fact]
    public void Refusal_RetryBeforeTheWindowAllows_RefusedAgainWithANewWait()
    {
        Bob.Limit = new QuotaLimit(2, 1 << 20);
        for (var i = 0; i < 3; i++)
        {
            Alice.Send($"text {i}");
        }

        using var pair = SessionPair.Run(Alice, Bob);

        Alice.Time.Advance(TimeSpan.FromDays(2));
        pair.Kick().Settle();

        Assert.Equal(2, Alice.Events.OfType<DeliveryRefused>().Count());
        Assert.Equal(2, Bob.Store.Received.Count);
        Assert.True(Alice.Events.OfType<DeliveryRefused>().Last().Refusal.Until > Alice.Now);
    }

    /// <summary>One peer over its quota does not touch another's: Carol's texts to Bob are stored while Alice's are refused.</summary>
    [Fact]
    public void Quota_OnePeerOverIt_AnotherPeerStillStored()
    {
        using var carol = new Party("carol");
        Bob.Limit = new QuotaLimit(1, 1 << 20);
        Alice.Send("alice 0");
        Alice.Send("alice 1");
        var fromCarol = carol.Send("carol 0");

        SessionPair.RunOnce(Alice, Bob);
        SessionPair.RunOnce(carol, Bob);

        Assert.Equal(["alice 0", "carol 0"], Bob.Store.Received.Select(m => m.Text));
        Assert.Equal(MessageState.Delivered, fromCarol.State);
        Assert.Empty(carol.Events.OfType<DeliveryRefused>());
    }
}
