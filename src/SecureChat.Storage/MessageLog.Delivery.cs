using Microsoft.Data.Sqlite;

namespace SecureChat.Storage;

/// <summary>
/// The delivery side of the messages table. The outbox is not a table of its own: it is the
/// outgoing messages in state <see cref="MessageState.Queued"/> or <see cref="MessageState.Sent"/>
/// with a Lamport value (every message queued for a node has one, from 1; the terminal line chat
/// and schema 1 wrote 0, and those are never resent), in the order they were written, kept until
/// the peer acknowledges each one.
/// </summary>
public sealed partial class MessageLog
{
    /// <summary>
    /// Puts a message in the outbox: when this returns it is on disk, and will be delivered
    /// whenever the contact is reachable, across restarts.
    /// </summary>
    public StoredMessage Queue(Contact contact, string text, long lamport) => QueueRange(contact, [(text, lamport)])[0];

    /// <summary>
    /// Undelivered messages one conversation's outbox takes: beyond it, queueing fails with
    /// <see cref="StoreError.OutboxFull"/> instead of growing the disk without end for a contact
    /// who never comes back. A setting for tests and unusual setups.
    /// </summary>
    public int MaxOutboxPerContact { get; set; } = 100_000;

    /// <summary>
    /// Puts several messages of one conversation in the outbox, in this order, in one transaction:
    /// one disk sync for all of them. When this returns all are on disk; if it throws, none is.
    /// </summary>
    /// <exception cref="ArgumentException">A text is empty, too long or not valid Unicode, or a Lamport value is outside 1 to <see cref="Protocol.Messages.NodeWire.MaxLamport"/>.</exception>
    /// <exception cref="StoreException">The conversation's outbox is full (<see cref="StoreError.OutboxFull"/>).</exception>
    public IReadOnlyList<StoredMessage> QueueRange(Contact contact, IReadOnlyList<(string Text, long Lamport)> items)
    {
        ArgumentNullException.ThrowIfNull(contact);
        ArgumentNullException.ThrowIfNull(items);
        foreach (var (text, lamport) in items)
        {
            CheckText(text, nameof(items));

            if (lamport is <= 0 or > (long)Protocol.Messages.NodeWire.MaxLamport)
            {
                throw new ArgumentOutOfRangeException(nameof(items), lamport, $"A queued message needs a Lamport value from 1 to {Protocol.Messages.NodeWire.MaxLamport:N0} (2^53 - 1), and {lamport:N0} is outside that range.");
            }
        }

        var waiting = OutboxCount(contact);
        if (waiting + items.Count > MaxOutboxPerContact)
        {
            throw new StoreException(StoreError.OutboxFull, $"{waiting:N0} messages to '{contact.Name}' are still waiting to be delivered, and the outbox of a conversation holds at most {MaxOutboxPerContact:N0}: send more once some have gone out.");
        }

        // Milliseconds, as stored: the returned message equals what history shows.
        var now = DateTimeOffset.FromUnixTimeMilliseconds(_time.GetUtcNow().ToUnixTimeMilliseconds());
        var messages = items.Select(item => new StoredMessage(NewId(), contact.Name, contact.Account, true, now, null, MessageState.Queued, item.Text, item.Lamport)).ToList();
        AddRange(contact, messages);
        return messages;
    }

    /// <summary>Throws the one sentence every sender shows for a text that cannot be a message.</summary>
    /// <exception cref="ArgumentException">The text is null, empty, too long or not valid Unicode.</exception>
    public static void CheckText(string? text, string parameterName)
    {
        if (text is null || !Protocol.Messages.NodeWire.IsValidText(text))
        {
            throw new ArgumentException($"A message is 1 to {Protocol.Messages.NodeWire.MaxTextBytes:N0} bytes of UTF-8 text.", parameterName);
        }
    }

    /// <summary>
    /// The oldest <paramref name="limit"/> messages of the outbox of a conversation, oldest first;
    /// with <paramref name="afterMessageId"/>, only those queued after that message (a sender that
    /// already took the ones up to it), or from the start when it is no longer stored.
    /// </summary>
    public IReadOnlyList<StoredMessage> Outbox(Contact contact, int limit, string? afterMessageId = null)
    {
        ArgumentNullException.ThrowIfNull(contact);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        var contactId = _store.Contacts.IdOf(contact);
        var after = afterMessageId is null ? null : ParseId(afterMessageId);
        return _store.Run(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = $"""
                SELECT {MessageColumns} FROM messages
                WHERE contact_id = $contact AND outgoing = 1 AND state < 2 AND lamport > 0
                  AND id > coalesce((SELECT id FROM messages WHERE message_id = $after AND contact_id = $contact), 0)
                ORDER BY id LIMIT $limit
                """;
            command.Parameters.AddWithValue("$contact", contactId);
            command.Parameters.AddWithValue("$after", (object?)after ?? DBNull.Value);
            command.Parameters.AddWithValue("$limit", limit);
            using var reader = command.ExecuteReader();
            var page = new List<StoredMessage>();
            while (reader.Read())
            {
                page.Add(ReadMessage(reader, contact, contactId));
            }

            return page;
        });
    }

    /// <summary>How many messages wait in the outbox of every conversation.</summary>
    public long OutboxCount() => _store.Run(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM messages WHERE outgoing = 1 AND state < 2 AND lamport > 0";
        return (long)command.ExecuteScalar()!;
    });

    /// <summary>Messages of one conversation waiting in the outbox (queued or sent, not yet delivered).</summary>
    public long OutboxCount(Contact contact) => ConversationScalar(contact, "SELECT count(*) FROM messages WHERE contact_id = $contact AND outgoing = 1 AND state < 2 AND lamport > 0");

    /// <summary>
    /// The highest Lamport counter stored in a conversation (0 for none), among the values within
    /// <see cref="Protocol.Messages.NodeWire.MaxLamport"/>. Versions before the bound stored a
    /// peer's value as it came (up to 2^63 - 1), which froze the conversation's clock; such a row
    /// is passed over, so the clock goes on from the sane ones.
    /// </summary>
    public long LastLamport(Contact contact) => ConversationScalar(
        contact,
        "SELECT coalesce(max(lamport), 0) FROM messages WHERE contact_id = $contact AND lamport <= $max",
        ("$max", (long)Protocol.Messages.NodeWire.MaxLamport));

    /// <summary>One message by its ID, or null.</summary>
    public StoredMessage? Find(string messageId)
    {
        var id = ParseId(messageId);
        var contacts = _store.Contacts.Everyone.ToDictionary(c => c.Id);
        return _store.Run(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT {MessageColumns} FROM messages WHERE message_id = $id";
            command.Parameters.AddWithValue("$id", id);
            using var reader = command.ExecuteReader();
            return reader.Read() && contacts.TryGetValue(reader.GetInt64(7), out var contact) ? ReadMessage(reader, contact, contact.Id) : null;
        });
    }

    /// <summary>
    /// Moves outgoing messages of a conversation forward to <paramref name="state"/> (never back:
    /// a read message stays read when a late acknowledgement arrives). Returns the IDs that changed.
    /// </summary>
    public IReadOnlyList<string> Advance(Contact contact, IEnumerable<string> messageIds, MessageState state)
    {
        ArgumentNullException.ThrowIfNull(contact);
        ArgumentNullException.ThrowIfNull(messageIds);
        if (state is not (MessageState.Sent or MessageState.Delivered or MessageState.Read))
        {
            throw new ArgumentOutOfRangeException(nameof(state), "Outgoing messages move to sent, delivered or read.");
        }

        var contactId = _store.Contacts.IdOf(contact);
        var ids = messageIds.Select(ParseId).ToList();
        return _store.Run(connection =>
        {
            using var transaction = connection.BeginTransaction();
            var changed = Advance(connection, transaction, contactId, ids, state);
            transaction.Commit();
            return changed;
        });
    }

    /// <summary>
    /// Marks outgoing messages as sent and, in the same transaction, saves the session state that
    /// encrypted them: one disk sync, and the state is on disk before they leave. Returns the IDs
    /// that moved.
    /// </summary>
    public IReadOnlyList<string> MarkSent(Contact contact, IEnumerable<string> messageIds, byte[] sessionState)
    {
        ArgumentNullException.ThrowIfNull(contact);
        ArgumentNullException.ThrowIfNull(messageIds);
        ArgumentNullException.ThrowIfNull(sessionState);
        var contactId = _store.Contacts.IdOf(contact);
        var ids = messageIds.Select(ParseId).ToList();
        return _store.Run(connection =>
        {
            using var transaction = connection.BeginTransaction();
            _store.Sessions.Save(connection, transaction, contactId, sessionState);
            var changed = ids.Count == 0 ? [] : Advance(connection, transaction, contactId, ids, MessageState.Sent);
            transaction.Commit();
            return changed;
        });
    }

    private static List<string> Advance(SqliteConnection connection, SqliteTransaction transaction, long contactId, List<byte[]> ids, MessageState state)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            UPDATE messages SET state = $state
            WHERE message_id = $id AND contact_id = $contact AND outgoing = 1 AND state < $state
            """;
        command.Parameters.AddWithValue("$state", (int)state);
        command.Parameters.AddWithValue("$contact", contactId);
        var id = command.Parameters.Add("$id", SqliteType.Blob);
        var changed = new List<string>();
        foreach (var messageId in ids)
        {
            id.Value = messageId;
            if (command.ExecuteNonQuery() == 1)
            {
                changed.Add(Convert.ToHexStringLower(messageId));
            }
        }

        return changed;
    }

    /// <summary>
    /// Stores messages received from a contact (each once, by ID) and, in the same transaction, the
    /// session state that decrypted them. Returns the messages that were new.
    /// </summary>
    public IReadOnlyList<StoredMessage> Receive(Contact contact, IReadOnlyList<StoredMessage> messages, byte[]? sessionState)
    {
        ArgumentNullException.ThrowIfNull(contact);
        ArgumentNullException.ThrowIfNull(messages);
        var contactId = _store.Contacts.IdOf(contact);
        return _store.Run(connection =>
        {
            using var transaction = connection.BeginTransaction();
            var added = Insert(connection, transaction, contactId, messages);
            if (sessionState is not null)
            {
                _store.Sessions.Save(connection, transaction, contactId, sessionState);
            }

            transaction.Commit();
            IndexAdded(contactId, added);
            // The first copy of an ID is the one stored; a second copy in the same batch is a duplicate.
            var addedIds = added.Select(a => a.MessageId).ToHashSet();
            return messages.Where(m => addedIds.Remove(m.MessageId)).ToList();
        });
    }

    /// <summary>
    /// Marks every received message of a conversation as seen and, in the same transaction, queues
    /// a read receipt for them. Returns the IDs marked (none: nothing was unread).
    /// </summary>
    public IReadOnlyList<string> MarkSeen(Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        var contactId = _store.Contacts.IdOf(contact);
        return _store.Run(connection =>
        {
            using var transaction = connection.BeginTransaction();
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "UPDATE messages SET state = 5 WHERE contact_id = $contact AND state = 4 RETURNING message_id";
            command.Parameters.AddWithValue("$contact", contactId);
            var seen = new List<byte[]>();
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    seen.Add((byte[])reader[0]);
                }
            }

            foreach (var chunk in seen.Chunk(Protocol.Messages.NodeWire.MaxReceiptIds))
            {
                _store.Receipts.Add(connection, transaction, contactId, chunk);
            }

            transaction.Commit();
            return seen.Select(Convert.ToHexStringLower).ToList();
        });
    }

    /// <summary>How many received messages of a conversation are not yet seen.</summary>
    public long UnseenCount(Contact contact) => ConversationScalar(contact, "SELECT count(*) FROM messages WHERE contact_id = $contact AND state = 4");
}
