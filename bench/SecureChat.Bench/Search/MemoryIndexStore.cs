using System.Text;
using Microsoft.Data.Sqlite;

namespace SecureChat.Bench.Search;

/// <summary>
/// Design B: only sealed messages on disk; at unlock every body is read, opened, normalized and
/// indexed in memory (<see cref="InvertedIndex"/>), one thread per consecutive range of IDs.
/// A query runs in memory, then reads and opens the bodies of the hits it returns.
/// </summary>
public sealed class MemoryIndexStore : ISearchStore
{
    private readonly SqliteConnection _connection;
    private readonly SearchKeys _keys;
    private readonly InvertedIndex _index;
    private readonly SqliteCommand _body;
    private readonly byte[] _bytes = new byte[4096];
    private byte[] _plain = new byte[4096];
    private char[] _normalized = [];

    private MemoryIndexStore(SqliteConnection connection, SearchKeys keys, InvertedIndex index)
    {
        _connection = connection;
        _keys = keys;
        _index = index;
        _body = connection.CreateCommand();
        _body.CommandText = "SELECT body FROM messages WHERE id = $id";
        _body.Parameters.Add("$id", SqliteType.Integer);
        _body.Prepare();
    }

    public InvertedIndex Index => _index;

    /// <summary>Creates the database at <paramref name="path"/> and loads the corpus (fsync off during the load).</summary>
    public static void Build(string path, SyntheticCorpus corpus, SearchKeys keys)
    {
        using var connection = SqliteFiles.Open(path, bulkLoad: true);
        SqliteFiles.CreateSealedMessages(connection);
        SqliteFiles.LoadSealedMessages(connection, corpus, keys);
        SqliteFiles.Checkpoint(connection);
    }

    /// <summary>Unlocks: reads and opens every message and builds the index, on <paramref name="threads"/> threads.</summary>
    public static MemoryIndexStore Unlock(string path, SearchKeys keys, int threads)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threads);
        var connection = SqliteFiles.Open(path, bulkLoad: false);
        long first, last;
        using (var range = connection.CreateCommand())
        {
            range.CommandText = "SELECT coalesce(min(id), 1), coalesce(max(id), 0) FROM messages";
            using var reader = range.ExecuteReader();
            reader.Read();
            first = reader.GetInt64(0);
            last = reader.GetInt64(1);
        }

        var span = last - first + 1;
        var parts = new InvertedIndex.Part[threads];
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, part =>
        {
            var from = first + (span * part / threads);
            var to = first + (span * (part + 1) / threads);
            parts[part] = IndexRange(path, keys, from, to);
        });

        return new MemoryIndexStore(connection, keys, InvertedIndex.Merge(parts));
    }

    /// <summary>
    /// Seals the index and stores it in the database (4 MiB chunks, each bound to its index, the
    /// chunk count and the total length), replacing any earlier snapshot, durably.
    /// </summary>
    public long WriteSnapshot()
    {
        var bytes = _index.Serialize();
        var chunks = (bytes.Length + SnapshotChunk - 1) / SnapshotChunk;
        SqliteFiles.Execute(_connection, "CREATE TABLE IF NOT EXISTS index_snapshot (chunk INTEGER PRIMARY KEY, chunks INTEGER NOT NULL, total INTEGER NOT NULL, body BLOB NOT NULL)");
        using var transaction = _connection.BeginTransaction();
        using (var delete = _connection.CreateCommand())
        {
            delete.Transaction = transaction;
            delete.CommandText = "DELETE FROM index_snapshot";
            delete.ExecuteNonQuery();
        }

        using var insert = _connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = "INSERT INTO index_snapshot (chunk, chunks, total, body) VALUES ($chunk, $chunks, $total, $body)";
        insert.Parameters.Add("$chunk", SqliteType.Integer);
        insert.Parameters.Add("$chunks", SqliteType.Integer).Value = chunks;
        insert.Parameters.Add("$total", SqliteType.Integer).Value = bytes.Length;
        insert.Parameters.Add("$body", SqliteType.Blob);
        for (var chunk = 0; chunk < chunks; chunk++)
        {
            var start = chunk * SnapshotChunk;
            var piece = bytes.AsSpan(start, Math.Min(SnapshotChunk, bytes.Length - start));
            insert.Parameters[0].Value = chunk;
            insert.Parameters[3].Value = _keys.Seal(SnapshotAd(chunk, chunks, bytes.Length), piece);
            insert.ExecuteNonQuery();
        }

        transaction.Commit();
        return bytes.Length;
    }

    /// <summary>Unlocks from the sealed snapshot: read, open (in parallel), parse. Null when there is none or it does not open.</summary>
    public static MemoryIndexStore? UnlockFromSnapshot(string path, SearchKeys keys, int threads)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var connection = SqliteFiles.Open(path, bulkLoad: false);
        var rows = new List<(int Chunk, int Chunks, int Total, byte[] Body)>();
        using (var select = connection.CreateCommand())
        {
            select.CommandText = "SELECT chunk, chunks, total, body FROM index_snapshot ORDER BY chunk";
            using var reader = select.ExecuteReader();
            while (reader.Read())
            {
                rows.Add((reader.GetInt32(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetFieldValue<byte[]>(3)));
            }
        }

        var total = rows.Count > 0 ? rows[0].Total : 0;
        if (rows.Count == 0 || rows.Any(row => row.Chunks != rows.Count || row.Total != total) || total > rows.Count * SnapshotChunk)
        {
            connection.Dispose();
            return null;
        }

        var bytes = new byte[total];
        var opened = 0;
        Parallel.For(0, rows.Count, new ParallelOptions { MaxDegreeOfParallelism = threads }, i =>
        {
            var (chunk, chunks, _, body) = rows[i];
            var start = chunk * SnapshotChunk;
            var length = Math.Min(SnapshotChunk, total - start);
            if (chunk == i && length > 0 && body.Length == length + Crypto.SecretBox.Overhead
                && keys.TryOpen(SnapshotAd(chunk, chunks, total), body, bytes.AsSpan(start, length)))
            {
                Interlocked.Increment(ref opened);
            }
        });

        var index = opened == rows.Count ? InvertedIndex.Deserialize(bytes) : null;
        if (index is null)
        {
            connection.Dispose();
            return null;
        }

        return new MemoryIndexStore(connection, keys, index);
    }

    /// <summary>Folds the WAL into the file, so its size on disk is the store's.</summary>
    public void Checkpoint() => SqliteFiles.Checkpoint(_connection);

    public IReadOnlyList<SearchHit> Search(SearchQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        var positions = _index.Search(query.Terms, query.Conversation, SearchQuery.Limit);
        var hits = new List<SearchHit>(positions.Count);
        foreach (var position in positions)
        {
            var id = _index.MessageIdAt(position);
            _body.Parameters[0].Value = id;
            using var reader = _body.ExecuteReader();
            if (!reader.Read())
            {
                throw new InvalidDataException($"Message {id} is indexed but not stored.");
            }

            var text = SqliteFiles.OpenBody(_keys, id, reader.GetFieldValue<byte[]>(0), ref _plain);
            hits.Add(new SearchHit(id, _index.ConversationAt(position), _index.SentAtAt(position), text));
        }

        return hits;
    }

    public void Add(long messageId, int conversation, long sentAtMs, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        using (var transaction = _connection.BeginTransaction())
        using (var insert = SqliteFiles.PrepareInsertSealed(_connection))
        {
            insert.Transaction = transaction;
            SqliteFiles.InsertSealed(insert, _keys, _bytes, messageId, conversation, sentAtMs, text);
            transaction.Commit();
        }

        _index.Add(messageId, conversation, sentAtMs, TextNormalizer.Normalize(text, ref _normalized));
    }

    public void Dispose()
    {
        _body.Dispose();
        _connection.Dispose();
    }

    private const int SnapshotChunk = 4 * 1024 * 1024;

    private static byte[] SnapshotAd(int chunk, int chunks, int total)
    {
        var ad = new byte[16 + 16];
        "SecureChat index"u8.CopyTo(ad);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(ad.AsSpan(16), chunk);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(ad.AsSpan(20), chunks);
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(ad.AsSpan(24), total);
        return ad;
    }

    private static InvertedIndex.Part IndexRange(string path, SearchKeys keys, long from, long to)
    {
        var part = new InvertedIndex.Part();
        using var connection = SqliteFiles.Open(path, bulkLoad: false, readOnly: true);
        using var select = connection.CreateCommand();
        select.CommandText = "SELECT id, conversation, sent_at, body FROM messages WHERE id >= $from AND id < $to ORDER BY id";
        select.Parameters.AddWithValue("$from", from);
        select.Parameters.AddWithValue("$to", to);
        using var reader = select.ExecuteReader();
        var plain = new byte[64 * 1024];
        var chars = new char[64 * 1024];
        char[] normalized = [];
        while (reader.Read())
        {
            var id = reader.GetInt64(0);
            // GetFieldValue copies the BLOB once; GetBytes into a kept buffer costs three times as much here.
            var sealedBody = reader.GetFieldValue<byte[]>(3);
            if (sealedBody.Length > plain.Length || !keys.TryOpen(id, sealedBody, plain))
            {
                throw new InvalidDataException($"Message {id} does not authenticate.");
            }

            var count = Encoding.UTF8.GetChars(plain.AsSpan(0, sealedBody.Length - Crypto.SecretBox.Overhead), chars);
            part.Add(id, reader.GetInt32(1), reader.GetInt64(2), TextNormalizer.Normalize(chars.AsSpan(0, count), ref normalized));
        }

        return part;
    }
}
