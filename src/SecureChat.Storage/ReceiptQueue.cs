using Microsoft.Data.Sqlite;

namespace SecureChat.Storage;

/// <summary>A read receipt waiting to go out: its own envelope ID and the peer's message IDs it marks read.</summary>
public sealed record PendingReceipt(string EnvelopeId, IReadOnlyList<string> MessageIds);

/// <summary>
/// Read receipts not yet acknowledged by the peer. A receipt is a message of its own: it keeps its
/// envelope ID across resends, and leaves the queue when the peer acknowledges that ID.
/// </summary>
public sealed class ReceiptQueue
{
    private readonly LocalStore _store;

    internal ReceiptQueue(LocalStore store) => _store = store;

    /// <summary>The receipts waiting for a contact, oldest first.</summary>
    public IReadOnlyList<PendingReceipt> Pending(Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        var contactId = _store.Contacts.IdOf(contact);
        return _store.Run(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT envelope_id, message_ids FROM receipts WHERE contact_id = $contact ORDER BY id";
            command.Parameters.AddWithValue("$contact", contactId);
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

    /// <summary>Removes the receipts the peer acknowledged; returns how many there were.</summary>
    public int Acknowledge(IEnumerable<string> envelopeIds)
    {
        ArgumentNullException.ThrowIfNull(envelopeIds);
        var ids = envelopeIds.Select(Convert.FromHexString).ToList();
        return _store.Run(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "DELETE FROM receipts WHERE envelope_id = $id";
            var id = command.Parameters.Add("$id", SqliteType.Blob);
            var removed = 0;
            foreach (var envelopeId in ids)
            {
                id.Value = envelopeId;
                removed += command.ExecuteNonQuery();
            }

            return removed;
        });
    }

    internal void Add(SqliteConnection connection, SqliteTransaction transaction, long contactId, IReadOnlyCollection<byte[]> messageIds)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "INSERT INTO receipts (envelope_id, contact_id, message_ids) VALUES ($envelope, $contact, $ids)";
        command.Parameters.AddWithValue("$envelope", Protocol.Messages.NodeWire.NewMessageId());
        command.Parameters.AddWithValue("$contact", contactId);
        command.Parameters.AddWithValue("$ids", messageIds.SelectMany(id => id).ToArray());
        command.ExecuteNonQuery();
    }
}
