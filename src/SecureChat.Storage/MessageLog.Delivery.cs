namespace SecureChat.Storage;

/// <summary>
/// The delivery side of the messages table, as the callers from before <see cref="Storage.Outbox"/>
/// know it: each of these is the outbox's own operation (the outbox owns queueing, the clock,
/// states and receipts), kept so those callers go on working while they move to it.
/// </summary>
public sealed partial class MessageLog
{
    /// <summary>
    /// Puts a message in the outbox with the Lamport value given: when this returns it is on disk,
    /// and will be delivered whenever the contact is reachable, across restarts.
    /// </summary>
    public StoredMessage Queue(Contact contact, string text, long lamport) => QueueRange(contact, [(text, lamport)])[0];

    /// <summary>The outbox bound of a conversation (<see cref="Outbox.MaxPerContact"/>).</summary>
    public int MaxOutboxPerContact
    {
        get => _store.Outbox.MaxPerContact;
        set => _store.Outbox.MaxPerContact = value;
    }

    /// <summary>
    /// Puts several messages of one conversation in the outbox, in this order, in one transaction
    /// (<see cref="Outbox.QueueWithLamport"/>).
    /// </summary>
    /// <exception cref="ArgumentException">A text is empty, too long or not valid Unicode, or a Lamport value is outside 1 to <see cref="Protocol.Messages.NodeWire.MaxLamport"/>.</exception>
    /// <exception cref="StoreException">The conversation's outbox is full (<see cref="StoreError.OutboxFull"/>).</exception>
    public IReadOnlyList<StoredMessage> QueueRange(Contact contact, IReadOnlyList<(string Text, long Lamport)> items) =>
        _store.Outbox.QueueWithLamport(contact, items);

    /// <summary>Throws the one sentence every sender shows for a text that cannot be a message (<see cref="Outbox.CheckText"/>).</summary>
    /// <exception cref="ArgumentException">The text is null, empty, too long or not valid Unicode.</exception>
    public static void CheckText(string? text, string parameterName) => Storage.Outbox.CheckText(text, parameterName);

    /// <summary>The oldest messages of a conversation's outbox, after a cursor (<see cref="Outbox.Take"/>).</summary>
    public IReadOnlyList<StoredMessage> Outbox(Contact contact, int limit, string? afterMessageId = null) =>
        _store.Outbox.Take(contact, limit, afterMessageId);

    /// <summary>How many messages wait in the outbox of every conversation.</summary>
    public long OutboxCount() => _store.Outbox.Count();

    /// <summary>Messages of one conversation waiting in the outbox (queued or sent, not yet delivered).</summary>
    public long OutboxCount(Contact contact) => _store.Outbox.Count(contact);

    /// <summary>The highest Lamport counter stored in a conversation within the bound (<see cref="Outbox.LastLamport"/>).</summary>
    public long LastLamport(Contact contact) => _store.Outbox.LastLamport(contact);

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

    /// <summary>Moves outgoing messages forward to a state, never back (<see cref="Outbox.Advance"/>).</summary>
    public IReadOnlyList<string> Advance(Contact contact, IEnumerable<string> messageIds, MessageState state) =>
        _store.Outbox.Advance(contact, messageIds, state);

    /// <summary>Marks outgoing messages as sent with the session state that encrypted them (<see cref="Outbox.MarkSent"/>).</summary>
    public IReadOnlyList<string> MarkSent(Contact contact, IEnumerable<string> messageIds, byte[] sessionState) =>
        _store.Outbox.MarkSent(contact, messageIds, sessionState);

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

    /// <summary>Marks a conversation's received messages seen and queues a read receipt (<see cref="Outbox.MarkSeen"/>).</summary>
    public IReadOnlyList<string> MarkSeen(Contact contact) => _store.Outbox.MarkSeen(contact);

    /// <summary>How many received messages of a conversation are not yet seen.</summary>
    public long UnseenCount(Contact contact) => ConversationScalar(contact, $"SELECT count(*) FROM messages WHERE contact_id = $contact AND {OutboxSql.Unseen}");
}
