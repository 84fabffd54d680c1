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
        """
        -- The node (version 2): ratchet sessions, Lamport clocks, and read receipts waiting to go out.
        -- The outbox is the outgoing messages not yet acknowledged (state queued or sent) that a node
        -- queued (lamport > 0); the terminal line chat and schema 1 wrote lamport 0 (version 4 moves them).
        ALTER TABLE messages ADD COLUMN lamport INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX messages_outbox ON messages(contact_id, id) WHERE outgoing = 1 AND state < 2 AND lamport > 0;
        CREATE INDEX messages_unseen ON messages(contact_id, id) WHERE state = 4;
        CREATE TABLE sessions (
            contact_id  INTEGER PRIMARY KEY REFERENCES contacts(id) ON DELETE CASCADE,
            record      BLOB NOT NULL          -- sealed ratchet session, bound to the contact's lookup
        ) STRICT;
        CREATE TABLE receipts (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            envelope_id BLOB NOT NULL UNIQUE,  -- 16 random bytes, the receipt envelope's own ID
            contact_id  INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
            message_ids BLOB NOT NULL          -- the peer's message IDs read, 16 bytes each
        ) STRICT;
        """,
        """
        -- Version 3: one-time invite tokens this node issued and nobody has used yet. The token is
        -- never stored: only its keyed digest, to find it, and a sealed record of its times.
        CREATE TABLE invites (
            lookup  BLOB PRIMARY KEY,       -- keyed digest of the token
            record  BLOB NOT NULL           -- sealed issue and expiry times, bound to lookup
        ) STRICT;
        """,
        """
        -- Version 4: the terminal chat runs on the node, and lamport 0 no longer means "written by
        -- the line chat". Each line-chat row (lamport 0) gets the Lamport value it would have had:
        -- the highest value in its conversation up to it, plus how many line-chat rows came up to
        -- it, so the line-chat rows of a conversation count up in their order, each above every
        -- node row before it. (A node row after them keeps its value, which its peer holds.)
        -- Outgoing rows the line chat handed to the channel (Sent) become Delivered: the peer's line
        -- chat stored each line as it arrived, under an ID of its own, so no receipt can ever come
        -- for them, and Delivered is the state that keeps them from being delivered a second time.
        -- Outgoing rows it could not hand over (Queued; the person was told "not delivered") stay
        -- Queued: they are messages the person sent that no peer has, so they wait in the outbox
        -- and go once, like any other. Received rows keep their state.
        UPDATE messages SET lamport = moved.lamport, state = moved.state
        FROM (
            SELECT id,
                   max(lamport) OVER conversation + sum(lamport = 0) OVER conversation AS lamport,
                   CASE WHEN outgoing = 1 AND state = 1 THEN 2 ELSE state END AS state
            FROM messages
            WINDOW conversation AS (PARTITION BY contact_id ORDER BY id ROWS UNBOUNDED PRECEDING)
        ) AS moved
        WHERE messages.id = moved.id AND messages.lamport = 0;
        DROP INDEX messages_outbox;
        CREATE INDEX messages_outbox ON messages(contact_id, id) WHERE outgoing = 1 AND state < 2;
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
