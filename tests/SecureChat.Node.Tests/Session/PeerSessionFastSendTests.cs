using SecureChat.Node.Session;
using SecureChat.Storage;

namespace SecureChat.Node.Tests.Session;

/// <summary>
/// The fast send path (<see cref="PeerSession.SendQueued"/>) and the folded acknowledgements: a
/// text queued while the connection is up is queued, encrypted and marked sent in one store
/// write, after every older outbox message; a crash at any point resends it under a saved state
/// and never under a key already used; acknowledgements held in memory cost no write of their own.
/// </summary>
public sealed class PeerSessionFastSendTests : TwoParties
{
    public PeerSessionFastSendTests()
    {
        // The outbox takes Lamport values from the conversation's clock, as the node's does.
        Alice.Store.NextLamport = Alice.Clock.Tick;
        Alice.Store.Now = () => Alice.Now;
    }

    [Fact]
    public void SendQueued_Online_OneStoreWriteQueuesEncryptsAndMarksSent()
    {
        using var pair = SessionPair.Run(Alice, Bob);
        var writes = Alice.Store.Writes;

        var output = pair.SendQueued(true, "fast")!;

        Assert.Equal(writes + 1, Alice.Store.Writes);
        var stored = Assert.Single(output.Queued);
        Assert.Equal(MessageState.Sent, stored.State);
        Assert.Equal(MessageState.Sent, OutgoingOf("fast").State);
        Assert.Equal(stored.MessageId, OutgoingOf("fast").Id);
        Assert.Single(output.Frames);

        pair.Settle();

        Assert.Equal(["fast"], Bob.Store.Received.Select(m => m.Text));
        Assert.Equal(MessageState.Delivered, OutgoingOf("fast").State);
        Assert.Equal([MessageState.Sent, MessageState.Delivered], Alice.StatesOf(stored.MessageId));
    }

    [Fact]
    public void SendQueued_OlderTextsWaitInTheOutbox_TheyGoFirstInTheSameWriteAndEachIsStoredOnce()
    {
        using var pair = SessionPair.Run(Alice, Bob);
        _ = Alice.Send("older 0");
        _ = Alice.Send("older 1");
        var writes = Alice.Store.Writes;

        var output = pair.SendQueued(true, "new 0", "new 1")!;

        Assert.Equal(writes + 1, Alice.Store.Writes);
        Assert.Equal(4, output.Frames.Count);
        Assert.All(Alice.Store.Outgoing, m => Assert.Equal(MessageState.Sent, m.State));
        pair.Kick().Settle();
        Assert.Equal(["older 0", "older 1", "new 0", "new 1"], Bob.Store.Received.Select(m => m.Text));
        Assert.Equal(Bob.Store.Received.Select(m => m.Lamport).Order(), Bob.Store.Received.Select(m => m.Lamport));
        Assert.All(Alice.Store.Outgoing, m => Assert.Equal(MessageState.Delivered, m.State));
        Assert.Empty(Alice.Closes);
        Assert.Empty(Bob.Closes);
    }

    [Fact]
    public void SendQueued_OlderTextsFillTheBatch_NewTextsStayQueuedAndFollowThemInOrder()
    {
        using var pair = SessionPair.Run(Alice, Bob);
        var older = Enumerable.Range(0, Alice.Options.SendBatch + 2).Select(i => Alice.Send($"older {i}")).ToList();

        var output = pair.SendQueued(true, "new")!;

        Assert.True(output.MoreToSend);
        Assert.Equal(MessageState.Queued, Assert.Single(output.Queued).State);
        Assert.Equal(Alice.Options.SendBatch, output.Frames.Count);
        pair.Settle();
        Assert.Equal([.. older.Select(m => m.Text), "new"], Bob.Store.Received.Select(m => m.Text));
        Assert.All(Alice.Store.Outgoing, m => Assert.Equal(MessageState.Delivered, m.State));
    }

    /// <summary>
    /// The write is committed and the node dies before the frame is written. The next connection
    /// sends the text again from the outbox under the saved state: a new message key. Proof: the
    /// lost frame, delivered to Bob afterwards all the same, still decrypts (with the key Bob kept
    /// for a message skipped), which it could not if the resent copy had used its key.
    /// </summary>
    [Fact]
    public void SendQueued_CrashBetweenCommitAndWrite_ResentUnderTheSavedStateWithoutReusingAKey()
    {
        byte[] lost;
        using (var first = SessionPair.Run(Alice, Bob))
        {
            var output = first.Dialer.SendQueued(["survives the crash"], Alice.Now)!;
            lost = Assert.Single(output.Frames);
        }

        Assert.Equal(MessageState.Sent, OutgoingOf("survives the crash").State);
        using var second = SessionPair.Run(Alice, Bob);

        Assert.Equal(["survives the crash"], Bob.Store.Received.Select(m => m.Text));
        Assert.Equal(MessageState.Delivered, OutgoingOf("survives the crash").State);
        var late = second.Answerer.Receive([lost], Bob.Now);
        Assert.Null(late.Close);
        Assert.Empty(late.Received);
        Assert.Single(Bob.Store.Received);
        Assert.Empty(Alice.Closes);
        Assert.Empty(Bob.Closes);
    }

    [Fact]
    public void SendQueued_BeforeTheHello_TakesNothingAndWritesNothing()
    {
        using var pair = new SessionPair(Alice, Bob).Start();
        var writes = Alice.Store.Writes;

        Assert.Null(pair.Dialer.SendQueued(["too early"], Alice.Now));

        Assert.Equal(writes, Alice.Store.Writes);
        Assert.Empty(Alice.Store.Outgoing);
    }

    [Fact]
    public void SendQueued_OutboxFull_TakesNothingAndTheSessionGoesOnInStep()
    {
        using var pair = SessionPair.Run(Alice, Bob);
        Alice.Store.MaxOutbox = 0;

        Assert.Null(pair.SendQueued(true, "refused"));
        Assert.Empty(Alice.Store.Outgoing);

        Alice.Store.MaxOutbox = int.MaxValue;
        pair.SendQueued(true, "accepted");
        pair.Settle();
        Assert.Equal(["accepted"], Bob.Store.Received.Select(m => m.Text));
        Assert.Empty(Bob.Closes);
    }

    /// <summary>A failed write stores nothing and hands out no frame; the shell ends the connection, and the next one is in step.</summary>
    [Fact]
    public void SendQueued_WriteFails_NothingStoredNoFrameAndTheNextConnectionIsInStep()
    {
        using (var first = SessionPair.Run(Alice, Bob))
        {
            var saved = Alice.Store.SessionState;
            Alice.Store.FailNextQueueAndSend = true;

            Assert.Equal(StoreError.DiskFull, Assert.Throws<StoreException>(() => first.SendQueued(true, "disk full")).Error);

            Assert.Empty(Alice.Store.Outgoing);
            Assert.Equal(saved, Alice.Store.SessionState);
        }

        using var second = SessionPair.Run(Alice, Bob);
        second.SendQueued(true, "room again");
        second.Settle();
        Assert.Equal(["room again"], Bob.Store.Received.Select(m => m.Text));
        Assert.Empty(Alice.Closes);
        Assert.Empty(Bob.Closes);
    }

    /// <summary>
    /// Each acknowledgement rides on the next send's write: ten texts, each acknowledged before the
    /// next is sent, cost ten writes at the sender, not twenty. The last one's mark is written
    /// when the hold runs out; each delivered event comes once its mark is on disk.
    /// </summary>
    [Fact]
    public void Acknowledgements_Held_FoldedIntoTheNextSend_OneWritePerSend()
    {
        using var pair = SessionPair.Run(Alice, Bob);
        pair.Dialer.AcknowledgementHold = TimeSpan.FromSeconds(1);
        var writes = Alice.Store.Writes;

        for (var i = 0; i < 10; i++)
        {
            pair.SendQueued(true, $"text {i}");
            pair.Settle();
        }

        Assert.Equal(writes + 10, Alice.Store.Writes);
        Assert.Equal(10, Bob.Store.Received.Count);
        Assert.All(Alice.Store.Outgoing.SkipLast(1), m => Assert.Equal(MessageState.Delivered, m.State));
        var last = Alice.Store.Outgoing[^1];
        Assert.Equal(MessageState.Sent, last.State);
        Assert.Equal([MessageState.Sent], Alice.StatesOf(last.Id));
        Assert.Equal(Alice.Now + TimeSpan.FromSeconds(1), pair.Dialer.WakeAt);

        Alice.Time.Advance(TimeSpan.FromSeconds(1));
        pair.Kick().Settle();

        Assert.Equal(writes + 11, Alice.Store.Writes);
        Assert.Equal(MessageState.Delivered, last.State);
        Assert.Equal([MessageState.Sent, MessageState.Delivered], Alice.StatesOf(last.Id));
        Assert.Null(pair.Dialer.WakeAt);
    }

    /// <summary>A crash while an acknowledgement is held loses only the mark: the text goes again and Bob keeps it once.</summary>
    [Fact]
    public void Acknowledgements_HeldWhenTheNodeCrashes_TheTextIsSentAgainAndStoredOnce()
    {
        using (var first = SessionPair.Run(Alice, Bob))
        {
            first.Dialer.AcknowledgementHold = TimeSpan.FromSeconds(1);
            first.SendQueued(true, "acknowledged, mark lost");
            first.Settle();
            Assert.True(first.Dialer.HasHeldWrites);
        }

        Assert.Equal(MessageState.Sent, OutgoingOf("acknowledged, mark lost").State);
        SessionPair.RunOnce(Alice, Bob);

        Assert.Equal(["acknowledged, mark lost"], Bob.Store.Received.Select(m => m.Text));
        Assert.Equal(MessageState.Delivered, OutgoingOf("acknowledged, mark lost").State);
        Assert.Empty(Alice.Closes);
        Assert.Empty(Bob.Closes);
    }

    [Fact]
    public void Acknowledgements_HeldWhenTheConnectionEnds_FlushWritesThem()
    {
        using var pair = SessionPair.Run(Alice, Bob);
        pair.Dialer.AcknowledgementHold = TimeSpan.FromSeconds(1);
        pair.SendQueued(true, "delivered");
        pair.Settle();

        var output = pair.Dialer.Flush();

        Assert.False(pair.Dialer.HasHeldWrites);
        Assert.Equal(MessageState.Delivered, OutgoingOf("delivered").State);
        Assert.Contains(output.Events, e => e is MessageStateChanged { State: MessageState.Delivered });
    }

    /// <summary>Without a hold (the default), a batch of acknowledgements is one write with the ratchet state, not two.</summary>
    [Fact]
    public void Acknowledgements_NoHold_WrittenWithTheBatchThatCarriedThem()
    {
        using var pair = SessionPair.Run(Alice, Bob);
        var text = Alice.Send("acknowledged");

        // Alice sends (her write of the batch); the frame waits, undelivered.
        pair.Kick().Settle(frameBudget: pair.Delivered, cutWhenSpent: false);
        var writes = Alice.Store.Writes;

        pair.Settle();

        Assert.Equal(MessageState.Delivered, text.State);
        Assert.Equal(writes + 1, Alice.Store.Writes);
    }

    private MemoryOutgoing OutgoingOf(string text) => Alice.Store.Outgoing.Single(m => m.Text == text);
}
