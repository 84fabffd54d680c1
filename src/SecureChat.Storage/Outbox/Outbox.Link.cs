using Microsoft.Data.Sqlite;

namespace SecureChat.Storage;

/// <summary>
/// The fast send path: while a connection to a contact is up, the texts queued for that contact go
/// to the connection instead of the group-commit writer, and the connection writes them in one
/// transaction with their encryption (<see cref="QueueAndSend"/>): the text is inserted, encrypted
/// under the ratchet, the ratchet state saved and the text marked sent, and one disk sync covers
/// all of it. Acknowledgements the connection holds are folded into the same write
/// (<see cref="OutgoingMarks"/>).
/// </summary>
public sealed partial class Outbox
{
    /// <summary>The transaction this outbox has open on the store's connection, so reads made inside it (a handler's <see cref="Take"/>) join it.</summary>
    private SqliteTransaction? _writing;

    /// <summary>No marks: what <see cref="MarkSent(Contact, IEnumerable{string}, byte[])"/> writes besides the batch (never changed).</summary>
    private static readonly OutgoingMarks NoMarks = new();

    /// <summary>Per contact account: the connection that takes its new texts (guarded by <see cref="_pendingGate"/>).</summary>
    private readonly Dictionary<string, OutboxLink> _links = new(StringComparer.Ordinal);

    /// <summary>Per contact account: texts on their way through the group-commit writer (guarded by <see cref="_pendingGate"/>).</summary>
    private readonly Dictionary<string, int> _writingFor = new(StringComparer.Ordinal);

    /// <summary>
    /// Hands the contact's texts queued from now on by <see cref="QueueAsync"/> to a connection
    /// that is up, until the returned link is disposed. <paramref name="wake"/> is called (on the
    /// sender's thread, outside any lock) when texts wait in <see cref="OutboxLink.Take"/>. A
    /// second link for the same contact replaces the first, whose waiting texts go to the writer.
    /// </summary>
    public OutboxLink Attach(Contact contact, Action wake)
    {
        ArgumentNullException.ThrowIfNull(contact);
        ArgumentNullException.ThrowIfNull(wake);
        var link = new OutboxLink(this, contact.Account, wake);
        OutboxLink? replaced;
        lock (_pendingGate)
        {
            _links.Remove(contact.Account, out replaced);
            _links[contact.Account] = link;
        }

        replaced?.Dispose();
        return link;
    }

    /// <summary>
    /// Queues texts of one conversation and runs <paramref name="handler"/> in the same
    /// transaction, on the calling thread (a connection's own loop, which owns the ratchet the
    /// handler encrypts with). When this returns, the texts are on disk with whatever the handler
    /// wrote; when it throws, nothing of it is. Unlike <see cref="Queue"/>, it raises no
    /// <see cref="Queued"/>: the caller announces the texts (<see cref="OutboxLink.Written"/>).
    /// </summary>
    /// <exception cref="StoreException">The outbox is full (<see cref="StoreError.OutboxFull"/>), the contact was removed, or the disk is full.</exception>
    public IReadOnlyList<StoredMessage> QueueAndSend(Contact contact, IReadOnlyList<string> texts, QueueingHandler handler)
    {
        ArgumentNullException.ThrowIfNull(contact);
        ArgumentNullException.ThrowIfNull(texts);
        ArgumentNullException.ThrowIfNull(handler);
        foreach (var text in texts)
        {
            CheckText(text, nameof(texts));
        }

        var group = new Group(contact, _store.Contacts.IdOf(contact), [.. texts.Select(text => (text, 0L))]) { Handler = handler };
        Write([group]);
        if (group.Failure is not null)
        {
            throw group.Failure;
        }

        return group.Stored!;
    }

    /// <summary>
    /// Marks outgoing messages sent with the session state that encrypted them, like
    /// <see cref="MarkSent(Contact, IEnumerable{string}, byte[])"/>, and applies the held
    /// <paramref name="marks"/> in the same transaction: one disk sync for both.
    /// </summary>
    public ConversationMoves MarkSent(Contact contact, IEnumerable<string> messageIds, byte[] sessionState, OutgoingMarks marks)
    {
        ArgumentNullException.ThrowIfNull(contact);
        ArgumentNullException.ThrowIfNull(messageIds);
        ArgumentNullException.ThrowIfNull(sessionState);
        ArgumentNullException.ThrowIfNull(marks);
        var contactId = _store.Contacts.IdOf(contact);
        var ids = messageIds.Select(MessageLog.ParseId).ToList();
        return _store.Run(connection =>
        {
            Refresh(connection);
            using var transaction = connection.BeginTransaction();
            _store.Sessions.Save(connection, transaction, contactId, sessionState);
            var sent = ids.Count == 0 ? [] : AdvanceListed(connection, transaction, contactId, ids, MessageState.Sent);
            var (delivered, read) = ApplyMarks(connection, transaction, contactId, marks);
            transaction.Commit();
            Moved(contactId, sent, MessageState.Sent);
            MarksMoved(contactId, delivered, read);
            return new ConversationMoves(sent, delivered, read);
        });
    }

    /// <summary>Writes held marks in an open transaction: delivered, then read, then the acknowledged receipts removed.</summary>
    internal (List<string> Delivered, List<string> Read) ApplyMarks(SqliteConnection connection, SqliteTransaction transaction, long contactId, OutgoingMarks marks)
    {
        var delivered = marks.Delivered.Count == 0 ? [] : AdvanceListed(connection, transaction, contactId, [.. marks.Delivered.Select(MessageLog.ParseId)], MessageState.Delivered);
        var read = marks.Read.Count == 0 ? [] : AdvanceListed(connection, transaction, contactId, [.. marks.Read.Select(MessageLog.ParseId)], MessageState.Read);
        var receipts = marks.ReceiptsAcknowledged.Select(Convert.FromHexString).Where(id => id.Length == 16).ToList();
        if (receipts.Count > 0)
        {
            var command = Prepared(connection, ref _acknowledgeReceipts, OutboxSql.AcknowledgeReceipts, "$ids");
            command.Transaction = transaction;
            command.Parameters["$ids"].Value = Listed(receipts);
            command.ExecuteNonQuery();
        }

        return (delivered, read);
    }

    /// <summary>Moves listed messages in an open transaction (see <see cref="OutboxTransaction.MarkOlderSent"/>).</summary>
    internal List<string> AdvanceInTransaction(SqliteConnection connection, SqliteTransaction transaction, long contactId, List<byte[]> ids, MessageState state) =>
        AdvanceListed(connection, transaction, contactId, ids, state);

    /// <summary>After a commit that moved messages: the memory and counts follow (under the store's lock).</summary>
    internal void MovedAfterCommit(long contactId, List<string> changed, MessageState state) => Moved(contactId, changed, state);

    /// <summary>After the commit of <see cref="ApplyMarks"/>: the memory and counts follow (under the store's lock).</summary>
    internal void MarksMoved(long contactId, List<string> delivered, List<string> read)
    {
        Moved(contactId, delivered, MessageState.Delivered);
        Moved(contactId, read, MessageState.Read);
    }

    /// <summary>Texts given to the writer, in order, behind everything it holds (under <see cref="_pendingGate"/>).</summary>
    private void AddPending(IEnumerable<PendingText> texts)
    {
        foreach (var text in texts)
        {
            _pending.Add(text);
            _writingFor[text.Contact.Account] = _writingFor.GetValueOrDefault(text.Contact.Account) + 1;
        }

        if (_pending.Count > 0 && _writer.IsCompleted)
        {
            _writer = Task.Run(WritePending);
        }
    }

    /// <summary>
    /// A connection's share of <see cref="QueueAsync"/>: the texts handed to it, oldest first. Its
    /// owner takes them (<see cref="Take"/>), writes them with <see cref="QueueAndSend"/>, and then
    /// reports them written (<see cref="Written"/>) or gives them back (<see cref="GiveBack"/>),
    /// which queues them as if no connection had been up. Disposing it gives back what waits.
    /// </summary>
    public sealed class OutboxLink : IDisposable
    {
        private readonly Outbox _outbox;
        private readonly string _account;
        private readonly Action _wake;
        private readonly List<PendingText> _handed = [];
        private bool _detached;

        internal OutboxLink(Outbox outbox, string account, Action wake)
        {
            _outbox = outbox;
            _account = account;
            _wake = wake;
        }

        /// <summary>The oldest texts handed to this link, at most <paramref name="max"/>; null when none waits.</summary>
        public HandedTexts? Take(int max)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(max);
            lock (_outbox._pendingGate)
            {
                if (_handed.Count == 0)
                {
                    return null;
                }

                var taken = _handed.GetRange(0, Math.Min(max, _handed.Count));
                _handed.RemoveRange(0, taken.Count);
                return new HandedTexts(taken);
            }
        }

        /// <summary>
        /// The texts taken are on disk as <paramref name="stored"/> (in the same order): their
        /// senders learn it, and the outbox announces them. Both see each text as queued, as
        /// without a connection (what <c>send</c> promises is that it is on disk, in the outbox);
        /// its move to sent is the connection's to announce, as for any text it sends.
        /// </summary>
        public void Written(HandedTexts texts, IReadOnlyList<StoredMessage> stored)
        {
            ArgumentNullException.ThrowIfNull(texts);
            ArgumentNullException.ThrowIfNull(stored);
            if (stored.Count != texts.Count)
            {
                throw new ArgumentException("Every text taken is reported written.", nameof(stored));
            }

            var queued = stored.Select(m => m with { State = MessageState.Queued }).ToList();
            _outbox.Queued?.Invoke(texts.Contact, queued);
            for (var i = 0; i < queued.Count; i++)
            {
                texts.Sends[i].Done.TrySetResult(queued[i]);
            }
        }

        /// <summary>
        /// The texts taken could not be written here: they go to the writer, with every text still
        /// waiting for this link behind them, and the conversation's next texts follow them there
        /// until they are written. Their senders get the writer's answer, as without a connection.
        /// </summary>
        public void GiveBack(HandedTexts texts)
        {
            ArgumentNullException.ThrowIfNull(texts);
            lock (_outbox._pendingGate)
            {
                _outbox.AddPending([.. texts.Sends, .. _handed]);
                _handed.Clear();
            }
        }

        /// <summary>The connection is going: nothing more is handed to it, and what waits goes to the writer.</summary>
        public void Dispose()
        {
            lock (_outbox._pendingGate)
            {
                if (_detached)
                {
                    return;
                }

                _detached = true;
                if (_outbox._links.TryGetValue(_account, out var current) && current == this)
                {
                    _outbox._links.Remove(_account);
                }

                _outbox.AddPending(_handed);
                _handed.Clear();
            }
        }

        /// <summary>How many texts wait to be taken.</summary>
        public int Waiting
        {
            get
            {
                lock (_outbox._pendingGate)
                {
                    return _handed.Count;
                }
            }
        }

        /// <summary>A text for this link (under the outbox's gate); true when it is the first to wait, so the owner is woken once.</summary>
        internal bool Hand(PendingText text)
        {
            _handed.Add(text);
            return _handed.Count == 1;
        }

        internal void Wake() => _wake();
    }

    /// <summary>Texts taken from an <see cref="OutboxLink"/>, oldest first.</summary>
    public sealed class HandedTexts
    {
        internal HandedTexts(List<PendingText> sends)
        {
            Sends = sends;
            Texts = [.. sends.Select(s => s.Text)];
            Contact = sends[0].Contact;
        }

        public IReadOnlyList<string> Texts { get; }

        public int Count => Texts.Count;

        internal Contact Contact { get; }

        internal List<PendingText> Sends { get; }
    }
}

/// <summary>
/// Delivered and read marks, and read receipts the peer acknowledged, that a connection holds in
/// memory until its next store write instead of writing each at once. A crash before that write
/// loses them: the messages are then sent again and the peer, which stores each ID once, only
/// acknowledges them again (docs/security.md, "Delivery states").
/// </summary>
public sealed class OutgoingMarks
{
    /// <summary>Outgoing messages the peer acknowledged storing.</summary>
    public List<string> Delivered { get; } = [];

    /// <summary>Outgoing messages the peer's person read.</summary>
    public List<string> Read { get; } = [];

    /// <summary>Envelope IDs of this node's read receipts the peer acknowledged.</summary>
    public List<string> ReceiptsAcknowledged { get; } = [];

    public bool IsEmpty => Delivered.Count == 0 && Read.Count == 0 && ReceiptsAcknowledged.Count == 0;

    public void Clear()
    {
        Delivered.Clear();
        Read.Clear();
        ReceiptsAcknowledged.Clear();
    }
}

/// <summary>What one write moved: outgoing messages now sent, delivered and read (IDs that changed state).</summary>
public sealed record ConversationMoves(IReadOnlyList<string> Sent, IReadOnlyList<string> Delivered, IReadOnlyList<string> Read)
{
    public static ConversationMoves None { get; } = new([], [], []);
}
