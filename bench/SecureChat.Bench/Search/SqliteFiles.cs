using Microsoft.Data.Sqlite;

namespace SecureChat.Bench.Search;

/// <summary>Opening the benchmark's SQLite files, and the one table of sealed messages that A and B share.</summary>
public static class SqliteFiles
{
    /// <summary>Messages are loaded this many per transaction.</summary>
    public const int RowsPerTransaction = 10_000;

    /// <summary>
    /// Opens (creating) a database in WAL mode. <paramref name="bulkLoad"/> turns fsync off, for
    /// the benchmark's load phase only; otherwise <c>synchronous = FULL</c>, as the real store.
    /// </summary>
    public static SqliteConnection Open(string path, bool bulkLoad, bool readOnly = false)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = readOnly ? SqliteOpenMode.ReadOnly : SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
        }.ToString());
        connection.Open();
        Execute(connection, readOnly
            ? "PRAGMA query_only = ON;"
            : $"PRAGMA journal_mode = WAL; PRAGMA synchronous = {(bulkLoad ? "OFF" : "FULL")}; PRAGMA temp_store = MEMORY;");
        return connection;
    }

    public static void Execute(SqliteConnection connection, string sql)
    {
        ArgumentNullException.ThrowIfNull(connection);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>Folds the WAL into the main file, so the file's size is the store's size.</summary>
    public static void Checkpoint(SqliteConnection connection) => Execute(connection, "PRAGMA wal_checkpoint(TRUNCATE);");

    /// <summary>The database's size on disk: the main file and, when present, its WAL.</summary>
    public static long SizeOnDisk(string path)
    {
        long size = 0;
        foreach (var file in new[] { path, path + "-wal" })
        {
            if (File.Exists(file))
            {
                size += new FileInfo(file).Length;
            }
        }

        return size;
    }

    public static void CreateSealedMessages(SqliteConnection connection) => Execute(connection, """
        CREATE TABLE messages (
          id INTEGER PRIMARY KEY,
          conversation INTEGER NOT NULL,
          sent_at INTEGER NOT NULL,
          body BLOB NOT NULL
        );
        """);

    /// <summary>Seals and inserts every message of the corpus, <see cref="RowsPerTransaction"/> per transaction.</summary>
    public static void LoadSealedMessages(SqliteConnection connection, SyntheticCorpus corpus, SearchKeys keys)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentNullException.ThrowIfNull(keys);
        using var insert = PrepareInsertSealed(connection);
        var bytes = new byte[4096];
        for (var start = 0; start < corpus.Count; start += RowsPerTransaction)
        {
            using var transaction = connection.BeginTransaction();
            insert.Transaction = transaction;
            var end = Math.Min(corpus.Count, start + RowsPerTransaction);
            for (var i = start; i < end; i++)
            {
                InsertSealed(insert, keys, bytes, i + 1, corpus.ConversationOf[i], corpus.SentAtMs[i], corpus.Texts[i]);
            }

            transaction.Commit();
        }
    }

    public static SqliteCommand PrepareInsertSealed(SqliteConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var insert = connection.CreateCommand();
        insert.CommandText = "INSERT INTO messages (id, conversation, sent_at, body) VALUES ($id, $conversation, $sent, $body)";
        insert.Parameters.Add("$id", SqliteType.Integer);
        insert.Parameters.Add("$conversation", SqliteType.Integer);
        insert.Parameters.Add("$sent", SqliteType.Integer);
        insert.Parameters.Add("$body", SqliteType.Blob);
        insert.Prepare();
        return insert;
    }

    public static void InsertSealed(SqliteCommand insert, SearchKeys keys, byte[] scratch, long id, int conversation, long sentAtMs, string text)
    {
        ArgumentNullException.ThrowIfNull(insert);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(text);
        var length = System.Text.Encoding.UTF8.GetBytes(text, scratch);
        insert.Parameters[0].Value = id;
        insert.Parameters[1].Value = conversation;
        insert.Parameters[2].Value = sentAtMs;
        insert.Parameters[3].Value = keys.Seal(id, scratch.AsSpan(0, length));
        insert.ExecuteNonQuery();
    }

    /// <summary>Reads and opens one sealed body; a body that fails to open is tampering, and the benchmark stops.</summary>
    public static string OpenBody(SearchKeys keys, long id, ReadOnlySpan<byte> sealedBody, ref byte[] scratch)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (scratch.Length < sealedBody.Length)
        {
            scratch = new byte[2 * sealedBody.Length];
        }

        if (!keys.TryOpen(id, sealedBody, scratch))
        {
            throw new InvalidDataException($"Message {id} does not authenticate.");
        }

        return System.Text.Encoding.UTF8.GetString(scratch, 0, sealedBody.Length - Crypto.SecretBox.Overhead);
    }
}
