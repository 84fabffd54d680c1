using Microsoft.Data.Sqlite;

namespace SecureChat.Storage;

/// <summary>
/// The ratchet session kept with each contact, sealed and bound to the contact's lookup, so a
/// session record moved to another contact's row fails to open. The store does not read it: the
/// node encodes and decodes the state; the caller wipes what it is given back.
/// </summary>
public sealed class SessionStore
{
    private readonly LocalStore _store;

    internal SessionStore(LocalStore store) => _store = store;

    /// <summary>The session state saved for a contact, or null when there is none.</summary>
    public byte[]? Load(Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        var contactId = _store.Contacts.IdOf(contact);
        return _store.Run(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT record FROM sessions WHERE contact_id = $contact";
            command.Parameters.AddWithValue("$contact", contactId);
            if (command.ExecuteScalar() is not byte[] record)
            {
                return null;
            }

            return _store.Keys.Fields.TryOpen(AssociatedData(contactId), record)
                ?? throw new StoreException(StoreError.Tampered, "A session record failed its integrity check: the database was modified outside SecureChat. Restore it from a backup.");
        });
    }

    /// <summary>Saves a contact's session state; on disk when this returns.</summary>
    public void Save(Contact contact, ReadOnlySpan<byte> state)
    {
        ArgumentNullException.ThrowIfNull(contact);
        var contactId = _store.Contacts.IdOf(contact);
        var copy = state.ToArray();
        try
        {
            _store.Run(connection =>
            {
                using var transaction = connection.BeginTransaction();
                Save(connection, transaction, contactId, copy);
                transaction.Commit();
                return 0;
            });
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(copy);
        }
    }

    /// <summary>Forgets a contact's session: the next connection starts a new one.</summary>
    public void Delete(Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        var contactId = _store.Contacts.IdOf(contact);
        _store.Run(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "DELETE FROM sessions WHERE contact_id = $contact";
            command.Parameters.AddWithValue("$contact", contactId);
            return command.ExecuteNonQuery();
        });
    }

    internal void Save(SqliteConnection connection, SqliteTransaction transaction, long contactId, ReadOnlySpan<byte> state)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            INSERT INTO sessions (contact_id, record) VALUES ($contact, $record)
            ON CONFLICT (contact_id) DO UPDATE SET record = excluded.record
            """;
        command.Parameters.AddWithValue("$contact", contactId);
        command.Parameters.AddWithValue("$record", _store.Keys.Fields.Seal(AssociatedData(contactId), state));
        command.ExecuteNonQuery();
    }

    private byte[] AssociatedData(long contactId) =>
        [.. "SecureChat session v1\0"u8, .. _store.Contacts.LookupOf(contactId) ?? throw new StoreException(StoreError.NoSuchContact, "That contact was removed.")];
}
