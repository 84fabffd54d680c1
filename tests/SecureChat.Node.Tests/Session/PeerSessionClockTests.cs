using Google.Protobuf;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Messages;
using SecureChat.Protocol.Messages.Wire;
using SecureChat.Storage;

namespace SecureChat.Node.Tests.Session;

/// <summary>
/// Wall clocks that step and disagree, and the Lamport clock's rules (docs/protocol.md 6.3): each
/// party has its own fake clock, which the test steps back and forward. ClockJumpTests keeps the
/// same conversation over sockets and real stores as the integration test.
/// </summary>
public sealed class PeerSessionClockTests : TwoParties
{
    private int _dropped;

    /// <summary>
    /// Both wall clocks step back a day, then forward 40 days (past the ratchet's skipped-key
    /// lifetime), in the middle of a two-way conversation and while Bob is away with texts queued
    /// for him: every text is delivered once, in order, both ways, and no connection is closed.
    /// </summary>
    [Fact]
    public void ClockJump_BothClocksStepBackAndForwardMidConversation_EveryTextOnceInOrderBothWays()
    {
        var fromAlice = new List<MemoryOutgoing>();
        var fromBob = new List<MemoryOutgoing>();
        var pair = SessionPair.Run(Alice, Bob);
        try
        {
            for (var i = 0; i < 90; i++)
            {
                if (i == 30)
                {
                    Step(TimeSpan.FromDays(-1));
                }
                else if (i == 60)
                {
                    Step(TimeSpan.FromDays(40));
                }

                fromAlice.Add(Alice.Send($"alice {i:D3}"));
                fromBob.Add(Bob.Send($"bob {i:D3}"));
                pair.Kick().Settle(frameBudget: pair.Delivered + 3, cutWhenSpent: false);
            }

            pair.Kick().Settle();
            Assert.True(fromAlice[30].SentAt < fromAlice[29].SentAt - TimeSpan.FromHours(23));
            Assert.True(fromAlice[60].SentAt > fromAlice[59].SentAt + TimeSpan.FromDays(39));
            pair.Dispose();

            // Bob is away while Alice queues; the clocks step forward, Bob comes back and answers, they step back.
            fromAlice.AddRange(Enumerable.Range(0, 20).Select(i => Alice.Send($"alice queued {i:D3}")));
            Step(TimeSpan.FromDays(40));
            pair = SessionPair.Run(Bob, Alice);
            fromBob.AddRange(Enumerable.Range(0, 10).Select(i => Bob.Send($"bob back {i:D3}")));
            pair.Kick().Settle();
            Step(TimeSpan.FromDays(-1));
            for (var i = 0; i < 10; i++)
            {
                fromAlice.Add(Alice.Send($"alice after {i:D3}"));
                fromBob.Add(Bob.Send($"bob after {i:D3}"));
                pair.Kick().Settle();
            }
        }
        finally
        {
            pair.Dispose();
        }

        Assert.Equal(fromAlice.Select(m => m.Id), Bob.Store.Received.Select(m => m.MessageId));
        Assert.Equal(fromBob.Select(m => m.Id), Alice.Store.Received.Select(m => m.MessageId));
        Assert.All(fromAlice.Concat(fromBob), m => Assert.Equal(MessageState.Delivered, m.State));
        Assert.Empty(Alice.Closes.Concat(Bob.Closes));
    }

    /// <summary>A text held in flight across a 40-day step: its skipped key has expired, the ratchet says so, the session resets, and the text still arrives once.</summary>
    [Fact]
    public void ClockJump_ForwardPastTheSkippedKeyLifetimeWithAFrameHeldBack_TextArrivesOnceUnderANewSession()
    {
        var sent = new[] { Alice.Send("held back"), Alice.Send("went ahead") };
        byte[]? held = null;
        var written = 0;
        using (var pair = new SessionPair(Alice, Bob)
        {
            Wire = (fromDialer, frame) =>
            {
                if (fromDialer && ++written == 3)
                {
                    held = frame;
                    return [];
                }

                return [frame];
            },
        }.Start())
        {
            pair.Settle();
            Assert.Equal([sent[1].Id], Bob.Store.Received.Select(m => m.MessageId));

            Bob.Time.Advance(TimeSpan.FromDays(40));
            pair.ToAnswerer.Add(held!);
            pair.Settle();
        }

        Assert.Contains("out of step", Assert.Single(Bob.Closes).Text, StringComparison.Ordinal);
        SessionPair.RunOnce(Alice, Bob);

        Assert.Equal([sent[1].Id, sent[0].Id], Bob.Store.Received.Select(m => m.MessageId));
        Assert.All(sent, m => Assert.Equal(MessageState.Delivered, m.State));
    }

    /// <summary>A sender whose clock is years behind: earlier send times are kept as sent (a text can wait in an outbox for weeks).</summary>
    [Fact]
    public void ClockJump_SenderClockYearsBehind_SendTimeKeptAsSent()
    {
        Alice.Skew = TimeSpan.FromDays(-5 * 365);
        var text = Alice.Send("from the past");

        SessionPair.RunOnce(Alice, Bob);

        var stored = Assert.Single(Bob.Store.Received);
        Assert.Equal(text.SentAt, stored.SentAt);
        Assert.Equal(Bob.Now, stored.ReceivedAt);
    }

    /// <summary>The receiver moves its clock past every Lamport value it receives, so what it writes next sorts after it.</summary>
    [Fact]
    public void Lamport_ReceivedText_ReceiversNextTextIsLater()
    {
        Alice.Clock.Value = 5_000;
        var text = Alice.Send("far ahead");
        using var pair = SessionPair.Run(Alice, Bob);

        var answer = Bob.Send("answer");
        pair.Kick().Settle();

        Assert.True(answer.Lamport > text.Lamport, $"{answer.Lamport} after {text.Lamport}");
        Assert.Equal([answer.Id], Alice.Store.Received.Select(m => m.MessageId));
        Assert.Equal(answer.Lamport, Alice.Store.Received[0].Lamport);
    }

    /// <summary>A text's Lamport value is fixed when it is queued: lost in flight and resent later, after the sender's clock moved on, it carries the same value.</summary>
    [Fact]
    public void Lamport_TextLostAndResentLater_KeepsTheValueItWasQueuedWith()
    {
        var text = Alice.Send("lost once");
        using (var pair = new SessionPair(Alice, Bob) { Wire = (fromDialer, frame) => fromDialer && ++_dropped == 3 ? [] : [frame] }.Start())
        {
            pair.Settle();
        }

        Assert.Empty(Bob.Store.Received);
        Alice.Clock.Value += 1_000;
        SessionPair.RunOnce(Alice, Bob);

        Assert.Equal(text.Lamport, Assert.Single(Bob.Store.Received).Lamport);
    }

    /// <summary>A clock at the ceiling (2^53 - 1) stays there, and texts written at it still go and are stored.</summary>
    [Fact]
    public void Lamport_SenderAtTheCeiling_StaysThereAndTextsStillDeliver()
    {
        SessionPair.RunOnce(Alice, Bob);
        Alice.Clock.Value = (long)NodeWire.MaxLamport;
        Bob.Clock.Value = (long)NodeWire.MaxLamport - 10;
        var sent = new[] { Alice.Send("at the ceiling"), Alice.Send("still at it") };

        SessionPair.RunOnce(Alice, Bob);

        Assert.All(sent, m => Assert.Equal((long)NodeWire.MaxLamport, m.Lamport));
        Assert.Equal(sent.Select(m => m.Id), Bob.Store.Received.Select(m => m.MessageId));
        Assert.Equal((long)NodeWire.MaxLamport, Bob.Clock.Value);
        Assert.Empty(Bob.Closes);
    }

    /// <summary>A Lamport value above 2^53 - 1 is refused even within the window: closed, nothing of the batch stored, the clock unmoved.</summary>
    [Fact]
    public void Lamport_AboveTheCeiling_ClosedAndNothingStored()
    {
        using var pair = SessionPair.Run(Alice, Bob);
        Bob.Clock.Value = (long)NodeWire.MaxLamport - 5;

        pair.ToAnswerer.Add(Alice.Seal(Alice.Envelope(Bob, e =>
        {
            e.Lamport = NodeWire.MaxLamport + 1;
            e.Text = new Text { Content = "past the ceiling" };
        })));
        pair.Settle();

        var close = Assert.Single(Bob.Closes);
        Assert.Equal(CloseReason.ProtocolViolation, close.Reason);
        Assert.Contains("beyond this conversation's bound", close.Text, StringComparison.Ordinal);
        Assert.Empty(Bob.Store.Received);
        Assert.Equal((long)NodeWire.MaxLamport - 5, Bob.Clock.Value);
    }

    /// <summary>
    /// One envelope beyond the bound in a batch after good ones: nothing of the batch is stored or
    /// acknowledged, so the good texts stay in the sender's outbox too (6.3).
    /// </summary>
    [Fact]
    public void Lamport_BeyondTheWindowAfterGoodTextsInOneBatch_NothingOfTheBatchStored()
    {
        using var pair = SessionPair.Run(Alice, Bob);
        var answered = pair.RatchetFrames.FromAnswerer;
        var good = Alice.Seal(Alice.Envelope(Bob, e => e.Text = new Text { Content = "good" }));
        var far = Alice.Seal(Alice.Envelope(Bob, e =>
        {
            e.Lamport = (ulong)Bob.Clock.Value + (3 * NodeWire.LamportWindow);
            e.Text = new Text { Content = "too far" };
            e.MessageId = ByteString.CopyFrom(NodeWire.NewMessageId());
        }));

        pair.ToAnswerer.AddRange([good, far]);
        pair.Settle();

        Assert.Contains("beyond this conversation's bound", Assert.Single(Bob.Closes).Text, StringComparison.Ordinal);
        Assert.Empty(Bob.Store.Received);
        Assert.Equal(answered, pair.RatchetFrames.FromAnswerer);
    }

    private void Step(TimeSpan by)
    {
        Alice.Skew += by;
        Bob.Skew += by;
    }
}
