using Microsoft.Data.Sqlite;

namespace SecureChat.Storage;

/// <summary>
/// The transaction that is queueing texts of one conversation, as a <see cref="QueueingHandler"/>
/// sees it (<see cref="Outbox.WhileQueueing"/>): what the handler writes through it commits with
/// the texts, or not at all. Valid only during the handler's call.
/// </summary>
public sealed class OutboxTransaction
{
    private readonly Outbox _outbox;
    private readonly SqliteConnection _connection;
    private readonly SqliteTransaction _transaction;
    private readonly long _contactId;
    private List<StoredMessage> _messages;

    internal OutboxTransaction(Outbox outbox, SqliteConnection connection, SqliteTransaction transaction, Contact contact, long contactId, List<StoredMessage> messages)
    {
        _outbox = outbox;
        _connection = connection;
        _transaction = transaction;
        Contact = contact;
        _contactId = contactId;
        _messages = messages;
    }

    public Contact Contact { get; }

    /// <summary>The texts being queued, with the states the handler gave them.</summary>
    internal IReadOnlyList<StoredMessage> Messages => _messages;

    /// <summary>What the outbox's memory learns once the transaction is committed.</summary>
    internal List<Action> AfterCommit { get; } = [];

    /// <summary>
    /// Marks messages queued before this transaction as sent: they were encrypted with the texts
    /// being queued, ahead of them, under the state <see cref="MarkSent"/> saves. Returns the IDs
    /// that moved.
    /// </summary>
    public IReadOnlyList<string> MarkOlderSent(IReadOnlyCollection<string> messageIds)
    {
        ArgumentNullException.ThrowIfNull(messageIds);
        if (messageIds.Count == 0)
        {
            return [];
        }

        var moved = _outbox.AdvanceInTransaction(_connection, _transaction, _contactId, [.. messageIds.Select(MessageLog.ParseId)], MessageState.Sent);
        AfterCommit.Add(() => _outbox.MovedAfterCommit(_contactId, moved, MessageState.Sent));
        return moved;
    }

    /// <summary>Writes held delivered and read marks and acknowledged receipts in this transaction; returns what moved.</summary>
    public ConversationMoves Apply(OutgoingMarks marks)
    {
        ArgumentNullException.ThrowIfNull(marks);
        if (marks.IsEmpty)
        {
            return ConversationMoves.None;
        }

        var (delivered, read) = _outbox.ApplyMarks(_connection, _transaction, _contactId, marks);
        AfterCommit.Add(() => _outbox.MarksMoved(_contactId, delivered, read));
        return new ConversationMoves([], delivered, read);
    }

    /// <summary>
    /// Saves the ratchet state that encrypted (some of) the texts being queued, and marks those
    /// sent, in this transaction: the state is on disk before they leave, and with them.
    /// </summary>
    /// <exception cref="ArgumentException">An ID is not one of the texts being queued.</exception>
    public void MarkSent(IReadOnlyCollection<string> messageIds, ReadOnlySpan<byte> sessionState)
    {
        ArgumentNullException.ThrowIfNull(messageIds);
        var ids = messageIds.Select(id => id.ToLowerInvariant()).ToHashSet(StringComparer.Ordinal);
        if (!ids.IsSubsetOf(_messages.Select(m => m.MessageId)))
        {
            throw new ArgumentException("Only the texts being queued can be marked sent in their transaction.", nameof(messageIds));
        }

        _outbox.MarkSentInTransaction(_connection, _transaction, _contactId, [.. ids.Select(Convert.FromHexString)], sessionState);
        _messages = [.. _messages.Select(m => ids.Contains(m.MessageId) ? m with { State = MessageState.Sent } : m)];
    }
}
