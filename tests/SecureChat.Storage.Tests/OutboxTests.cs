using SecureChat.Protocol.Messages;

namespace SecureChat.Storage.Tests;

/// <summary>
/// The one outbox: group commit, the Lamport clock of a conversation, the bound, taking and
/// marking messages, read receipts, the memory of what this process queued (and the store behind
/// it after a restart), and state changes written one statement per batch.
/// </summary>
public sealed class OutboxTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2025, 5, 1, 9, 0, 0, TimeSpan.Zero);

    private readonly StoreHome _home = new();
    private readonly Peer _bob = Peer.Create();
    private readonly Peer _carol = Peer.Create();

    public void Dispose()
    {
        _bob.Dispose();
        _carol.Dispose();
        _home.Dispose();
    }

    [Fact]
    public async Task QueueAsync_SendsWhileAWriteIsUnderWay_AreWrittenTogetherInTheNextTransaction()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var carol = store.Contacts.Add(_carol.Account, "Carol", null, T0);
        using var inFirstWrite = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var writes = new List<int>();
        using var registration = store.Outbox.WhileQueueing(bob, (_, queued) =>
        {
            writes.Add(queued.Count);
            if (writes.Count == 1)
            {
                inFirstWrite.Set();
                release.Wait(TimeSpan.FromMinutes(1));
            }
        });

        var first = store.Outbox.QueueAsync(bob, "first");
        Assert.True(inFirstWrite.Wait(TimeSpan.FromMinutes(1)));
        var next = Enumerable.Range(0, 50).Select(i => store.Outbox.QueueAsync(i % 2 == 0 ? bob : carol, $"m{i}")).ToList();
        release.Set();
        var stored = await Task.WhenAll(next);
        await first;

        // One transaction for the first text, one for the fifty queued while it was written.
        Assert.Equal([1, 25], writes);
        Assert.Equal(["first", .. Enumerable.Range(0, 25).Select(i => $"m{i * 2}")], store.Outbox.Take(bob, 100).Select(m => m.Text));
        Assert.Equal(Enumerable.Range(1, 26).Select(i => (long)i), store.Outbox.Take(bob, 100).Select(m => m.Lamport));
        Assert.Equal(Enumerable.Range(0, 25).Select(i => $"m{(i * 2) + 1}"), store.Outbox.Take(carol, 100).Select(m => m.Text));
        Assert.Equal(stored.Where(m => m.ContactName == "Carol"), store.Outbox.Take(carol, 100));
    }

    [Fact]
    public async Task QueueAsync_OneConversationFull_FailsItsSendsOnlyAndTheOthersAreWritten()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var carol = store.Contacts.Add(_carol.Account, "Carol", null, T0);
        store.Outbox.MaxPerContact = 1;
        store.Outbox.Queue(bob, ["fills Bob's outbox"]);

        var toBob = store.Outbox.QueueAsync(bob, "one too many");
        var toCarol = store.Outbox.QueueAsync(carol, "room for this");

        Assert.Equal(StoreError.OutboxFull, (await Assert.ThrowsAsync<StoreException>(() => toBob)).Error);
        Assert.Equal("room for this", (await toCarol).Text);
        Assert.Equal(2, store.Outbox.Count());
    }

    [Fact]
    public void QueueAsync_InvalidText_ThrowsAtOnce()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);

        Assert.Throws<ArgumentException>(() => { _ = store.Outbox.QueueAsync(bob, string.Empty); });
        Assert.Throws<ArgumentException>(() => { _ = store.Outbox.QueueAsync(bob, new string('x', NodeWire.MaxTextBytes + 1)); });
        Assert.Equal(0, store.Outbox.Count());
    }

    [Fact]
    public void Queue_TicksTheClockFromTheHighestStoredValue_AndOrdersRowsByIt()
    {
        using (var store = _home.Open())
        {
            var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
            store.Messages.Receive(bob, [Incoming(bob, "theirs", 41)], null);
        }

        using var reopened = _home.Open();
        var again = reopened.Contacts.Find(_bob.Account)!;
        var queued = reopened.Outbox.Queue(again, ["a", "b"]);

        Assert.Equal([42L, 43L], queued.Select(m => m.Lamport));
        Assert.Equal(44, reopened.Outbox.Tick(again));
        Assert.Equal(45, reopened.Outbox.Queue(again, ["c"])[0].Lamport);
    }

    [Fact]
    public void TryWitness_WithinTheWindow_MovesTheClock_BeyondIt_RefusesAndNamesTheLimit()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        store.Outbox.Queue(bob, ["one"]);

        Assert.False(store.Outbox.TryWitness(bob, 1 + NodeWire.LamportWindow + 1, out var limit));
        Assert.Equal(1 + NodeWire.LamportWindow, limit);
        Assert.Equal(2, store.Outbox.Tick(bob));

        Assert.True(store.Outbox.TryWitness(bob, 1000, out _));
        Assert.True(store.Outbox.TryWitness(bob, 10, out _));
        Assert.Equal(1001, store.Outbox.Queue(bob, ["after the peer's"])[0].Lamport);
        Assert.False(store.Outbox.TryWitness(bob, NodeWire.MaxLamport + 1, out _));
    }

    [Fact]
    public void Tick_AtTheBound_StaysThere()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        store.Outbox.QueueWithLamport(bob, [("at the end", (long)NodeWire.MaxLamport - 1)]);

        Assert.Equal((long)NodeWire.MaxLamport, store.Outbox.Tick(bob));
        Assert.Equal((long)NodeWire.MaxLamport, store.Outbox.Tick(bob));
        Assert.Equal((long)NodeWire.MaxLamport, store.Outbox.Queue(bob, ["still there"])[0].Lamport);
        Assert.True(store.Outbox.TryWitness(bob, NodeWire.MaxLamport, out var limit));
        Assert.Equal(NodeWire.MaxLamport, limit);
    }

    [Fact]
    public void Tick_ContactRemovedAndAddedAgain_StartsFromNothing()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        store.Outbox.Queue(bob, ["one", "two"]);
        store.Contacts.Remove(bob);

        var again = store.Contacts.Add(_bob.Account, "Bob", null, T0);

        Assert.Equal(1, store.Outbox.Queue(again, ["anew"])[0].Lamport);
    }

    [Fact]
    public void Queue_OverTheBound_RefusesWithASentence_StoresNothing_AndTakesMoreOnceSomeAreDelivered()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        store.Outbox.MaxPerContact = 3;
        var queued = store.Outbox.Queue(bob, ["one", "two"]);

        var refusal = Assert.Throws<StoreException>(() => store.Outbox.Queue(bob, ["three", "four"]));

        Assert.Equal(StoreError.OutboxFull, refusal.Error);
        Assert.Equal("2 messages to 'Bob' are still waiting to be delivered, and the outbox of a conversation holds at most 3: send more once some have gone out.", refusal.Message);
        Assert.Equal(2, store.Outbox.Count(bob));
        store.Outbox.Advance(bob, [queued[0].MessageId], MessageState.Delivered);
        Assert.Equal(2, store.Outbox.Queue(bob, ["three", "four"]).Count);
        Assert.Equal(3, store.Outbox.Count(bob));
        store.Outbox.Advance(bob, [queued[1].MessageId], MessageState.Read);
        Assert.Equal(2, store.Outbox.Count(bob));
    }

    [Fact]
    public void TakeMarkAdvance_MessagesMoveThroughTheirStates_AndLeaveTheOutboxOnceDelivered()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var queued = store.Outbox.Queue(bob, ["one", "two", "three"]);

        var taken = store.Outbox.Take(bob, 2);
        Assert.Equal(queued.Take(2), taken);
        Assert.Equal(queued.Skip(2), store.Outbox.Take(bob, 10, taken[^1].MessageId));

        Assert.Equal([queued[0].MessageId, queued[1].MessageId], store.Outbox.MarkSent(bob, [queued[1].MessageId, queued[0].MessageId], [9, 9]).Reverse());
        Assert.Equal([9, 9], store.Sessions.Load(bob));
        Assert.Equal([MessageState.Sent, MessageState.Sent, MessageState.Queued], store.Outbox.Take(bob, 10).Select(m => m.State));

        Assert.Equal([queued[1].MessageId], store.Outbox.Advance(bob, [queued[1].MessageId], MessageState.Delivered));
        Assert.Equal([queued[0].MessageId, queued[2].MessageId], store.Outbox.Take(bob, 10).Select(m => m.MessageId));
        Assert.Equal([queued[2].MessageId], store.Outbox.Take(bob, 10, queued[1].MessageId).Select(m => m.MessageId));

        // What the memory answered is what the store holds.
        var fromMemory = store.Outbox.Take(bob, 10);
        store.Outbox.ForgetMemory();
        Assert.Equal(fromMemory, store.Outbox.Take(bob, 10));
    }

    [Fact]
    public void Take_TextsThisProcessQueued_AreServedFromMemory_AndFromTheStoreAfterAReopen()
    {
        IReadOnlyList<StoredMessage> queued;
        using (var store = _home.Open())
        {
            var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
            queued = store.Outbox.Queue(bob, ["one", "two", "three"]);
            var reads = store.Outbox.StoreReads;

            Assert.Equal(queued, store.Outbox.Take(bob, 10));
            Assert.Equal(queued.Skip(1), store.Outbox.Take(bob, 10, queued[0].MessageId));
            Assert.Equal(reads, store.Outbox.StoreReads);
        }

        using var reopened = _home.Open();
        var again = reopened.Contacts.Find(_bob.Account)!;
        var more = reopened.Outbox.Queue(again, ["four"]);

        Assert.Equal([.. queued, .. more], reopened.Outbox.Take(again, 10));
        Assert.Equal(1, reopened.Outbox.StoreReads);

        // Past the rows from before the restart, memory alone answers.
        Assert.Equal(more, reopened.Outbox.Take(again, 10, queued[^1].MessageId));
        Assert.Equal(1, reopened.Outbox.StoreReads);
    }

    [Fact]
    public void Take_BeyondTheMemoryBudget_TheOldestComeFromTheStoreAndNothingIsMissed()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var carol = store.Contacts.Add(_carol.Account, "Carol", null, T0);
        store.Outbox.MemoryBudget = 1_000;
        var toBob = Enumerable.Range(0, 20).SelectMany(i => store.Outbox.Queue(bob, [$"bob {i}"])).ToList();
        var toCarol = store.Outbox.Queue(carol, [new string('c', 600)]);

        Assert.Equal(toBob, store.Outbox.Take(bob, 100));
        Assert.Equal(toBob.Skip(7).Take(5), store.Outbox.Take(bob, 5, toBob[6].MessageId));
        Assert.Equal(toCarol, store.Outbox.Take(carol, 100));
        store.Outbox.Advance(bob, toBob.Where((_, i) => i % 2 == 0).Select(m => m.MessageId), MessageState.Delivered);
        Assert.Equal(toBob.Where((_, i) => i % 2 == 1), store.Outbox.Take(bob, 100));
    }

    [Fact]
    public void Take_AnotherConnectionChangedTheOutbox_ReadsTheStoreAgain()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var queued = store.Outbox.Queue(bob, ["one", "two"]);
        Assert.Equal(queued, store.Outbox.Take(bob, 10));

        // Another process (an offline `send`, a second node by mistake) acknowledged one.
        Assert.Equal(1, _home.Execute("UPDATE messages SET state = 2 WHERE message_id = $id", ("$id", Convert.FromHexString(queued[0].MessageId))));

        Assert.Equal(queued.Skip(1), store.Outbox.Take(bob, 10));
        Assert.Equal(1, store.Outbox.Count(bob));
    }

    [Fact]
    public void Take_RowWrittenOutsideTheOutbox_IsTakenToo()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var queued = store.Outbox.Queue(bob, ["one"]);
        var imported = new StoredMessage(MessageLog.NewId(), "Bob", _bob.Account.Text, true, T0, null, MessageState.Queued, "imported", 7);
        store.Messages.AddRange(bob, [imported]);

        Assert.Equal([.. queued, imported], store.Outbox.Take(bob, 10));
    }

    [Fact]
    public void AdvanceAndMarkSent_ABatch_IsOneStatement()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var ids = store.Outbox.Queue(bob, [.. Enumerable.Range(0, 300).Select(i => $"m{i}")]).Select(m => m.MessageId).ToList();

        var updates = CountStatements(store, "UPDATE messages", () =>
        {
            Assert.Equal(300, store.Outbox.MarkSent(bob, ids, [1]).Count);
            Assert.Equal(300, store.Outbox.Advance(bob, ids, MessageState.Delivered).Count);
        });

        Assert.Equal(2, updates);
        Assert.Equal(0, store.Outbox.Count());
    }

    [Fact]
    public void OutboxQueries_UseThePartialIndexWithoutTheLamportTerm()
    {
        using var store = _home.Open();
        store.Contacts.Add(_bob.Account, "Bob", null, T0);

        // The index as the schema migration that retires the line chat's lamport-0 rows declares it.
        var plans = store.Run(connection =>
        {
            using (var recreate = connection.CreateCommand())
            {
                recreate.CommandText = "DROP INDEX messages_outbox; CREATE INDEX messages_outbox ON messages(contact_id, id) WHERE outgoing = 1 AND state < 2;";
                recreate.ExecuteNonQuery();
            }

            return new[] { OutboxSql.Page, OutboxSql.CountConversation, OutboxSql.CountAll }.Select(sql =>
            {
                using var explain = connection.CreateCommand();
                explain.CommandText = "EXPLAIN QUERY PLAN " + sql;
                foreach (var name in new[] { "$contact", "$after", "$before", "$limit" }.Where(sql.Contains))
                {
                    explain.Parameters.AddWithValue(name, 1);
                }

                using var reader = explain.ExecuteReader();
                var detail = new List<string>();
                while (reader.Read())
                {
                    detail.Add(reader.GetString(3));
                }

                return string.Join(" / ", detail);
            }).ToList();
        });

        Assert.All(plans, plan => Assert.Contains("messages_outbox", plan, StringComparison.Ordinal));
    }

    [Fact]
    public void Advance_FindsEachListedIdThroughItsIndex_NotByScanningTheConversation()
    {
        using var store = _home.Open();

        var plan = store.Run(connection =>
        {
            using var explain = connection.CreateCommand();
            explain.CommandText = "EXPLAIN QUERY PLAN " + OutboxSql.Advance;
            explain.Parameters.AddWithValue("$ids", new byte[32]);
            explain.Parameters.AddWithValue("$contact", 1);
            explain.Parameters.AddWithValue("$state", (int)MessageState.Delivered);
            using var reader = explain.ExecuteReader();
            var detail = new List<string>();
            while (reader.Read())
            {
                detail.Add(reader.GetString(3));
            }

            return detail;
        });

        Assert.Contains("SEARCH messages USING INDEX sqlite_autoindex_messages_1 (message_id=?)", plan);
    }

    [Fact]
    public void WhileQueueing_HandlerMarksSent_SavesTheSessionWithTheTextsInOneTransaction()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        using (store.Outbox.WhileQueueing(bob, (transaction, queued) => transaction.MarkSent([queued[0].MessageId], [4, 2])))
        {
            var stored = store.Outbox.Queue(bob, ["encrypted as it was queued", "not yet"]);

            Assert.Equal([MessageState.Sent, MessageState.Queued], stored.Select(m => m.State));
            Assert.Equal([MessageState.Sent, MessageState.Queued], store.Outbox.Take(bob, 10).Select(m => m.State));
            Assert.Equal([4, 2], store.Sessions.Load(bob));
        }

        // Once the registration is gone, texts are only queued.
        Assert.Equal(MessageState.Queued, store.Outbox.Queue(bob, ["later"])[0].State);
    }

    [Fact]
    public void WhileQueueing_HandlerThrows_NothingIsQueuedAndTheSenderGetsTheException()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        using var registration = store.Outbox.WhileQueueing(bob, (transaction, _) =>
        {
            transaction.MarkSent([], [1]);
            throw new InvalidOperationException("the encryption failed");
        });

        Assert.Equal("the encryption failed", Assert.Throws<InvalidOperationException>(() => store.Outbox.Queue(bob, ["lost?"])).Message);
        Assert.Equal(0, store.Outbox.Count());
        Assert.Null(store.Sessions.Load(bob));
    }

    [Fact]
    public void Queued_IsRaisedOncePerWrite_InOrder_AfterTheCommit()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var seen = new List<(string Contact, long Count, string[] Texts)>();
        store.Outbox.Queued += (contact, queued) => seen.Add((contact.Name, store.Outbox.Count(contact), [.. queued.Select(m => m.Text)]));

        store.Outbox.Queue(bob, ["one", "two"]);

        var raised = Assert.Single(seen);
        Assert.Equal("Bob", raised.Contact);
        Assert.Equal(2, raised.Count);
        Assert.Equal(["one", "two"], raised.Texts);
    }

    [Fact]
    public void Receipts_MarkSeenQueuesOne_AndAcknowledgingSeveralRemovesThemInOneStatement()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var carol = store.Contacts.Add(_carol.Account, "Carol", null, T0);
        var fromBob = Incoming(bob, "hello", 1);
        store.Messages.Receive(bob, [fromBob], null);
        store.Outbox.MarkSeen(bob);
        store.Messages.Receive(bob, [Incoming(bob, "again", 2)], null);
        store.Outbox.MarkSeen(bob);
        store.Messages.Receive(carol, [Incoming(carol, "from Carol", 1)], null);
        store.Outbox.MarkSeen(carol);
        var pending = store.Outbox.PendingReceipts(bob);
        Assert.Equal(2, pending.Count);
        Assert.Equal([fromBob.MessageId], pending[0].MessageIds);

        var deletes = CountStatements(store, "DELETE FROM receipts", () =>
            Assert.Equal(2, store.Outbox.AcknowledgeReceipts([.. pending.Select(r => r.EnvelopeId.ToUpperInvariant()), MessageLog.NewId()])));

        Assert.Equal(1, deletes);
        Assert.Empty(store.Outbox.PendingReceipts(bob));
        Assert.Single(store.Outbox.PendingReceipts(carol));
    }

    /// <summary>How many statements containing <paramref name="sql"/> the store's connection ran during <paramref name="work"/> (SQLite's statement trace).</summary>
    private static int CountStatements(LocalStore store, string sql, Action work)
    {
        var count = 0;
        SQLitePCL.strdelegate_trace trace = (_, statement) =>
        {
            if (statement.Contains(sql, StringComparison.Ordinal))
            {
                Interlocked.Increment(ref count);
            }
        };
        store.Run(connection =>
        {
            SQLitePCL.raw.sqlite3_trace(connection.Handle, trace, null);
            return 0;
        });
        try
        {
            work();
        }
        finally
        {
            store.Run(connection =>
            {
                SQLitePCL.raw.sqlite3_trace(connection.Handle, (SQLitePCL.strdelegate_trace?)null, null);
                return 0;
            });
        }

        return count;
    }

    private static StoredMessage Incoming(Contact contact, string text, long lamport) =>
        new(MessageLog.NewId(), contact.Name, contact.Account, false, T0, T0.AddSeconds(1), MessageState.Received, text, lamport);
}
