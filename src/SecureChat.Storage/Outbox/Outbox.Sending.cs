using Microsoft.Data.Sqlite;

namespace SecureChat.Storage;

/// <summary>
/// Taking messages to send, and the states they move through: sent (handed to the channel),
/// delivered (the peer stored it), read. Each batch of state changes is one statement.
/// </summary>
public sealed partial class Outbox
{
    /// <summary>The oldest messages first; with a cursor, only those written after it.</summary>
    /// <remarks>
    /// Served from memory for what this process queued (<see cref="OutboxTail"/>), from the store
    /// for the rest: rows written before this process started or before the memory took them.
    /// </remarks>
    public IReadOnlyList<StoredMessage> Take(Contact contact, int limit, string? afterMessageId = null)
    {
        ArgumentNullException.ThrowIfNull(contact);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        var contactId = _store.Contacts.IdOf(contact);
        var after = afterMessageId is null ? null : MessageLog.ParseId(afterMessageId);
        return _store.Run(connection =>
        {
            Refresh(connection);
            var tail = _tails.GetValueOrDefault(contactId);
            var afterRow = 0L;
            if (after is not null)
            {
                // A cursor that is not (or no longer) stored in this conversation names nothing: from the start.
                afterRow = tail?.RowOf(afterMessageId!) ?? RowOf(connection, contactId, after) ?? 0;
            }

            var page = new List<StoredMessage>(Math.Min(limit, 256));
            var coveredFrom = tail?.CoveredFrom ?? long.MaxValue;
            if (afterRow + 1 < coveredFrom)
            {
                ReadPage(connection, contact, contactId, afterRow, coveredFrom, limit, page);
                StoreReads++;
            }

            tail?.CopyAfter(afterRow, limit - page.Count, contact, page);
            return page;
        });
    }

    /// <summary>How many times <see cref="Take"/> read (and unsealed) rows from the store rather than from memory; for tests.</summary>
    internal long StoreReads { get; private set; }

    /// <summary>
    /// Marks outgoing messages as sent and, in the same transaction, saves the session state that
    /// encrypted them: one disk sync, and the state is on disk before they leave. Returns the IDs
    /// that moved, in the order given.
    /// </summary>
    public IReadOnlyList<string> MarkSent(Contact contact, IEnumerable<string> messageIds, byte[] sessionState) =>
        MarkSent(contact, messageIds, sessionState, NoMarks).Sent;

    /// <summary>
    /// Moves outgoing messages of a conversation forward to <paramref name="state"/> (never back:
    /// a read message stays read when a late acknowledgement arrives), in one statement. Returns
    /// the IDs that changed, in the order given.
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
        var ids = messageIds.Select(MessageLog.ParseId).ToList();
        if (ids.Count == 0)
        {
            return [];
        }

        return _store.Run(connection =>
        {
            Refresh(connection);
            using var transaction = connection.BeginTransaction();
            var changed = AdvanceListed(connection, transaction, contactId, ids, state);
            transaction.Commit();
            Moved(contactId, changed, state);
            return changed;
        });
    }

    /// <summary>What <see cref="OutboxTransaction.MarkSent"/> writes, in the queueing transaction.</summary>
    internal void MarkSentInTransaction(SqliteConnection connection, SqliteTransaction transaction, long contactId, List<byte[]> ids, ReadOnlySpan<byte> sessionState)
    {
        _store.Sessions.Save(connection, transaction, contactId, sessionState);
        if (ids.Count > 0)
        {
            AdvanceListed(connection, transaction, contactId, ids, MessageState.Sent);
        }
    }

    /// <summary>The listed messages move forward in one UPDATE; returns those that changed, in the order listed.</summary>
    private List<string> AdvanceListed(SqliteConnection connection, SqliteTransaction transaction, long contactId, List<byte[]> ids, MessageState state)
    {
        var command = Prepared(connection, ref _advance, OutboxSql.Advance, "$ids", "$contact", "$state");
        command.Transaction = transaction;
        command.Parameters["$ids"].Value = Listed(ids);
        command.Parameters["$contact"].Value = contactId;
        command.Parameters["$state"].Value = (int)state;
        var moved = new HashSet<string>(StringComparer.Ordinal);
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                moved.Add(Convert.ToHexStringLower((byte[])reader[0]));
            }
        }

        return [.. ids.Select(Convert.ToHexStringLower).Where(moved.Remove)];
    }

    /// <summary>IDs as one blob, 16 bytes each (<see cref="OutboxSql.ListedIds"/>).</summary>
    private static byte[] Listed(IReadOnlyCollection<byte[]> ids)
    {
        var listed = new byte[ids.Count * 16];
        var at = 0;
        foreach (var id in ids)
        {
            id.CopyTo(listed, at);
            at += 16;
        }

        return listed;
    }

    private long? RowOf(SqliteConnection connection, long contactId, byte[] messageId)
    {
        using var command = connection.CreateCommand();
        command.Transaction = _writing;
        command.CommandText = OutboxSql.RowOf;
        command.Parameters.AddWithValue("$id", messageId);
        command.Parameters.AddWithValue("$contact", contactId);
        return command.ExecuteScalar() as long?;
    }

    /// <summary>Outbox rows of a conversation strictly between two rows, oldest first, read and unsealed.</summary>
    private void ReadPage(SqliteConnection connection, Contact contact, long contactId, long afterRow, long beforeRow, int limit, List<StoredMessage> page)
    {
        var command = Prepared(connection, ref _page, OutboxSql.Page, "$contact", "$after", "$before", "$limit");
        command.Transaction = _writing;
        command.Parameters["$contact"].Value = contactId;
        command.Parameters["$after"].Value = afterRow;
        command.Parameters["$before"].Value = beforeRow;
        command.Parameters["$limit"].Value = limit;
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            page.Add(_store.Messages.ReadMessage(reader, contact, contactId));
        }
    }

    private SqliteCommand? _insert;
    private SqliteCommand? _advance;
    private SqliteCommand? _page;

    /// <summary>
    /// A statement prepared once on the store's one connection and reused: SQLite keeps it
    /// compiled, and each use only binds new values (under the store's lock).
    /// </summary>
    private static SqliteCommand Prepared(SqliteConnection connection, ref SqliteCommand? command, string sql, params string[] parameters)
    {
        if (command is null)
        {
            command = connection.CreateCommand();
            command.CommandText = sql;
            foreach (var name in parameters)
            {
                command.Parameters.Add(new SqliteParameter { ParameterName = name });
            }
        }

        return command;
    }
}
