using Microsoft.Data.Sqlite;
using SecureChat.Protocol.Messages;

namespace SecureChat.Storage;

/// <summary>
/// The one outbox of a store: every way a text is sent (the node's <c>SendAsync</c> and
/// <c>Send</c>, the offline <c>securechat send</c>) queues it here, and every connection takes
/// what to send from here and reports back here what was sent, delivered and read. It owns the
/// conversation's Lamport clock, the outbox bound, and the read receipts waiting to go out.
/// </summary>
/// <remarks>
/// The outbox is not a table of its own: it is the outgoing messages in state
/// <see cref="MessageState.Queued"/> or <see cref="MessageState.Sent"/> (<see cref="OutboxSql.InOutbox"/>),
/// in the order they were written, kept until the peer acknowledges each one. A text is on disk
/// (synchronous=FULL) when a queue call returns; what this process queued is also kept in memory
/// (<see cref="MemoryBudget"/>), so a connection takes it without reading and unsealing it again.
/// The memory is only a copy of committed rows: after a restart, or beyond the budget, the same
/// messages are read from the store.
/// </remarks>
public sealed partial class Outbox
{
    /// <summary>The most texts one group commit writes in its transaction.</summary>
    private const int MaxGroup = 1024;

    private readonly LocalStore _store;
    private readonly TimeProvider _time;

    /// <summary>Texts given to <see cref="QueueAsync"/> and not yet written; the writer takes them all at once.</summary>
    private readonly List<PendingText> _pending = [];
    private readonly Lock _pendingGate = new();
    private Task _writer = Task.CompletedTask;

    /// <summary>Per conversation (contact row): undelivered messages, while known (guarded by the store's lock).</summary>
    private readonly Dictionary<long, long> _counts = [];

    /// <summary>Per conversation: what runs inside the transaction that queues its texts (guarded by the store's lock).</summary>
    private readonly Dictionary<long, QueueingHandler> _handlers = [];

    internal Outbox(LocalStore store, TimeProvider time)
    {
        _store = store;
        _time = time;
    }

    /// <summary>
    /// Undelivered messages one conversation's outbox takes: beyond it, queueing fails with
    /// <see cref="StoreError.OutboxFull"/> instead of growing the disk without end for a contact
    /// who never comes back. A setting for tests and unusual setups.
    /// </summary>
    public int MaxPerContact { get; set; } = 100_000;

    /// <summary>
    /// Written after texts are committed, in the order they were written, before the calls that
    /// queued them return: hosts announce them and wake the contact's connection. Raised on the
    /// thread that wrote them; a handler must not block.
    /// </summary>
    public event Action<Contact, IReadOnlyList<StoredMessage>>? Queued;

    /// <summary>Throws the one sentence every sender shows for a text that cannot be a message.</summary>
    /// <exception cref="ArgumentException">The text is null, empty, too long or not valid Unicode.</exception>
    public static void CheckText(string? text, string parameterName)
    {
        if (text is null || !NodeWire.IsValidText(text))
        {
            throw new ArgumentException($"A message is 1 to {NodeWire.MaxTextBytes:N0} bytes of UTF-8 text.", parameterName);
        }
    }

    /// <summary>
    /// Queues texts of one conversation in this order, each with the next tick of the
    /// conversation's clock, in one transaction: one disk sync for all of them. When this returns
    /// all are on disk; if it throws, none is.
    /// </summary>
    /// <exception cref="ArgumentException">A text is empty, too long or not valid Unicode.</exception>
    /// <exception cref="StoreException">The conversation's outbox is full (<see cref="StoreError.OutboxFull"/>), the contact was removed, or the disk is full.</exception>
    public IReadOnlyList<StoredMessage> Queue(Contact contact, IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(contact);
        ArgumentNullException.ThrowIfNull(texts);
        foreach (var text in texts)
        {
            CheckText(text, nameof(texts));
        }

        var group = new Group(contact, _store.Contacts.IdOf(contact), [.. texts.Select(text => (text, 0L))]);
        Write([group]);
        if (group.Failure is not null)
        {
            throw group.Failure;
        }

        Announce(group);
        return group.Stored!;
    }

    /// <summary>
    /// Queues texts with the Lamport values given instead of the clock's (imports, tests, and the
    /// senders from before this type); the clock moves past them. Otherwise like <see cref="Queue"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A text is empty, too long or not valid Unicode, or a Lamport value is outside 1 to <see cref="NodeWire.MaxLamport"/>.</exception>
    /// <exception cref="StoreException">The conversation's outbox is full (<see cref="StoreError.OutboxFull"/>).</exception>
    public StoredMessage QueueWithLamport(Contact contact, string text, long lamport) => QueueWithLamport(contact, [(text, lamport)])[0];

    /// <summary>Queues texts with the Lamport values given (see the one-text overload), in this order, in one transaction.</summary>
    public IReadOnlyList<StoredMessage> QueueWithLamport(Contact contact, IReadOnlyList<(string Text, long Lamport)> items)
    {
        ArgumentNullException.ThrowIfNull(contact);
        ArgumentNullException.ThrowIfNull(items);
        foreach (var (text, lamport) in items)
        {
            CheckText(text, nameof(items));
            if (lamport is <= 0 or > (long)NodeWire.MaxLamport)
            {
                throw new ArgumentOutOfRangeException(nameof(items), lamport, $"A queued message needs a Lamport value from 1 to {NodeWire.MaxLamport:N0} (2^53 - 1), and {lamport:N0} is outside that range.");
            }
        }

        var group = new Group(contact, _store.Contacts.IdOf(contact), items);
        Write([group]);
        if (group.Failure is not null)
        {
            throw group.Failure;
        }

        Announce(group);
        return group.Stored!;
    }

    /// <summary>
    /// Queues a text like <see cref="Queue"/>, sharing the disk write with every text queued
    /// while the one before was being written (group commit): many concurrent sends, to one
    /// conversation or several, cost one transaction and one sync, not one each. The task ends
    /// when the message is on disk, or fails with the reason it is not (nothing of its
    /// conversation's share of the write is stored then).
    /// </summary>
    /// <exception cref="ArgumentException">The text is empty, too long or not valid Unicode (thrown at once).</exception>
    public Task<StoredMessage> QueueAsync(Contact contact, string text)
    {
        ArgumentNullException.ThrowIfNull(contact);
        CheckText(text, nameof(text));
        var pending = new PendingText(contact, text, new TaskCompletionSource<StoredMessage>(TaskCreationOptions.RunContinuationsAsynchronously));
        OutboxLink? link;
        lock (_pendingGate)
        {
            // A connection that is up takes the text itself, unless older texts of the conversation
            // are still on their way into the store: those are written (and sent) first, in order.
            if (_links.TryGetValue(contact.Account, out link) && !_writingFor.ContainsKey(contact.Account))
            {
                link = link.Hand(pending) ? link : null;
            }
            else
            {
                link = null;
                AddPending([pending]);
            }
        }

        link?.Wake();
        return pending.Done.Task;
    }

    /// <summary>A task that ends once every text given to <see cref="QueueAsync"/> so far is written (or failed).</summary>
    public Task WhenWritten()
    {
        lock (_pendingGate)
        {
            return _writer;
        }
    }

    /// <summary>
    /// Runs <paramref name="handler"/> inside every transaction that queues texts for
    /// <paramref name="contact"/>, after they are written and before the commit, until the
    /// returned registration is disposed. The handler runs on the writer's thread: a handler that
    /// encrypts must own its ratchet there. The node's connections do not (their ratchet belongs to
    /// their own loop), so they take their texts through <see cref="Attach"/> and write them with
    /// <see cref="QueueAndSend"/> on that loop instead. Through <see cref="OutboxTransaction.MarkSent"/>
    /// a handler saves the ratchet state and marks the texts sent in the transaction that queues
    /// them, one disk sync for queueing and sending. If the handler throws,
    /// nothing of its conversation is queued and the sender gets the exception; it must keep its
    /// own state unchanged until the queueing call returns (clone, then commit).
    /// </summary>
    public IDisposable WhileQueueing(Contact contact, QueueingHandler handler)
    {
        ArgumentNullException.ThrowIfNull(contact);
        ArgumentNullException.ThrowIfNull(handler);
        var contactId = _store.Contacts.IdOf(contact);
        _store.Run(_ => _handlers[contactId] = handler);
        return new Registration(() => _store.Run(_ => _handlers.TryGetValue(contactId, out var current) && current == handler && _handlers.Remove(contactId)));
    }

    /// <summary>How many messages wait in the outbox of every conversation.</summary>
    public long Count() => _store.Run(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = OutboxSql.CountAll;
        return (long)command.ExecuteScalar()!;
    });

    /// <summary>Messages of one conversation waiting in the outbox (queued or sent, not yet delivered).</summary>
    public long Count(Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        var contactId = _store.Contacts.IdOf(contact);
        return _store.Run(connection =>
        {
            Refresh(connection);
            return CountOf(connection, contactId);
        });
    }

    /// <summary>Writes what <see cref="QueueAsync"/> gathered, all of it at once, until nothing waits.</summary>
    private void WritePending()
    {
        while (true)
        {
            List<PendingText> batch;
            lock (_pendingGate)
            {
                if (_pending.Count == 0)
                {
                    return;
                }

                batch = [.. _pending.Take(MaxGroup)];
                _pending.RemoveRange(0, batch.Count);
            }

            try
            {
                WriteBatch(batch);
            }
            finally
            {
                lock (_pendingGate)
                {
                    foreach (var send in batch)
                    {
                        if (--_writingFor[send.Contact.Account] == 0)
                        {
                            _writingFor.Remove(send.Contact.Account);
                        }
                    }
                }
            }
        }
    }

    /// <summary>Writes one batch of what <see cref="QueueAsync"/> gathered, and tells each sender how it went.</summary>
    private void WriteBatch(List<PendingText> batch)
    {
        {

            var groups = new List<(Group Group, List<PendingText> Sends)>();
            foreach (var conversation in batch.GroupBy(p => p.Contact.Account, StringComparer.Ordinal))
            {
                var sends = conversation.ToList();
                try
                {
                    var contact = sends[0].Contact;
                    groups.Add((new Group(contact, _store.Contacts.IdOf(contact), [.. sends.Select(s => (s.Text, 0L))]), sends));
                }
                catch (StoreException ex)
                {
                    Fail(sends, ex);
                }
            }

            try
            {
                Write([.. groups.Select(g => g.Group)]);
            }
            catch (Exception ex)
            {
                // Nothing of the batch is stored: each sender learns why (it is not dropped here).
                foreach (var (_, sends) in groups)
                {
                    Fail(sends, ex);
                }

                return;
            }

            foreach (var (group, sends) in groups)
            {
                if (group.Failure is not null)
                {
                    Fail(sends, group.Failure);
                    continue;
                }

                Announce(group);
                for (var i = 0; i < sends.Count; i++)
                {
                    sends[i].Done.TrySetResult(group.Stored![i]);
                }
            }
        }

        static void Fail(List<PendingText> sends, Exception ex)
        {
            foreach (var send in sends)
            {
                send.Done.TrySetException(ex);
            }
        }
    }

    /// <summary>
    /// Writes the groups in one transaction. A group over its conversation's bound, or whose
    /// handler throws, is left out (its <see cref="Group.Failure"/> says why) and the others are
    /// written; a failure of the write itself (a full disk) throws, and nothing is stored.
    /// </summary>
    private void Write(IReadOnlyList<Group> groups)
    {
        _store.Run(connection =>
        {
            Refresh(connection);
            foreach (var group in groups)
            {
                var waiting = CountOf(connection, group.ContactId);
                if (waiting + group.Items.Count > MaxPerContact)
                {
                    group.Failure = new StoreException(StoreError.OutboxFull, $"{waiting:N0} messages to '{group.Contact.Name}' are still waiting to be delivered, and the outbox of a conversation holds at most {MaxPerContact:N0}: send more once some have gone out.");
                }
            }

            var writing = groups.Where(g => g.Failure is null).ToList();
            if (writing.Count == 0)
            {
                return 0;
            }

            // Milliseconds, as stored: the returned message equals what history shows.
            var now = DateTimeOffset.FromUnixTimeMilliseconds(_time.GetUtcNow().ToUnixTimeMilliseconds());
            using var transaction = connection.BeginTransaction();
            var afterCommit = new List<Action>();
            try
            {
                _writing = transaction;
                WriteGroups(connection, transaction, writing, now, afterCommit);
                transaction.Commit();
            }
            catch
            {
                foreach (var group in writing)
                {
                    group.Stored = null;
                }

                ForgetCounts();
                throw;
            }
            finally
            {
                _writing = null;
            }

            foreach (var group in writing.Where(g => g.Stored is not null))
            {
                _counts[group.ContactId] = CountOf(connection, group.ContactId) + group.Stored!.Count;
                Remember(group.ContactId, group.Rows!, group.Stored!);

                // Under the store's lock, as every insert: a search index being built meanwhile takes each row once.
                _store.Messages.IndexAdded(group.ContactId, group.Rows!, group.Stored!);
            }

            // What handlers moved in the transaction (older messages sent with the new ones,
            // acknowledgements folded in) reaches the memory once it is on disk.
            foreach (var action in afterCommit)
            {
                action();
            }

            return 0;
        });
    }

    /// <summary>Inserts each group's texts in the open transaction and runs its handler, if it has one.</summary>
    private void WriteGroups(SqliteConnection connection, SqliteTransaction transaction, List<Group> writing, DateTimeOffset now, List<Action> afterCommit)
    {
        foreach (var group in writing)
        {
            if ((group.Handler ?? _handlers.GetValueOrDefault(group.ContactId)) is not { } handler)
            {
                group.Stored = Insert(connection, transaction, group, now);
                continue;
            }

            // A savepoint, so that a handler that fails takes back its own conversation's rows only.
            using var savepoint = new Savepoint(connection, transaction);
            try
            {
                var inTransaction = new OutboxTransaction(this, connection, transaction, group.Contact, group.ContactId, Insert(connection, transaction, group, now));
                handler(inTransaction, inTransaction.Messages);
                savepoint.Release();
                group.Stored = inTransaction.Messages;
                afterCommit.AddRange(inTransaction.AfterCommit);
            }
            catch (Exception ex) when (ex is not SqliteException)
            {
                savepoint.Rollback();
                group.Rows = null;
                group.Failure = ex;
            }
        }
    }

    /// <summary>Inserts one conversation's texts, ticking its clock for each under the store's lock: the order of rows is the clock's order.</summary>
    private List<StoredMessage> Insert(SqliteConnection connection, SqliteTransaction transaction, Group group, DateTimeOffset now)
    {
        var command = Prepared(connection, ref _insert, OutboxSql.Insert, "$id", "$contact", "$sent", "$queued", "$body", "$lamport");
        command.Transaction = transaction;
        var sentMs = now.ToUnixTimeMilliseconds();
        var messages = new List<StoredMessage>(group.Items.Count);
        var rows = new List<long>(group.Items.Count);
        foreach (var (text, given) in group.Items)
        {
            var lamport = given > 0 ? WitnessQueued(connection, group.Contact.Account, group.ContactId, given) : TickLocked(connection, group.Contact.Account, group.ContactId);
            var id = NodeWire.NewMessageId();
            command.Parameters["$id"].Value = id;
            command.Parameters["$contact"].Value = group.ContactId;
            command.Parameters["$sent"].Value = sentMs;
            command.Parameters["$queued"].Value = (int)MessageState.Queued;
            command.Parameters["$body"].Value = _store.Messages.SealText(id, group.ContactId, outgoing: true, sentMs, text);
            command.Parameters["$lamport"].Value = lamport;
            command.ExecuteNonQuery();
            rows.Add(SQLitePCL.raw.sqlite3_last_insert_rowid(connection.Handle));
            messages.Add(new StoredMessage(Convert.ToHexStringLower(id), group.Contact.Name, group.Contact.Account, true, now, null, MessageState.Queued, text, lamport));
        }

        group.Rows = rows;
        return messages;
    }

    private void Announce(Group group) => Queued?.Invoke(group.Contact, group.Stored!);

    /// <summary>Undelivered messages of a conversation, from memory when counted before (under the store's lock).</summary>
    private long CountOf(SqliteConnection connection, long contactId)
    {
        if (_counts.TryGetValue(contactId, out var known))
        {
            return known;
        }

        using var command = connection.CreateCommand();
        command.CommandText = OutboxSql.CountConversation;
        command.Parameters.AddWithValue("$contact", contactId);
        var counted = (long)command.ExecuteScalar()!;
        _counts[contactId] = counted;
        return counted;
    }

    /// <summary>The counts of undelivered messages are no longer known (a write failed, or rows changed outside this type).</summary>
    private void ForgetCounts() => _counts.Clear();

    internal sealed record PendingText(Contact Contact, string Text, TaskCompletionSource<StoredMessage> Done);

    /// <summary>One conversation's share of a write: its texts (with a Lamport value, or 0 for the clock's next), and what became of them.</summary>
    private sealed class Group(Contact contact, long contactId, IReadOnlyList<(string Text, long Lamport)> items)
    {
        public Contact Contact { get; } = contact;

        public long ContactId { get; } = contactId;

        public IReadOnlyList<(string Text, long Lamport)> Items { get; } = items;

        public IReadOnlyList<StoredMessage>? Stored { get; set; }

        public List<long>? Rows { get; set; }

        public Exception? Failure { get; set; }

        /// <summary>Runs in the transaction instead of the conversation's registered handler (the fast send path).</summary>
        public QueueingHandler? Handler { get; init; }
    }

    /// <summary>A savepoint inside the write's transaction, so one conversation's failure leaves the others' rows in.</summary>
    private sealed class Savepoint : IDisposable
    {
        private readonly SqliteConnection _connection;
        private readonly SqliteTransaction _transaction;
        private bool _open = true;

        public Savepoint(SqliteConnection connection, SqliteTransaction transaction)
        {
            _connection = connection;
            _transaction = transaction;
            Run("SAVEPOINT outbox_group");
        }

        public void Release()
        {
            Run("RELEASE outbox_group");
            _open = false;
        }

        public void Rollback()
        {
            Run("ROLLBACK TO outbox_group; RELEASE outbox_group");
            _open = false;
        }

        public void Dispose()
        {
            if (_open)
            {
                Rollback();
            }
        }

        private void Run(string sql)
        {
            using var command = _connection.CreateCommand();
            command.Transaction = _transaction;
            command.CommandText = sql;
            command.ExecuteNonQuery();
        }
    }

    private sealed class Registration(Action dispose) : IDisposable
    {
        private Action? _dispose = dispose;

        public void Dispose() => Interlocked.Exchange(ref _dispose, null)?.Invoke();
    }
}

/// <summary>Runs inside the transaction that queues <paramref name="queued"/> (see <see cref="Outbox.WhileQueueing"/>).</summary>
public delegate void QueueingHandler(OutboxTransaction transaction, IReadOnlyList<StoredMessage> queued);
