using SecureChat.Protocol.Messages;
using SecureChat.Protocol.Messages.Wire;
using SecureChat.Storage;

namespace SecureChat.Node.Tests.Session;

/// <summary>
/// Frames lost, repeated or reordered between the two sessions, and store writes that fail
/// (docs/protocol.md 6.4, 6.7): the channel keeps order and refuses replays, so these are what a
/// broken peer or a lost disk write can make a session see; every text still ends stored once or
/// waiting in its outbox.
/// </summary>
public sealed class PeerSessionNetworkTests : TwoParties
{
    /// <summary>
    /// The second of Alice's texts never reaches Bob; the first and third do (the ratchet keeps the
    /// skipped key). The lost one stays in Alice's outbox, unacknowledged, and the next connection
    /// carries it: each text is stored once.
    /// </summary>
    [Fact]
    public void Loss_OneFrameOfABatchDropped_TheRestStoredAndTheLostOneArrivesOnTheNextConnection()
    {
        var sent = new[] { Alice.Send("one"), Alice.Send("two"), Alice.Send("three") };
        var written = 0;
        using (var pair = new SessionPair(Alice, Bob) { Wire = (fromDialer, frame) => fromDialer && ++written == 4 ? [] : [frame] }.Start())
        {
            // Alice writes her hello, the session start, then "one", "two" (lost), "three".
            pair.Settle();

            Assert.Equal(["one", "three"], Bob.Store.Received.Select(m => m.Text));
            Assert.Equal([MessageState.Delivered, MessageState.Sent, MessageState.Delivered], sent.Select(m => m.State));
            Assert.Empty(Bob.Closes);
        }

        SessionPair.RunOnce(Alice, Bob);

        Assert.Equal(["one", "three", "two"], Bob.Store.Received.Select(m => m.Text));
        Assert.All(sent, m => Assert.Equal(MessageState.Delivered, m.State));
    }

    /// <summary>
    /// A ratchet frame arrives twice: its message key is spent, so the second copy fails to open
    /// and the sessions count as out of step (6.7). Nothing of that batch is stored; the next
    /// connection starts a new session and every text arrives once.
    /// </summary>
    [Fact]
    public void Duplication_RatchetFrameRepeated_SessionResetAndEachTextStoredOnce()
    {
        var sent = Enumerable.Range(0, 3).Select(i => Alice.Send($"text {i}")).ToList();
        var written = 0;
        using (var pair = new SessionPair(Alice, Bob) { Wire = (fromDialer, frame) => fromDialer && ++written == 3 ? [frame, frame] : [frame] }.Start())
        {
            pair.Settle();
        }

        Assert.Contains("out of step", Assert.Single(Bob.Closes).Text, StringComparison.Ordinal);
        Assert.False(Bob.Store.HasSession);

        SessionPair.RunOnce(Alice, Bob);

        Assert.Equal(sent.Select(m => m.Id), Bob.Store.Received.Select(m => m.MessageId));
        Assert.All(sent, m => Assert.Equal(MessageState.Delivered, m.State));
        Assert.Equal(2, Bob.Store.SessionsStarted);
    }

    /// <summary>
    /// Alice's first text is held back and reaches Bob after the later ones, in a step of its own:
    /// the ratchet opens it with the key it kept, and each text is stored once with the Lamport
    /// value it was written with, by which the history orders them.
    /// </summary>
    [Fact]
    public void Reordering_FrameHeldBackAndDeliveredAfterLaterOnes_EachStoredOnceWithItsLamport()
    {
        var sent = Enumerable.Range(0, 4).Select(i => Alice.Send($"text {i}")).ToList();
        byte[]? held = null;
        var written = 0;
        using var pair = new SessionPair(Alice, Bob)
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
        }.Start();
        pair.Settle();
        Assert.Equal(sent.Skip(1).Select(m => m.Id), Bob.Store.Received.Select(m => m.MessageId));

        pair.ToAnswerer.Add(held!);
        pair.Settle();

        Assert.Equal([.. sent.Skip(1).Select(m => m.Id), sent[0].Id], Bob.Store.Received.Select(m => m.MessageId));
        Assert.Equal(sent.Select(m => m.Lamport), Bob.Store.Received.OrderBy(m => m.Lamport).Select(m => m.Lamport));
        Assert.All(sent, m => Assert.Equal(MessageState.Delivered, m.State));
        Assert.Empty(Bob.Closes);
    }

    /// <summary>
    /// Bob answers, so he is Bob of a new session and cannot encrypt before Alice's session start
    /// reaches him (6.2). It is lost, and his text waits; Alice sends a session start on every
    /// connection until an envelope of Bob's has opened under the session, so the next connection,
    /// whoever dials it, carries Bob's text under the same session.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Loss_SessionStartLost_BobsTextWaitsAndGoesOnTheNextConnectionUnderTheSameSession(bool bobDialsNext)
    {
        var text = Bob.Send("can you read me?");
        byte[] sessionId;
        using (var pair = new SessionPair(Alice, Bob) { Wire = (fromDialer, frame) => fromDialer && IsRatchet(frame) ? [] : [frame] }.Start())
        {
            pair.Settle();
            Assert.True(pair.Answerer.IsOnline);
            Assert.Equal(0, pair.RatchetFrames.FromAnswerer);
            sessionId = pair.Answerer.SessionId.ToArray();
        }

        Assert.Equal(MessageState.Queued, text.State);

        using var next = bobDialsNext ? SessionPair.Run(Bob, Alice) : SessionPair.Run(Alice, Bob);

        Assert.Equal([text.Id], Alice.Store.Received.Select(m => m.MessageId));
        Assert.Equal(MessageState.Delivered, text.State);
        Assert.Equal(sessionId, next.Dialer.SessionId.ToArray());
        Assert.Equal((1, 1), (Alice.Store.SessionsStarted, Bob.Store.SessionsStarted));
    }

    /// <summary>
    /// Bob never acknowledges: Alice sends at most <see cref="NodeOptions.MaxInFlight"/> texts on
    /// the connection and holds the rest (6.4). The next connection, acknowledged again, carries
    /// the whole outbox; what Bob had stored is acknowledged, not stored again.
    /// </summary>
    [Fact]
    public void InFlight_NoAcknowledgements_AtMostTheLimitSentAndTheRestOnTheNextConnection()
    {
        var sent = Enumerable.Range(0, 40).Select(i => Alice.Send($"text {i}")).ToList();
        var limit = Alice.Options.MaxInFlight;
        using (var pair = new SessionPair(Alice, Bob) { Wire = (fromDialer, frame) => !fromDialer && IsRatchet(frame) ? [] : [frame] }.Start())
        {
            pair.Settle();

            Assert.Equal(limit, Bob.Store.Received.Count);
            Assert.Equal(limit + 1, pair.RatchetFrames.FromDialer);
            Assert.Equal(limit, sent.Count(m => m.State == MessageState.Sent));
            Assert.All(sent.Skip(limit), m => Assert.Equal(MessageState.Queued, m.State));
        }

        SessionPair.RunOnce(Alice, Bob);

        Assert.Equal(sent.Select(m => m.Id), Bob.Store.Received.Select(m => m.MessageId));
        Assert.All(sent, m => Assert.Equal(MessageState.Delivered, m.State));
    }

    /// <summary>Each step takes at most <see cref="NodeOptions.SendBatch"/> texts and says when more wait; the session start rides with the first batch.</summary>
    [Fact]
    public void Batching_MoreTextsThanABatch_EachStepTakesOneBatchAndAsksForAnother()
    {
        var sent = Enumerable.Range(0, 10).Select(i => Alice.Send($"text {i}")).ToList();
        var batch = Alice.Options.SendBatch;

        using var pair = SessionPair.Run(Alice, Bob);

        var steps = pair.DialerOutputs.Where(o => o.Frames.Any(IsRatchet)).ToList();
        Assert.Equal(batch + 1, steps[0].Frames.Count);
        Assert.True(steps[0].MoreToSend);
        Assert.All(steps, o => Assert.True(o.Frames.Count <= batch + 1));
        Assert.Equal(sent.Select(m => m.Id), Bob.Store.Received.Select(m => m.MessageId));
    }

    /// <summary>A side sends nothing but its hello until it has read the peer's (6.1): a queued text waits for the session choice.</summary>
    [Fact]
    public void Hello_TextQueuedBeforeThePeersHelloArrives_OnlyTheHelloIsWritten()
    {
        var text = Alice.Send("early");
        using var pair = new SessionPair(Alice, Bob).Start();

        var output = pair.Dialer.Pump(Alice.Now);

        Assert.Empty(output.Frames);
        Assert.False(pair.Dialer.IsOnline);
        Assert.Equal(MessageState.Queued, text.State);
        pair.Settle();
        Assert.Equal(MessageState.Delivered, text.State);
    }

    /// <summary>
    /// The write that would keep the ratchet state of a batch fails (a full disk): no frame of the
    /// batch is handed out, so no message key it used ever leaves the node, and the texts stay
    /// queued. The next connection sends them under the state the store kept, and each is stored once.
    /// </summary>
    [Fact]
    public void StoreFailure_MarkSentFails_NoFrameHandedOutAndTheNextConnectionDelivers()
    {
        var sent = new[] { Alice.Send("one"), Alice.Send("two") };
        using (var pair = new SessionPair(Alice, Bob).Start())
        {
            Alice.Store.FailNextMarkSent = true;

            Assert.Throws<StoreException>(() => pair.Settle());

            Assert.Equal(0, pair.RatchetFrames.FromDialer);
            Assert.All(sent, m => Assert.Equal(MessageState.Queued, m.State));
        }

        SessionPair.RunOnce(Alice, Bob);

        Assert.Equal(sent.Select(m => m.Id), Bob.Store.Received.Select(m => m.MessageId));
        Assert.All(sent, m => Assert.Equal(MessageState.Delivered, m.State));
        Assert.Empty(Bob.Closes);
    }

    /// <summary>
    /// The new session cannot be kept on Bob's side (a full disk): he sends nothing under it and
    /// stores nothing of what came. His next hello names no session, so the next connection starts
    /// a new one on both sides, and Alice's text, still unacknowledged, arrives under it once.
    /// </summary>
    [Fact]
    public void StoreFailure_SaveSessionFails_NothingSentAndTheNextConnectionStartsAFreshSession()
    {
        var text = Alice.Send("under which session?");
        using (var pair = new SessionPair(Alice, Bob).Start())
        {
            Bob.Store.FailNextSaveSession = true;

            Assert.Throws<StoreException>(() => pair.Settle());

            Assert.False(Bob.Store.HasSession);
            Assert.Empty(Bob.Store.Received);
            Assert.Equal(0, pair.RatchetFrames.FromAnswerer);
        }

        using var next = SessionPair.Run(Alice, Bob);

        Assert.Equal([text.Id], Bob.Store.Received.Select(m => m.MessageId));
        Assert.Equal(MessageState.Delivered, text.State);
        Assert.Equal(next.HandshakeHash[..16], next.Answerer.SessionId.ToArray());
        Assert.Equal(2, Alice.Store.SessionsStarted);
    }

    private static bool IsRatchet(byte[] frame) => NodeWire.TryParseFrame(frame, out var parsed) && parsed.FrameCase == NodeFrame.FrameOneofCase.Ratchet;
}
