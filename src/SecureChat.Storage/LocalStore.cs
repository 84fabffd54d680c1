using Microsoft.Data.Sqlite;
using SecureChat.Crypto;
using SecureChat.Protocol.Identity;
using SecureChat.Storage.Database;

namespace SecureChat.Storage;

/// <summary>
/// The node's database, <c>securechat.db</c> in the data directory: contacts and their pins, and
/// every message. SQLite in WAL mode with <c>synchronous=FULL</c>: a write that returned is on disk,
/// whatever happens to the process next. Every sensitive field is sealed (XChaCha20-Poly1305) under
/// a key derived from the data key and bound to its row. Thread-safe: one connection, one lock.
/// </summary>
public sealed class LocalStore : IDisposable
{
    public const string FileName = "securechat.db";

    /// <summary>The sealed snapshot of the search index, a cache beside the database.</summary>
    public const string SnapshotFileName = "search.sealed";

    private readonly SqliteConnection _connection;
    private readonly StoreKeys _keys;
    private readonly Lock _lock = new();

    private LocalStore(SqliteConnection connection, StoreKeys keys, AccountId self, TimeProvider time, string directory)
    {
        DirectoryPath = directory;
        SnapshotPath = Path.Combine(directory, SnapshotFileName);
        _connection = connection;
        _keys = keys;
        Contacts = new ContactBook(this, self);
        Messages = new MessageLog(this, time);
        Outbox = new Outbox(this, time);
        Sessions = new SessionStore(this);
        Invites = new InviteTokens(this, time);
    }

    public ContactBook Contacts { get; }

    public MessageLog Messages { get; }

    /// <summary>The outbox: queueing, the Lamport clocks, delivery states and read receipts.</summary>
    public Outbox Outbox { get; }

    public SessionStore Sessions { get; }


    public InviteTokens Invites { get; }

    internal StoreKeys Keys => _keys;

    /// <summary>The data directory the database lives in.</summary>
    internal string DirectoryPath { get; }

    internal string SnapshotPath { get; }

    /// <summary>Opens (creating and migrating as needed) the store of <paramref name="self"/>.</summary>
    public static LocalStore Open(string directory, SecretBytes dataKey, AccountId self, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(dataKey);
        ArgumentNullException.ThrowIfNull(self);
        ArgumentNullException.ThrowIfNull(time);
        DataDirectory.EnsureExists(directory);
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            // Created 0600 before SQLite opens it; the -wal and -shm files inherit the mode.
            DataDirectory.WriteAtomically(path, []);
        }

        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWrite,
            Pooling = false,
        }.ToString());
        var keys = new StoreKeys(dataKey);
        try
        {
            connection.Open();
            Execute(connection, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY; PRAGMA busy_timeout = 5000;");
            Schema.Migrate(connection);
            var store = new LocalStore(connection, keys, self, time, directory);
            store.Contacts.Load();
            store.Contacts.ImportLegacyPins(directory, dataKey);
            return store;
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == SQLitePCL.raw.SQLITE_FULL)
        {
            // A migration or the WAL could not be written: the database is fine, the disk is not.
            connection.Dispose();
            keys.Dispose();
            throw DiskFull(directory, ex);
        }
        catch (SqliteException ex)
        {
            connection.Dispose();
            keys.Dispose();
            throw new StoreException(StoreError.Corrupt, $"{path} could not be opened as a SecureChat database ({ex.Message.TrimEnd('.')}). Restore it from a backup.", ex);
        }
        catch
        {
            connection.Dispose();
            keys.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> under the store's lock with its connection. A write that finds
    /// the disk full (SQLITE_FULL: SQLite has rolled the statement or transaction back) becomes a
    /// <see cref="StoreError.DiskFull"/> failure: nothing of it is stored, what was stored before
    /// is intact, and the same write succeeds once there is room again.
    /// </summary>
    /// <exception cref="StoreException">The disk is full (<see cref="StoreError.DiskFull"/>).</exception>
    internal T Run<T>(Func<SqliteConnection, T> work)
    {
        lock (_lock)
        {
            try
            {
                return work(_connection);
            }
            catch (SqliteException ex) when (ex.SqliteErrorCode == SQLitePCL.raw.SQLITE_FULL)
            {
                throw DiskFull(DirectoryPath, ex);
            }
        }
    }

    /// <summary>The failure of a write that found no room on the disk of <paramref name="directory"/>.</summary>
    internal static StoreException DiskFull(string directory, Exception innerException) =>
        new(StoreError.DiskFull, $"The disk holding {directory} is full, so nothing was saved: free some space on it and try again.", innerException);

    public void Dispose()
    {
        // A snapshot brought up to date at a clean close keeps the next unlock fast; it is only a
        // cache, so failing to write it loses nothing.
        try
        {
            Messages.SaveIndexSnapshot();
        }
        catch (IOException)
        {
            // The next unlock rebuilds the index from the messages.
        }
        catch (UnauthorizedAccessException)
        {
            // Likewise: a snapshot that cannot be written is rebuilt next time.
        }
        lock (_lock)
        {
            _connection.Dispose();
            _keys.Dispose();
        }
    }

    internal static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
