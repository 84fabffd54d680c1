using Microsoft.Data.Sqlite;
using SecureChat.Protocol.Messages;

namespace SecureChat.Storage;

/// <summary>
/// Read receipts waiting to go out. A receipt is a message of its own: it keeps its envelope ID
/// across resends, and leaves the queue when the peer acknowledges that ID.
/// </summary>
public sealed partial class Outbox
{
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
            command.CommandText = OutboxSql.MarkSeen;
            command.Parameters.AddWithValue("$contact", contactId);
            command.Parameters.AddWithValue("$seen", (int)MessageState.Seen);
            var seen = new List<byte[]>();
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    seen.Add((byte[])reader[0]);
                }
            }

            foreach (var chunk in seen.Chunk(NodeWire.MaxReceiptIds))
            {
                AddReceipt(connection, transaction, contactId, chunk);
            }

            transaction.Commit();
            return seen.Select(Convert.ToHexStringLower).ToList();
        });
    }

    /// <summary>The receipts waiting for a contact, oldest first.</summary>
    public IReadOnlyList<PendingReceipt> PendingReceipts(Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        var contactId = _store.Contacts.IdOf(contact);
        return _store.Run(connection =>
        {
            var command = Prepared(connection, ref _pendingReceipts, OutboxSql.PendingReceipts, "$contact");
            command.Transaction = _writing;
            command.Parameters["$contact"].Value = contactId;
            using var reader = command.ExecuteReader();
            var pending = new List<PendingReceipt>();
            while (reader.Read())
            {
                var ids = (byte[])reader[1];
                pending.Add(new PendingReceipt(
                    Convert.ToHexStringLower((byte[])reader[0]),
                    [.. ids.Chunk(16).Where(id => id.Length == 16).Select(Convert.ToHexStringLower)]));
            }

            return pending;
        });
    }

    /// <summary>Removes the receipts the peer acknowledged, in one statement; returns how many there were.</summary>
    /// <exception cref="FormatException">An envelope ID is not hexadecimal.</exception>
    public int AcknowledgeReceipts(IEnumerable<string> envelopeIds)
    {
        ArgumentNullException.ThrowIfNull(envelopeIds);
        var ids = envelopeIds.Select(Convert.FromHexString).Where(id => id.Length == 16).ToList();
        if (ids.Count == 0)
        {
            return 0;
        }

        return _store.Run(connection =>
        {
            var command = Prepared(connection, ref _acknowledgeReceipts, OutboxSql.AcknowledgeReceipts, "$ids");
            command.Transaction = _writing;
            command.Parameters["$ids"].Value = Listed(ids);
            return command.ExecuteNonQuery();
        });
    }

    private SqliteCommand? _pendingReceipts;
    private SqliteCommand? _acknowledgeReceipts;

    private static void AddReceipt(SqliteConnection connection, SqliteTransaction transaction, long contactId, IReadOnlyCollection<byte[]> messageIds)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = OutboxSql.AddReceipt;
        command.Parameters.AddWithValue("$envelope", NodeWire.NewMessageId());
        command.Parameters.AddWithValue("$contact", contactId);
        command.Parameters.AddWithValue("$ids", Listed(messageIds));
        command.ExecuteNonQuery();
    }
}

/// <summary>A read receipt waiting to go out: its own envelope ID and the peer's message IDs it marks read.</summary>
public sealed record PendingReceipt(string EnvelopeId, IReadOnlyList<string> MessageIds);
