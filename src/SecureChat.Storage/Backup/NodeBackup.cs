using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using SecureChat.Crypto;
using SecureChat.Protocol.Identity;
using SQLitePCL;

namespace SecureChat.Storage.Backup;

/// <summary>What a restored backup held.</summary>
/// <param name="Account">The account whose identity was restored.</param>
/// <param name="CreatedAt">When the backup was made.</param>
public sealed record BackupSummary(AccountId Account, DateTimeOffset CreatedAt);

/// <summary>
/// Encrypted backups of a data directory: <c>identity.json</c> as it is on disk (its keys still
/// sealed under the node's own passphrase) and a consistent snapshot of <c>securechat.db</c>,
/// encrypted together under a key derived from a separate backup passphrase. The layout is
/// described on <see cref="BackupHeader"/>, <see cref="BackupChunks"/> and
/// <see cref="BackupContents"/>. The database is copied in memory: no plaintext of the backup,
/// and no extra copy of the database, is ever written to disk.
/// </summary>
public static class NodeBackup
{
    /// <summary>Files that mean a directory already holds a node, even one without identity.json.</summary>
    private static readonly string[] NodeFiles =
        [IdentityFile.FileName, LocalStore.FileName, LocalStore.FileName + "-wal", LocalStore.FileName + "-shm", LocalStore.FileName + "-journal", "peers.sealed"];

    /// <summary>
    /// Writes a backup of the node in <paramref name="directory"/>, whose open store is
    /// <paramref name="store"/> (holding it proves the node was unlocked), to <paramref name="output"/>.
    /// The store may be in use: the snapshot is taken with SQLite's online backup, under one read
    /// transaction, and includes what is still in the write-ahead log.
    /// </summary>
    public static void Export(
        string directory, LocalStore store, ReadOnlySpan<byte> passphrase, Argon2idParameters parameters, DateTimeOffset now, Stream output, int chunkSize = BackupHeader.DefaultChunkSize)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(output);
        if (passphrase.IsEmpty)
        {
            throw new ArgumentException("An empty backup passphrase protects nothing.", nameof(passphrase));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, BackupHeader.MinChunkSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(chunkSize, BackupHeader.MaxChunkSize);

        var account = IdentityFile.ReadAccount(directory);
        var identity = ReadIdentityBytes(directory);
        byte[] database = [];
        try
        {
            database = Snapshot(store);
            var salt = RandomNumberGenerator.GetBytes(PassphraseKdf.SaltSize);
            using var key = BackupKey.Derive(passphrase, salt, parameters);
            var header = new BackupHeader(parameters, salt, chunkSize, key.Check).Encode();
            output.Write(header);
            using var writer = new BackupChunkWriter(output, header, key.Chunks, chunkSize);
            writer.Write(BackupContents.EncodePrefix(now, account, identity.Length));
            writer.Write(identity);
            writer.Write(BackupContents.EncodeDatabaseLength(database.Length));
            writer.Write(database);
            writer.Complete();
        }
        finally
        {
            // identity.json of an unattended node holds its data key in the clear.
            CryptographicOperations.ZeroMemory(identity);
            CryptographicOperations.ZeroMemory(database);
        }
    }

    /// <summary>
    /// <see cref="Export"/> to a file, written atomically with mode 0600: a temporary file beside it
    /// is written, flushed to disk and renamed. An existing file is replaced only when
    /// <paramref name="overwrite"/> is set; otherwise it is a <see cref="StoreError.Conflict"/>.
    /// </summary>
    public static void ExportToFile(
        string path, bool overwrite, string directory, LocalStore store, ReadOnlySpan<byte> passphrase, Argon2idParameters parameters, DateTimeOffset now)
    {
        if (!overwrite && File.Exists(path))
        {
            throw Exists(path);
        }

        var temporary = $"{path}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}.tmp";
        try
        {
            using (var stream = new FileStream(temporary, PrivateNewFile))
            {
                Export(directory, store, passphrase, parameters, now, stream);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite);
        }
        catch (IOException ex) when (!overwrite && File.Exists(path))
        {
            File.Delete(temporary);
            throw new StoreException(StoreError.Conflict, Exists(path).Message, ex);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    /// <summary>
    /// Throws <see cref="StoreError.AlreadyInitialized"/> unless <paramref name="directory"/> is
    /// free to restore into: no identity, and no database or other file of a node.
    /// </summary>
    public static void EnsureRestorableInto(string directory)
    {
        if (IdentityFile.Exists(directory))
        {
            throw new StoreException(StoreError.AlreadyInitialized, $"An identity already exists in {directory}; nothing was restored: restore into a new data directory (--home DIR).");
        }

        foreach (var name in NodeFiles)
        {
            if (File.Exists(Path.Combine(directory, name)))
            {
                throw new StoreException(StoreError.AlreadyInitialized, $"{directory} already holds SecureChat data ({name}) but no identity; nothing was restored: restore into an empty data directory.");
            }
        }
    }

    /// <summary>
    /// Restores the backup read from <paramref name="input"/> into <paramref name="directory"/>,
    /// which must be free (<see cref="EnsureRestorableInto"/>). Every chunk is verified before
    /// anything is written; a wrong passphrase, a damaged or cut file, or a file that is not a
    /// backup is a <see cref="StoreException"/> and leaves the directory as it was (not even created).
    /// The restored node keeps the passphrase it had when the backup was made.
    /// </summary>
    public static BackupSummary Restore(Stream input, ReadOnlySpan<byte> passphrase, string directory)
    {
        ArgumentNullException.ThrowIfNull(input);
        EnsureRestorableInto(directory);
        var headerBytes = new byte[BackupHeader.Size];
        var read = input.ReadAtLeast(headerBytes, headerBytes.Length, throwOnEndOfStream: false);
        var header = BackupHeader.TryDecode(headerBytes.AsSpan(0, read), out var decoded) switch
        {
            BackupHeaderStatus.Ok => decoded!,
            BackupHeaderStatus.NotABackup => throw new StoreException(StoreError.Corrupt, "This file is not a SecureChat backup (it does not start with SCBK); nothing was restored."),
            BackupHeaderStatus.UnsupportedVersion => throw new StoreException(StoreError.Unreadable, $"The backup is of format version {headerBytes[4]}, which this SecureChat does not read (update SecureChat, unless the file is damaged); nothing was restored."),
            _ => throw Damaged("its header"),
        };

        using var key = BackupKey.Derive(passphrase, header.Salt, header.Kdf);
        if (!key.Matches(header.KeyCheck))
        {
            throw new StoreException(StoreError.WrongPassphrase, "The backup passphrase is wrong: the backup could not be opened, and nothing was restored.");
        }

        var plaintext = BackupChunks.TryReadAll(input, headerBytes, header.ChunkSize, key.Chunks) ?? throw Damaged("a part of it failed its integrity check, or it was cut short");
        try
        {
            if (!BackupContents.TryDecode(plaintext, out var contents))
            {
                throw Damaged("its contents are not laid out as this SecureChat writes them");
            }

            Write(directory, plaintext.AsSpan()[contents.Identity], plaintext.AsSpan()[contents.Database], contents.Account);
            return new BackupSummary(contents.Account, contents.CreatedAt);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    private static FileStreamOptions PrivateNewFile => new()
    {
        Mode = FileMode.CreateNew,
        Access = FileAccess.Write,
        UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
    };

    private static byte[] ReadIdentityBytes(string directory)
    {
        try
        {
            return File.ReadAllBytes(IdentityFile.PathIn(directory));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new StoreException(StoreError.Unreadable, $"{IdentityFile.PathIn(directory)} could not be read: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// The store's database as one SQLite file image: copied with the online backup API into an
    /// in-memory database, under the store's lock and one read transaction (a consistent snapshot,
    /// write-ahead log included, while other processes may write), then serialized.
    /// </summary>
    private static byte[] Snapshot(LocalStore store) => store.Run(connection =>
    {
        try
        {
            using var memory = new SqliteConnection("Data Source=:memory:;Pooling=False");
            memory.Open();
            connection.BackupDatabase(memory);
            var image = raw.sqlite3_serialize(memory.Handle, "main", out var size, 0);
            if (image == IntPtr.Zero)
            {
                throw new StoreException(StoreError.Unreadable, "The database could not be copied into memory for the backup.");
            }

            try
            {
                if (size > Array.MaxLength)
                {
                    throw new StoreException(StoreError.Unreadable, $"The database is too large to back up ({size} bytes; at most {Array.MaxLength}).");
                }

                var bytes = new byte[size];
                Marshal.Copy(image, bytes, 0, (int)size);
                return bytes;
            }
            finally
            {
                raw.sqlite3_free(image);
            }
        }
        catch (SqliteException ex)
        {
            throw new StoreException(StoreError.Unreadable, $"The database could not be read for the backup ({ex.Message.TrimEnd('.')}).", ex);
        }
    });

    /// <summary>
    /// Writes the database, then identity.json (which makes the directory a node), each as a new
    /// 0600 file renamed into place without replacing anything; undoes both on any failure.
    /// </summary>
    private static void Write(string directory, ReadOnlySpan<byte> identity, ReadOnlySpan<byte> database, AccountId account)
    {
        EnsureRestorableInto(directory);
        var created = !Directory.Exists(directory);
        DataDirectory.EnsureExists(directory);
        var databasePath = Path.Combine(directory, LocalStore.FileName);
        var identityPath = IdentityFile.PathIn(directory);
        var written = new List<string>();
        try
        {
            WriteNew(databasePath, database);
            written.Add(databasePath);
            WriteNew(identityPath, identity);
            written.Add(identityPath);
            if (!IdentityFile.ReadAccount(directory).Equals(account))
            {
                throw Damaged("its identity is not the account it names");
            }
        }
        catch
        {
            foreach (var path in written)
            {
                File.Delete(path);
            }

            if (created && !Directory.EnumerateFileSystemEntries(directory).Any())
            {
                Directory.Delete(directory);
            }

            throw;
        }
    }

    private static void WriteNew(string path, ReadOnlySpan<byte> contents)
    {
        var temporary = $"{path}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}.tmp";
        try
        {
            using (var stream = new FileStream(temporary, PrivateNewFile))
            {
                stream.Write(contents);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: false);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    private static StoreException Exists(string path) =>
        new(StoreError.Conflict, $"{path} already exists: choose another file, or add --force to replace it.");

    private static StoreException Damaged(string what) =>
        new(StoreError.Corrupt, $"The backup is damaged ({what}); nothing was restored.");
}
