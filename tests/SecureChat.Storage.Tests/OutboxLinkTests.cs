using SQLitePCL;

namespace SecureChat.Storage.Tests;

/// <summary>
/// The outbox's side of the fast send path: while a connection is attached, the conversation's
/// texts go to it, and it writes them with their encryption in one transaction (one commit where
/// queueing and marking sent took two); when it cannot, or goes, they reach the writer in order
/// and their senders get the writer's answer.
/// </summary>
public sealed class OutboxLinkTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2025, 5, 1, 9, 0, 0, TimeSpan.Zero);

    private readonly StoreHome _home = new();
    private readonly Peer _bob = Peer.Create();

    public void Dispose()
    {
        _bob.Dispose();
        _home.Dispose();
    }

    [Fact]
    public async Task QueueAsync_LinkAttached_TextsWaitForTheLinkWhichWritesThemSentInOneCommit()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var wakes = 0;
        using var link = store.Outbox.Attach(bob, () => wakes++);

        var first = store.Outbox.QueueAsync(bob, "one");
        var second = store.Outbox.QueueAsync(bob, "two");

        Assert.Equal(1, wakes);
        Assert.False(first.IsCompleted);
        Assert.Equal(0, store.Outbox.Count(bob));
        var handed = link.Take(16)!;
        Assert.Equal(["one", "two"], handed.Texts);
        using var commits = new CommitCounter(store);
        var stored = store.Outbox.QueueAndSend(bob, handed.Texts, (transaction, queued) => transaction.MarkSent([.. queued.Select(m => m.MessageId)], [7, 7]));
        Assert.Equal(1, commits.Count);
        link.Written(handed, stored);

        var answered = await Task.WhenAll(first, second);
        Assert.Equal(["one", "two"], answered.Select(m => m.Text));
        Assert.All(answered, m => Assert.Equal(MessageState.Queued, m.State));
        Assert.Equal(stored.Select(m => m.MessageId), answered.Select(m => m.MessageId));
        Assert.All(store.Outbox.Take(bob, 10), m => Assert.Equal(MessageState.Sent, m.State));
        Assert.Equal([7, 7], store.Sessions.Load(bob));
        Assert.Null(link.Take(16));
    }

    /// <summary>The count the fast path improves on: queueing, then marking sent with the session state, are two commits.</summary>
    [Fact]
    public async Task QueueAsyncThenMarkSent_WithoutALink_TwoCommits()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        using var commits = new CommitCounter(store);

        var queued = await store.Outbox.QueueAsync(bob, "one");
        store.Outbox.MarkSent(bob, [queued.MessageId], [7, 7]);

        Assert.Equal(2, commits.Count);
    }

    [Fact]
    public async Task Dispose_TextsStillWaiting_GoToTheWriterAndTheirSendersLearnTheyAreQueued()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var link = store.Outbox.Attach(bob, () => { });
        var waiting = store.Outbox.QueueAsync(bob, "left behind");

        link.Dispose();

        var stored = await waiting;
        Assert.Equal(MessageState.Queued, stored.State);
        Assert.Equal([stored.MessageId], store.Outbox.Take(bob, 10).Select(m => m.MessageId));
        Assert.Equal(MessageState.Queued, (await store.Outbox.QueueAsync(bob, "after")).State);
    }

    /// <summary>Texts given back go to the writer with those still waiting behind them, and the next texts follow them: the order holds.</summary>
    [Fact]
    public async Task GiveBack_TextsTakenAndWaiting_WrittenInOrderAheadOfLaterTexts()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        using var link = store.Outbox.Attach(bob, () => { });
        var sends = new List<Task<StoredMessage>> { store.Outbox.QueueAsync(bob, "a"), store.Outbox.QueueAsync(bob, "b") };
        var taken = link.Take(1)!;

        link.GiveBack(taken);
        sends.Add(store.Outbox.QueueAsync(bob, "c"));

        var answered = await Task.WhenAll(sends);
        Assert.Equal(["a", "b", "c"], store.Outbox.Take(bob, 10).Select(m => m.Text));
        Assert.Equal(answered.Select(m => m.Lamport).Order(), answered.Select(m => m.Lamport));
        Assert.Null(link.Take(16));
    }

    /// <summary>Inside the link's write, the outbox is read in the same transaction: older texts first, then the new rows, none missed.</summary>
    [Fact]
    public void QueueAndSend_TakeInTheHandler_SeesOlderTextsFirst()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var older = store.Outbox.Queue(bob, ["older"]);
        IReadOnlyList<StoredMessage> seen = [];

        var stored = store.Outbox.QueueAndSend(bob, ["new"], (_, _) => seen = store.Outbox.Take(bob, 10));

        Assert.Equal(older[0].MessageId, seen[0].MessageId);
        Assert.DoesNotContain(seen.Skip(1), m => m.MessageId != stored[0].MessageId);
    }

    [Fact]
    public void QueueAndSend_OutboxFull_ThrowsWithoutCallingTheHandler()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        store.Outbox.MaxPerContact = 1;
        store.Outbox.Queue(bob, ["fills it"]);
        var called = false;

        var refused = Assert.Throws<StoreException>(() => store.Outbox.QueueAndSend(bob, ["one too many"], (_, _) => called = true));

        Assert.Equal(StoreError.OutboxFull, refused.Error);
        Assert.False(called);
    }

    /// <summary>Counts the commits on the store's connection (SQLite's commit hook) while it lives.</summary>
    private sealed class CommitCounter : IDisposable
    {
        private readonly LocalStore _store;
        private int _count;

        public CommitCounter(LocalStore store)
        {
            _store = store;
            _store.Run(connection =>
            {
                raw.sqlite3_commit_hook(connection.Handle, _ => { Interlocked.Increment(ref _count); return 0; }, null);
                return 0;
            });
        }

        public int Count => Volatile.Read(ref _count);

        public void Dispose() => _store.Run(connection =>
        {
            raw.sqlite3_commit_hook(connection.Handle, null, null);
            return 0;
        });
    }
}
