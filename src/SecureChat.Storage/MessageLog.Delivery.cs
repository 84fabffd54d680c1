namespace SecureChat.Storage;

/// <summary>
/// The receiving side of the messages table: one message by ID, what a contact sent (stored with
/// the session state that decrypted it), and what the person has seen. Everything outgoing —
/// queueing, the Lamport clock, states, receipts — is the <see cref="Outbox"/>'s.
/// </summary>
public sealed partial class MessageLog
{
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
    /// Stores received messages with the session state like <see cref="Receive(Contact, IReadOnlyList{StoredMessage}, byte[])"/>,
    /// and applies the connection's held <paramref name="marks"/> (delivered, read, receipts
    /// acknowledged) in the same transaction: one disk sync for the batch and the marks.
    /// </summary>
    public IReadOnlyList<StoredMessage> ReceiveWithMarks(Contact contact, IReadOnlyList<StoredMessage> messages, byte[] sessionState, OutgoingMarks marks, out ConversationMoves moves)
    {
        ArgumentNullException.ThrowIfNull(contact);
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(sessionState);
        ArgumentNullException.ThrowIfNull(marks);
        var contactId = _store.Contacts.IdOf(contact);
        var (added, moved) = _store.Run(connection =>
        {
            using var transaction = connection.BeginTransaction();
            var added = messages.Count == 0 ? [] : Insert(connection, transaction, contactId, messages);
            _store.Sessions.Save(connection, transaction, contactId, sessionState);
            var (delivered, read) = _store.Outbox.ApplyMarks(connection, transaction, contactId, marks);
            transaction.Commit();
            _store.Outbox.MarksMoved(contactId, delivered, read);
            IndexAdded(contactId, added);
            var addedIds = added.Select(a => a.MessageId).ToHashSet();
            return (messages.Where(m => addedIds.Remove(m.MessageId)).ToList(), new ConversationMoves([], delivered, read));
        });
        moves = moved;
        return added;
    }

    /// <summary>How many received messages of a conversation are not yet seen.</summary>
    public long UnseenCount(Contact contact) => ConversationScalar(contact, $"SELECT count(*) FROM messages WHERE contact_id = $contact AND {OutboxSql.Unseen}");
}
