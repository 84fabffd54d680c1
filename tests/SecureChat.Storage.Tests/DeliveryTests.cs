namespace SecureChat.Storage.Tests;

/// <summary>
/// The store's delivery side (schema version 2): the outbox of queued and sent messages, states
/// that only move forward, received messages kept once with the session state that decrypted
/// them, read receipts waiting to go out, and sealed ratchet sessions bound to their contact.
/// </summary>
public sealed class DeliveryTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2025, 5, 1, 9, 0, 0, TimeSpan.Zero);

    private readonly StoreHome _home = new();
    private readonly Peer _bob = Peer.Create();
    private readonly Peer _carol = Peer.Create();
    private readonly FixedClock _clock = new(T0);

    public void Dispose()
    {
        _bob.Dispose();
        _carol.Dispose();
        _home.Dispose();
    }

    [Fact]
    public void Queue_Messages_WaitInTheOutboxInTheOrderWritten()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);

        var queued = new[] { "one", "two", "three" }.Select((text, i) => store.Outbox.QueueWithLamport(bob, text, lamport: i + 1)).ToList();

        var outbox = store.Outbox.Take(bob, 10);
        Assert.Equal(queued, outbox);
        Assert.Equal(["one", "two", "three"], outbox.Select(m => m.Text));
        Assert.Equal([1L, 2L, 3L], outbox.Select(m => m.Lamport));
        Assert.All(outbox, m =>
        {
            Assert.True(m.Outgoing);
            Assert.Equal(MessageState.Queued, m.State);
            Assert.Equal(T0, m.SentAt);
            Assert.Null(m.ReceivedAt);
            Assert.Equal("Bob", m.ContactName);
        });
        Assert.Equal(queued.Take(2), store.Outbox.Take(bob, 2));
        Assert.Equal(3, store.Outbox.Count());
    }

    [Fact]
    public void QueueRange_OneTransaction_KeepsTheOrderAndRejectsABadTextWithoutStoringAny()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);

        var queued = store.Outbox.QueueWithLamport(bob, [("one", 1), ("two", 2), ("three", 3)]);
        Assert.Equal(queued, store.Outbox.Take(bob, 10));

        Assert.Throws<ArgumentException>(() => store.Outbox.QueueWithLamport(bob, [("four", 4), ("", 5)]));
        Assert.Throws<ArgumentOutOfRangeException>(() => store.Outbox.QueueWithLamport(bob, [("four", 0)]));
        Assert.Equal(3, store.Outbox.Count());
    }

    [Fact]
    public void Outbox_AfterAMessage_StartsPastItAndFromTheStartWhenItIsGone()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var carol = store.Contacts.Add(_carol.Account, "Carol", null, T0);
        var queued = store.Outbox.QueueWithLamport(bob, [("one", 1), ("two", 2), ("three", 3)]);
        var toCarol = store.Outbox.QueueWithLamport(carol, "to Carol", 1);

        Assert.Equal(queued.Skip(1), store.Outbox.Take(bob, 10, queued[0].MessageId));
        Assert.Equal(queued.Skip(2), store.Outbox.Take(bob, 1, queued[1].MessageId));
        Assert.Empty(store.Outbox.Take(bob, 10, queued[2].MessageId));

        // A cursor from another conversation, or one never stored, names nothing here: from the start.
        Assert.Equal(queued, store.Outbox.Take(bob, 10, toCarol.MessageId));
        Assert.Equal(queued, store.Outbox.Take(bob, 10, MessageLog.NewId()));
    }

    [Fact]
    public void MarkSent_SavesTheSessionWithTheStates_AndOnlyQueuedMessagesMove()
    {
        using (var store = Open())
        {
            var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
            var queued = store.Outbox.QueueWithLamport(bob, [("one", 1), ("two", 2)]);
            store.Outbox.Advance(bob, [queued[1].MessageId], MessageState.Delivered);

            var moved = store.Outbox.MarkSent(bob, queued.Select(m => m.MessageId), [1, 2, 3]);

            Assert.Equal([queued[0].MessageId], moved);
            Assert.Empty(store.Outbox.MarkSent(bob, [], [4, 5, 6]));
        }

        using var reopened = Open();
        var again = reopened.Contacts.Find(_bob.Account)!;
        Assert.Equal([4, 5, 6], reopened.Sessions.Load(again));
        Assert.Equal([MessageState.Sent, MessageState.Delivered], reopened.Messages.History(again, 10).Select(m => m.State));
    }

    [Fact]
    public void Queue_AfterReopen_IsStillInTheOutbox()
    {
        StoredMessage queued;
        using (var store = Open())
        {
            queued = store.Outbox.QueueWithLamport(store.Contacts.Add(_bob.Account, "Bob", null, T0), "across restarts", 7);
        }

        using var reopened = Open();

        Assert.Equal([queued], reopened.Outbox.Take(reopened.Contacts.Resolve(_bob.Account.Text), 10));
    }

    /// <summary>What Queue returns is what the outbox, the history and Find give back later (times kept to the millisecond).</summary>
    [Fact]
    public void Queue_ClockFinerThanAMillisecond_ReturnsTheMessageAsStored()
    {
        using var store = _home.Open(time: new FixedClock(T0.AddTicks(1_234)));
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);

        var queued = store.Outbox.QueueWithLamport(bob, "now-ish", 1);

        var stored = store.Messages.Find(queued.MessageId)!;
        Assert.Equal(stored.SentAt.UtcTicks, queued.SentAt.UtcTicks);
        Assert.Equal(stored, queued);
    }

    [Fact]
    public void Outbox_IsPerConversationAndHoldsOnlyQueuedOrSentOutgoingMessages()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var carol = store.Contacts.Add(_carol.Account, "Carol", null, T0);
        var toBob = store.Outbox.QueueWithLamport(bob, "to Bob", 1);
        var toCarol = store.Outbox.QueueWithLamport(carol, "to Carol", 1);
        store.Messages.Receive(bob, [Incoming(bob, "from Bob")], null);
        store.Messages.Add(bob, MessageLog.NewId(), outgoing: true, "already delivered", T0, null, MessageState.Delivered);

        Assert.Equal([toBob], store.Outbox.Take(bob, 10));
        Assert.Equal([toCarol], store.Outbox.Take(carol, 10));
        Assert.Equal(2, store.Outbox.Count());
    }

    [Fact]
    public void Outbox_NonPositiveLimit_Throws()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);

        Assert.Throws<ArgumentOutOfRangeException>(() => store.Outbox.Take(bob, 0));
    }

    [Fact]
    public void Advance_StatesMoveForwardOnly()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var id = store.Outbox.QueueWithLamport(bob, "hello", 1).MessageId;

        Assert.Equal([id], store.Outbox.Advance(bob, [id], MessageState.Sent));
        Assert.Empty(store.Outbox.Advance(bob, [id], MessageState.Sent));
        Assert.Equal([id], store.Outbox.Advance(bob, [id], MessageState.Read));

        // A late acknowledgement after the read receipt leaves the message read.
        Assert.Empty(store.Outbox.Advance(bob, [id], MessageState.Delivered));
        Assert.Empty(store.Outbox.Advance(bob, [id], MessageState.Sent));
        Assert.Equal(MessageState.Read, store.Messages.Find(id)!.State);
    }

    [Fact]
    public void Advance_SeveralIds_ReturnsOnlyThoseThatChanged()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var ids = Enumerable.Range(0, 4).Select(i => store.Outbox.QueueWithLamport(bob, $"m{i}", i + 1).MessageId).ToList();
        store.Outbox.Advance(bob, [ids[1]], MessageState.Delivered);
        store.Outbox.Advance(bob, [ids[3]], MessageState.Read);

        var changed = store.Outbox.Advance(bob, [ids[0], ids[1], ids[2], ids[3], MessageLog.NewId()], MessageState.Delivered);

        Assert.Equal([ids[0], ids[2]], changed);
        Assert.Equal(
            [MessageState.Delivered, MessageState.Delivered, MessageState.Delivered, MessageState.Read],
            ids.Select(id => store.Messages.Find(id)!.State));
    }

    [Fact]
    public void Advance_UpperCaseIds_AreMatchedAndReturnedInLowerCase()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var id = store.Outbox.QueueWithLamport(bob, "hello", 1).MessageId;

        Assert.Equal([id], store.Outbox.Advance(bob, [id.ToUpperInvariant()], MessageState.Delivered));
    }

    [Fact]
    public void Advance_ReceivedMessageOrAnotherContactsMessage_IsNotChanged()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var carol = store.Contacts.Add(_carol.Account, "Carol", null, T0);
        var fromBob = Incoming(bob, "from Bob");
        store.Messages.Receive(bob, [fromBob], null);
        var toCarol = store.Outbox.QueueWithLamport(carol, "to Carol", 1).MessageId;

        // Bob acknowledges (or reads) a message he sent, and one that was sent to Carol.
        Assert.Empty(store.Outbox.Advance(bob, [fromBob.MessageId, toCarol], MessageState.Delivered));
        Assert.Empty(store.Outbox.Advance(bob, [fromBob.MessageId, toCarol], MessageState.Read));

        Assert.Equal(MessageState.Received, store.Messages.Find(fromBob.MessageId)!.State);
        Assert.Equal(MessageState.Queued, store.Messages.Find(toCarol)!.State);
    }

    [Theory]
    [InlineData(MessageState.Queued)]
    [InlineData(MessageState.Received)]
    [InlineData(MessageState.Seen)]
    [InlineData((MessageState)99)]
    public void Advance_ToAStateThatIsNotADeliveryStep_Throws(MessageState state)
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var id = store.Outbox.QueueWithLamport(bob, "hello", 1).MessageId;

        Assert.Throws<ArgumentOutOfRangeException>(() => store.Outbox.Advance(bob, [id], state));
        Assert.Equal(MessageState.Queued, store.Messages.Find(id)!.State);
    }

    [Fact]
    public void Advance_MalformedId_ThrowsArgumentExceptionAndChangesNothing()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var id = store.Outbox.QueueWithLamport(bob, "hello", 1).MessageId;

        Assert.Throws<ArgumentException>(() => store.Outbox.Advance(bob, [id, "not an id"], MessageState.Delivered));
        Assert.Equal(MessageState.Queued, store.Messages.Find(id)!.State);
    }

    [Fact]
    public void QueueRange_OutboxOfTheConversationFull_RefusesWithASentenceStoresNothingAndTakesMoreOnceSomeWentOut()
    {
        using var store = Open();
        store.Outbox.MaxPerContact = 3;
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var carol = store.Contacts.Add(_carol.Account, "Carol", null, T0);
        var ids = store.Outbox.QueueWithLamport(bob, [("one", 1), ("two", 2)]).Select(m => m.MessageId).ToList();

        var full = Assert.Throws<StoreException>(() => store.Outbox.QueueWithLamport(bob, [("three", 3), ("four", 4)]));
        Assert.Equal(StoreError.OutboxFull, full.Error);
        Assert.Equal("2 messages to 'Bob' are still waiting to be delivered, and the outbox of a conversation holds at most 3: send more once some have gone out.", full.Message);
        Assert.Equal(["one", "two"], store.Outbox.Take(bob, 10).Select(m => m.Text));

        // The bound is per conversation, and a delivered message makes room.
        store.Outbox.QueueWithLamport(carol, [("a", 1), ("b", 2), ("c", 3)]);
        store.Outbox.QueueWithLamport(bob, "three", 3);
        Assert.Equal(StoreError.OutboxFull, Assert.Throws<StoreException>(() => store.Outbox.QueueWithLamport(bob, "four", 4)).Error);
        store.Outbox.Advance(bob, [ids[0]], MessageState.Delivered);
        store.Outbox.QueueWithLamport(bob, "four", 4);
        Assert.Equal(["two", "three", "four"], store.Outbox.Take(bob, 10).Select(m => m.Text));
        Assert.Equal(3, store.Outbox.Count(bob));
    }

    [Fact]
    public void OutboxCount_FallsAsMessagesAreDelivered()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var carol = store.Contacts.Add(_carol.Account, "Carol", null, T0);
        var ids = Enumerable.Range(0, 3).Select(i => store.Outbox.QueueWithLamport(bob, $"m{i}", i + 1).MessageId).ToList();
        store.Outbox.QueueWithLamport(carol, "to Carol", 1);
        Assert.Equal(4, store.Outbox.Count());

        // Handed to the channel: still waiting for the acknowledgement.
        store.Outbox.Advance(bob, ids, MessageState.Sent);
        Assert.Equal(4, store.Outbox.Count());

        store.Outbox.Advance(bob, ids.Take(2), MessageState.Delivered);
        Assert.Equal(2, store.Outbox.Count());
        Assert.Equal([ids[2]], store.Outbox.Take(bob, 10).Select(m => m.MessageId));

        // A read receipt without an acknowledgement before it also ends the wait.
        store.Outbox.Advance(bob, [ids[2]], MessageState.Read);
        Assert.Equal(1, store.Outbox.Count());
        Assert.Empty(store.Outbox.Take(bob, 10));
    }

    [Fact]
    public void Receive_NewMessages_AreStoredOnceAndReturnedOnce()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var first = Incoming(bob, "first", lamport: 1);
        var second = Incoming(bob, "second", lamport: 2);
        var third = Incoming(bob, "third", lamport: 3);

        Assert.Equal([first, second], store.Messages.Receive(bob, [first, second], null));

        // Redelivered after a lost acknowledgement, with one new message.
        Assert.Equal([third], store.Messages.Receive(bob, [second, third, first], null));
        Assert.Empty(store.Messages.Receive(bob, [first], null));

        Assert.Equal([first, second, third], store.Messages.History(bob, 10));
        Assert.Equal(3, store.Messages.Count(bob));
    }

    [Fact]
    public void Receive_DuplicateIdWithOtherText_KeepsAndReturnsTheFirstOnly()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var original = Incoming(bob, "original");
        store.Messages.Receive(bob, [original], null);

        var forged = original with { Text = "forged" };

        Assert.Empty(store.Messages.Receive(bob, [forged], null));
        Assert.Equal([original], store.Messages.History(bob, 10));
    }

    /// <summary>One batch that carries the same ID twice (a peer resending within one read): one message is stored, so one is returned.</summary>
    [Fact]
    public void Receive_SameIdTwiceInOneBatch_IsReturnedOnce()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var original = Incoming(bob, "original");
        var copy = original with { Text = "a second text under the same ID" };

        var added = store.Messages.Receive(bob, [original, copy], null);

        Assert.Equal([original], store.Messages.History(bob, 10));
        Assert.Equal([original], added);
    }

    [Fact]
    public void Receive_WithSessionState_SavesItWithTheMessages()
    {
        using (var store = Open())
        {
            var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);

            store.Messages.Receive(bob, [Incoming(bob, "first")], [1, 2, 3]);
            Assert.Equal([1, 2, 3], store.Sessions.Load(bob));

            // All duplicates: nothing new is stored, but the ratchet moved on, so its state is saved.
            store.Messages.Receive(bob, store.Messages.History(bob, 10), [4, 5, 6]);
            Assert.Equal([4, 5, 6], store.Sessions.Load(bob));

            // No state given: the saved one stays.
            store.Messages.Receive(bob, [Incoming(bob, "second")], null);
            Assert.Equal([4, 5, 6], store.Sessions.Load(bob));
        }

        using var reopened = Open();
        Assert.Equal([4, 5, 6], reopened.Sessions.Load(reopened.Contacts.Resolve(_bob.Account.Text)));
        Assert.Equal(2, reopened.Messages.Count(reopened.Contacts.Resolve(_bob.Account.Text)));
    }

    [Fact]
    public void Receive_FailingPartWay_StoresNeitherMessagesNorSession()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        store.Sessions.Save(bob, [9, 9, 9]);
        var good = Incoming(bob, "good");
        var bad = Incoming(bob, "bad") with { MessageId = "not an id" };

        Assert.Throws<ArgumentException>(() => store.Messages.Receive(bob, [good, bad], [1, 2, 3]));

        Assert.Empty(store.Messages.History(bob, 10));
        Assert.Equal([9, 9, 9], store.Sessions.Load(bob));
        Assert.Equal([good], store.Messages.Receive(bob, [good], [1, 2, 3]));
    }

    [Fact]
    public void Receive_NewMessages_AreFoundBySearch()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        store.Messages.BuildIndex();

        store.Messages.Receive(bob, [Incoming(bob, "meet at the lighthouse")], null);

        Assert.Equal(["meet at the lighthouse"], store.Messages.Search("lighthouse", null, 10).Select(m => m.Text));
    }

    [Fact]
    public void MarkSeen_ReceivedMessages_BecomeSeenAndQueueOneReadReceipt()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var received = Enumerable.Range(0, 3).Select(i => Incoming(bob, $"from Bob {i}")).ToList();
        store.Messages.Receive(bob, received, null);
        var outgoing = store.Outbox.QueueWithLamport(bob, "to Bob", 4).MessageId;
        Assert.Equal(3, store.Messages.UnseenCount(bob));

        var seen = store.Outbox.MarkSeen(bob);

        var ids = received.Select(m => m.MessageId).Order().ToList();
        Assert.Equal(ids, seen.Order());
        Assert.Equal(0, store.Messages.UnseenCount(bob));
        Assert.All(received, m => Assert.Equal(MessageState.Seen, store.Messages.Find(m.MessageId)!.State));
        Assert.Equal(MessageState.Queued, store.Messages.Find(outgoing)!.State);
        var receipt = Assert.Single(store.Outbox.PendingReceipts(bob));
        Assert.Equal(ids, receipt.MessageIds.Order());
        Assert.Matches("^[0-9a-f]{32}$", receipt.EnvelopeId);
        Assert.DoesNotContain(receipt.EnvelopeId, ids);
    }

    [Fact]
    public void MarkSeen_NothingUnread_ReturnsNoneAndQueuesNoReceipt()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        store.Messages.Receive(bob, [Incoming(bob, "from Bob")], null);
        store.Outbox.MarkSeen(bob);

        Assert.Empty(store.Outbox.MarkSeen(bob));
        Assert.Single(store.Outbox.PendingReceipts(bob));

        var carol = store.Contacts.Add(_carol.Account, "Carol", null, T0);
        Assert.Empty(store.Outbox.MarkSeen(carol));
        Assert.Empty(store.Outbox.PendingReceipts(carol));
    }

    [Fact]
    public void MarkSeen_OneConversation_LeavesTheOthersUnread()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var carol = store.Contacts.Add(_carol.Account, "Carol", null, T0);
        store.Messages.Receive(bob, [Incoming(bob, "from Bob")], null);
        store.Messages.Receive(carol, [Incoming(carol, "from Carol"), Incoming(carol, "again")], null);

        store.Outbox.MarkSeen(bob);

        Assert.Equal(0, store.Messages.UnseenCount(bob));
        Assert.Equal(2, store.Messages.UnseenCount(carol));
        Assert.Empty(store.Outbox.PendingReceipts(carol));
    }

    [Fact]
    public void MarkSeen_MoreThanAReceiptHolds_QueuesOneReceiptPerThousand()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var received = Enumerable.Range(0, 1_001).Select(i => Incoming(bob, $"m{i}")).ToList();
        store.Messages.Receive(bob, received, null);

        var seen = store.Outbox.MarkSeen(bob);

        var pending = store.Outbox.PendingReceipts(bob);
        Assert.Equal(1_001, seen.Count);
        Assert.Equal([1_000, 1], pending.Select(r => r.MessageIds.Count));
        Assert.Equal(received.Select(m => m.MessageId).Order(), pending.SelectMany(r => r.MessageIds).Order());
    }

    [Fact]
    public void Acknowledge_PendingReceipt_RemovesItOnce()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        store.Messages.Receive(bob, [Incoming(bob, "one")], null);
        store.Outbox.MarkSeen(bob);
        store.Messages.Receive(bob, [Incoming(bob, "two")], null);
        store.Outbox.MarkSeen(bob);
        var pending = store.Outbox.PendingReceipts(bob);
        Assert.Equal(2, pending.Count);

        Assert.Equal(1, store.Outbox.AcknowledgeReceipts([pending[0].EnvelopeId]));
        Assert.Equal(0, store.Outbox.AcknowledgeReceipts([pending[0].EnvelopeId, MessageLog.NewId()]));

        var left = Assert.Single(store.Outbox.PendingReceipts(bob));
        Assert.Equal(pending[1].EnvelopeId, left.EnvelopeId);
        Assert.Equal(pending[1].MessageIds, left.MessageIds);
    }

    [Fact]
    public void Pending_AfterReopen_KeepsEachReceiptsEnvelopeId()
    {
        IReadOnlyList<PendingReceipt> before;
        using (var store = Open())
        {
            var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
            store.Messages.Receive(bob, [Incoming(bob, "one")], null);
            store.Outbox.MarkSeen(bob);
            before = store.Outbox.PendingReceipts(bob);
        }

        using var reopened = Open();

        var after = reopened.Outbox.PendingReceipts(reopened.Contacts.Resolve(_bob.Account.Text));
        Assert.Equal(before.Select(r => (r.EnvelopeId, string.Join(',', r.MessageIds))), after.Select(r => (r.EnvelopeId, string.Join(',', r.MessageIds))));
    }

    [Fact]
    public void UnseenCount_CountsOnlyReceivedMessagesNotYetSeen()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        Assert.Equal(0, store.Messages.UnseenCount(bob));

        store.Messages.Receive(bob, [Incoming(bob, "one"), Incoming(bob, "two")], null);
        store.Outbox.QueueWithLamport(bob, "to Bob", 3);

        Assert.Equal(2, store.Messages.UnseenCount(bob));
    }

    [Fact]
    public void Sessions_SaveAndLoad_RoundTripAndOverwrite()
    {
        byte[] state = [.. Enumerable.Range(0, 700).Select(i => (byte)i)];
        using (var store = Open())
        {
            var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
            var carol = store.Contacts.Add(_carol.Account, "Carol", null, T0);
            Assert.Null(store.Sessions.Load(bob));

            store.Sessions.Save(bob, [1]);
            store.Sessions.Save(bob, state);
            store.Sessions.Save(carol, [2]);

            Assert.Equal(state, store.Sessions.Load(bob));
            Assert.Equal([2], store.Sessions.Load(carol));
        }

        using var reopened = Open();
        Assert.Equal(state, reopened.Sessions.Load(reopened.Contacts.Resolve(_bob.Account.Text)));
        Assert.Equal(1L, _home.Scalar<long>("SELECT count(*) FROM sessions WHERE contact_id = $id", ("$id", reopened.Contacts.Resolve(_bob.Account.Text).Id)));
    }

    [Fact]
    public void Sessions_Delete_ForgetsOnlyThatContactsSession()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var carol = store.Contacts.Add(_carol.Account, "Carol", null, T0);
        store.Sessions.Save(bob, [1]);
        store.Sessions.Save(carol, [2]);

        store.Sessions.Delete(bob);

        Assert.Null(store.Sessions.Load(bob));
        Assert.Equal([2], store.Sessions.Load(carol));
    }

    [Fact]
    public void Sessions_StateIsSealedOnDisk()
    {
        byte[] state = [.. "a ratchet state that must not be readable on disk"u8];
        using (var store = Open())
        {
            store.Sessions.Save(store.Contacts.Add(_bob.Account, "Bob", null, T0), state);
        }

        var record = _home.Scalar<byte[]>("SELECT record FROM sessions");
        Assert.Equal(-1, record.AsSpan().IndexOf(state.AsSpan(0, 16)));
    }

    [Fact]
    public void Sessions_RecordMovedToAnotherContactsRow_ThrowsTampered()
    {
        long carolId;
        using (var store = Open())
        {
            var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
            carolId = store.Contacts.Add(_carol.Account, "Carol", null, T0).Id;
            store.Sessions.Save(bob, [1, 2, 3]);
        }

        _home.Execute("UPDATE sessions SET contact_id = $carol", ("$carol", carolId));

        using var reopened = Open();
        var error = Assert.Throws<StoreException>(() => reopened.Sessions.Load(reopened.Contacts.Resolve("Carol")));
        Assert.Equal(StoreError.Tampered, error.Error);
        Assert.Null(reopened.Sessions.Load(reopened.Contacts.Resolve(_bob.Account.Text)));
    }

    [Fact]
    public void Sessions_RecordCopiedOverAnotherContactsRecord_ThrowsTampered()
    {
        long bobId;
        long carolId;
        using (var store = Open())
        {
            var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
            var carol = store.Contacts.Add(_carol.Account, "Carol", null, T0);
            (bobId, carolId) = (bob.Id, carol.Id);
            store.Sessions.Save(bob, [1, 2, 3]);
            store.Sessions.Save(carol, [4, 5, 6]);
        }

        _home.Execute(
            "UPDATE sessions SET record = (SELECT record FROM sessions WHERE contact_id = $bob) WHERE contact_id = $carol",
            ("$bob", bobId),
            ("$carol", carolId));

        using var reopened = Open();
        Assert.Equal(StoreError.Tampered, Assert.Throws<StoreException>(() => reopened.Sessions.Load(reopened.Contacts.Resolve("Carol"))).Error);
        Assert.Equal([1, 2, 3], reopened.Sessions.Load(reopened.Contacts.Resolve(_bob.Account.Text)));
    }

    [Fact]
    public void Sessions_RecordBitFlipped_ThrowsTampered()
    {
        using (var store = Open())
        {
            store.Sessions.Save(store.Contacts.Add(_bob.Account, "Bob", null, T0), [1, 2, 3]);
        }

        var record = _home.Scalar<byte[]>("SELECT record FROM sessions");
        for (var bit = 0; bit < record.Length * 8; bit += 7)
        {
            var flipped = record.ToArray();
            flipped[bit / 8] ^= (byte)(1 << (bit % 8));
            _home.Execute("UPDATE sessions SET record = $record", ("$record", flipped));

            using var reopened = Open();
            Assert.Equal(StoreError.Tampered, Assert.Throws<StoreException>(() => reopened.Sessions.Load(reopened.Contacts.Resolve(_bob.Account.Text))).Error);
        }
    }

    [Fact]
    public void Remove_Contact_RemovesItsSessionAndReceiptsOnly()
    {
        long bobId;
        long carolId;
        using (var store = Open())
        {
            var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
            var carol = store.Contacts.Add(_carol.Account, "Carol", null, T0);
            (bobId, carolId) = (bob.Id, carol.Id);
            foreach (var contact in new[] { bob, carol })
            {
                store.Messages.Receive(contact, [Incoming(contact, "hello")], [7, 7, 7]);
                store.Outbox.MarkSeen(contact);
            }

            store.Contacts.Remove(bob);

            Assert.Throws<StoreException>(() => store.Sessions.Load(bob));
            Assert.Equal([7, 7, 7], store.Sessions.Load(carol));
            Assert.Single(store.Outbox.PendingReceipts(carol));
        }

        Assert.Equal(0L, _home.Scalar<long>("SELECT count(*) FROM sessions WHERE contact_id = $id", ("$id", bobId)));
        Assert.Equal(0L, _home.Scalar<long>("SELECT count(*) FROM receipts WHERE contact_id = $id", ("$id", bobId)));
        Assert.Equal(1L, _home.Scalar<long>("SELECT count(*) FROM sessions WHERE contact_id = $id", ("$id", carolId)));
        Assert.Equal(1L, _home.Scalar<long>("SELECT count(*) FROM receipts WHERE contact_id = $id", ("$id", carolId)));
    }

    [Fact]
    public void Remove_ContactAddedAgain_DoesNotInheritTheOldSession()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        store.Sessions.Save(bob, [1, 2, 3]);
        store.Contacts.Remove(bob);

        var again = store.Contacts.Add(_bob.Account, "Bob", null, T0);

        Assert.Null(store.Sessions.Load(again));
        Assert.Equal(0, store.Outbox.LastLamport(again));
    }

    [Fact]
    public void Open_NewStore_IsAtSchemaVersion4()
    {
        using (Open())
        {
        }

        Assert.Equal(4L, _home.Scalar<long>("PRAGMA user_version"));
        Assert.Equal(
            ["contacts", "invites", "messages", "receipts", "sessions"],
            _home.Column<string>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"));
    }

    [Fact]
    public void Open_SchemaVersion1_MigratesAndKeepsItsMessagesReadable()
    {
        var (incoming, outgoing) = CreateVersion1Store();

        using var store = Open();

        Assert.Equal(4L, _home.Scalar<long>("PRAGMA user_version"));
        var bob = store.Contacts.Resolve(_bob.Account.Text);

        // Version 4 gives the line chat's rows Lamport values in order, and a line it sent the state Delivered.
        Assert.Equal([incoming with { Lamport = 1 }, outgoing with { Lamport = 2, State = MessageState.Delivered }], store.Messages.History(bob, 10));
        Assert.Equal(2, store.Outbox.LastLamport(bob));
        Assert.Equal(1, store.Messages.UnseenCount(bob));

        // The version 2 tables work on the migrated file.
        store.Sessions.Save(bob, [1, 2, 3]);
        Assert.Equal([1, 2, 3], store.Sessions.Load(bob));
        var queued = store.Outbox.QueueWithLamport(bob, "after the upgrade", 3);
        Assert.Equal(queued, store.Messages.Find(queued.MessageId));
        Assert.Equal([incoming.MessageId], store.Outbox.MarkSeen(bob));
        Assert.Single(store.Outbox.PendingReceipts(bob));
    }

    /// <summary>
    /// Version 1 had no node: its outgoing messages went over the line chat, which carries no
    /// message IDs, so the peer already holds each one under an ID of its own. The node must not
    /// deliver them a second time.
    /// </summary>
    [Fact]
    public void Open_SchemaVersion1_DoesNotPutMessagesTheLineChatSentInTheOutbox()
    {
        CreateVersion1Store();

        using var store = Open();

        Assert.Empty(store.Outbox.Take(store.Contacts.Resolve(_bob.Account.Text), 10));
        Assert.Equal(0, store.Outbox.Count());
    }

    [Fact]
    public void Open_SchemaNewerThanThisVersion_ThrowsUnreadable()
    {
        using (Open())
        {
        }

        _home.Execute("PRAGMA user_version = 5");

        Assert.Equal(StoreError.Unreadable, Assert.Throws<StoreException>(() => Open()).Error);
    }

    [Fact]
    public void LastLamport_IsTheHighestOfTheConversationInEitherDirection()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var carol = store.Contacts.Add(_carol.Account, "Carol", null, T0);
        Assert.Equal(0, store.Outbox.LastLamport(bob));

        store.Outbox.QueueWithLamport(bob, "mine", 5);
        Assert.Equal(5, store.Outbox.LastLamport(bob));

        store.Messages.Receive(bob, [Incoming(bob, "theirs", lamport: 9)], null);
        store.Outbox.QueueWithLamport(bob, "an older clock", 3);
        store.Outbox.QueueWithLamport(carol, "to Carol", 40);

        Assert.Equal(9, store.Outbox.LastLamport(bob));
        Assert.Equal(40, store.Outbox.LastLamport(carol));
    }

    [Fact]
    public void LastLamport_StoredValueBeyondTheBoundByAnOlderVersion_IsPassedOver()
    {
        using (var store = Open())
        {
            var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
            store.Outbox.QueueWithLamport(bob, "mine", 7);
            store.Messages.Receive(bob, [Incoming(bob, "from the end of time", lamport: 12)], null);
        }

        // What versions before the bound stored for a peer's Lamport value 2^64 - 1.
        Assert.Equal(1, _home.Execute("UPDATE messages SET lamport = $huge WHERE outgoing = 0", ("$huge", long.MaxValue)));

        using var reopened = Open();
        var again = reopened.Contacts.Find(_bob.Account)!;
        Assert.Equal(7, reopened.Outbox.LastLamport(again));
        Assert.Equal(8, reopened.Outbox.QueueWithLamport(again, "and on", reopened.Outbox.LastLamport(again) + 1).Lamport);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData(9_007_199_254_740_992L)]
    [InlineData(long.MaxValue)]
    public void QueueRange_LamportOutsideOneTo2Pow53Minus1_RefusedWithASentenceThatSaysSo(long lamport)
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);

        var refusal = Assert.Throws<ArgumentOutOfRangeException>(() => store.Outbox.QueueWithLamport(bob, [("text", lamport)]));

        Assert.StartsWith("A queued message needs a Lamport value from 1 to 9,007,199,254,740,991 (2^53 - 1), and ", refusal.Message, StringComparison.Ordinal);
        Assert.Contains("is outside that range.", refusal.Message, StringComparison.Ordinal);
        Assert.Equal(0, store.Outbox.Count());
        Assert.Equal(9_007_199_254_740_991L, store.Outbox.QueueWithLamport(bob, "the last one", 9_007_199_254_740_991L).Lamport);
    }

    [Fact]
    public void Find_StoredMessage_IsReturnedWithItsConversation()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var carol = store.Contacts.Add(_carol.Account, "Carol", null, T0);
        var toBob = store.Outbox.QueueWithLamport(bob, "to Bob", 1);
        var fromCarol = Incoming(carol, "from Carol", lamport: 4);
        store.Messages.Receive(carol, [fromCarol], null);

        Assert.Equal(toBob, store.Messages.Find(toBob.MessageId));
        Assert.Equal(fromCarol, store.Messages.Find(fromCarol.MessageId.ToUpperInvariant()));
        Assert.Null(store.Messages.Find(MessageLog.NewId()));
        Assert.Throws<ArgumentException>(() => store.Messages.Find("00"));
    }

    [Fact]
    public void Find_MessageOfARemovedContact_IsNull()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var id = store.Outbox.QueueWithLamport(bob, "to Bob", 1).MessageId;

        store.Contacts.Remove(bob);

        Assert.Null(store.Messages.Find(id));
    }

    /// <summary>
    /// A store as version 1 left it: created by the current code, then with every object of
    /// migrations 2 and 3 dropped and <c>user_version</c> set back to 1. It holds Bob, one message from him
    /// and one line sent to him over the line chat.
    /// </summary>
    private (StoredMessage Incoming, StoredMessage Outgoing) CreateVersion1Store()
    {
        StoredMessage incoming;
        StoredMessage outgoing;
        using (var store = Open())
        {
            var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
            incoming = new StoredMessage(MessageLog.NewId(), "Bob", _bob.Account.Text, false, T0, T0.AddSeconds(2), MessageState.Received, "from the line chat");
            outgoing = new StoredMessage(MessageLog.NewId(), "Bob", _bob.Account.Text, true, T0.AddMinutes(1), null, MessageState.Sent, "sent over the line chat");
            Assert.Equal(2, store.Messages.AddRange(bob, [incoming, outgoing]));
        }

        _home.Execute("""
            DROP TABLE invites;
            DROP TABLE receipts;
            DROP TABLE sessions;
            DROP INDEX messages_outbox;
            DROP INDEX messages_unseen;
            ALTER TABLE messages DROP COLUMN lamport;
            PRAGMA user_version = 1;
            """);
        Assert.Equal(1L, _home.Scalar<long>("PRAGMA user_version"));
        Assert.Equal(
            ["id", "message_id", "contact_id", "outgoing", "sent_at", "received_at", "state", "body"],
            _home.Column<string>("SELECT name FROM pragma_table_info('messages') ORDER BY cid"));
        return (incoming, outgoing);
    }

    private LocalStore Open() => _home.Open(time: _clock);

    private static StoredMessage Incoming(Contact contact, string text, long lamport = 0) =>
        new(MessageLog.NewId(), contact.Name, contact.Account, false, T0, T0.AddSeconds(1), MessageState.Received, text, lamport);

    /// <summary>A clock that always reads <paramref name="now"/>.</summary>
    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
