using Microsoft.Data.Sqlite;

namespace SecureChat.Storage.Database;

/// <summary>
/// The schema, as numbered migrations. <c>PRAGMA user_version</c> records the last one applied;
/// each runs in its own transaction, so a crash leaves the database at one version or the next.
/// </summary>
internal static class Schema
{
    /// <summary>Every sensitive column is a sealed BLOB; what stays clear is ordering, times and state.</summary>
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE contacts (
            id      INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: the search snapshot names rows
            lookup  BLOB NOT NULL UNIQUE,   -- keyed digest of the account key
            record  BLOB NOT NULL           -- sealed contact record, bound to lookup
        ) STRICT;
        CREATE TABLE messages (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: the search snapshot names rows
            message_id  BLOB NOT NULL UNIQUE,  -- 16 random bytes, the message's own ID
            contact_id  INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
            outgoing    INTEGER NOT NULL,
            sent_at     INTEGER NOT NULL,      -- Unix milliseconds
            received_at INTEGER,               -- Unix milliseconds
            state       INTEGER NOT NULL,
            body        BLOB NOT NULL          -- sealed text, bound to message_id, contact, direction and sent_at
        ) STRICT;
        CREATE INDEX messages_by_contact ON messages(contact_id, id);
        """,
    ];

    public static int CurrentVersion => Migrations.Length;

    public static void Migrate(SqliteConnection connection)
    {
        var version = Convert.ToInt32(Scalar(connection, "PRAGMA user_version;"), System.Globalization.CultureInfo.InvariantCulture);
        if (version > CurrentVersion)
        {
            throw new StoreException(StoreError.Unreadable, $"The database was written by a newer SecureChat (schema {version}, this one knows {CurrentVersion}): update SecureChat.");
        }

        for (; version < CurrentVersion; version++)
        {
            using var transaction = connection.BeginTransaction();
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = Migrations[version] + $"\nPRAGMA user_version = {version + 1};";
            command.ExecuteNonQuery();
            transaction.Commit();
        }
    }

    public static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }
}
