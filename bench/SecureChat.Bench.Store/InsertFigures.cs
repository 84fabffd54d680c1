using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using SecureChat.Crypto;
using SecureChat.Protocol.Identity;
using SecureChat.Protocol.Ratchet;
using SecureChat.Storage;

namespace SecureChat.Bench.Store;

/// <summary>
/// <c>insert_sealed_per_s</c> and <c>insert_ratio_vs_sqlite</c>: messages stored through the
/// store's write paths as the node calls them, against plain SQLite storing the same rows in
/// plaintext with the same schema, the same transaction grouping and the store's settings.
/// <list type="bullet">
/// <item>One message per call and per transaction: <see cref="Outbox.QueueWithLamport(Contact, string, long)"/>, what
/// <c>ChatNode.Send</c> calls for each message a person sends.</item>
/// <item>Batched: <see cref="MessageLog.Receive"/>, what a link calls for each batch of frames
/// that arrived (up to 512), the batch's messages and the sealed ratchet state in one transaction.
/// A sender pumps 256 messages at a time (NodeOptions.SendBatch), so a burst arrives in batches of about that.</item>
/// </list>
/// Each runs on a fresh store whose search index is built (as after a person's first search), so
/// every insert also maintains the in-memory index. The two sides alternate in rounds, so both see
/// the same disk and the same neighbours.
/// </summary>
internal static class InsertFigures
{
    public const int ReceiveBatch = 256;
    private const int Contacts = 20;

    /// <summary>
    /// The store's pragmas (LocalStore.Open) and its messages table with the body in plaintext:
    /// same columns, constraints and indexes (Database/Schema.cs).
    /// </summary>
    private const string PlainSchema = """
        PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY; PRAGMA busy_timeout = 5000;
        CREATE TABLE contacts (id INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL UNIQUE, name TEXT NOT NULL) STRICT;
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT, message_id BLOB NOT NULL UNIQUE,
            contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
            outgoing INTEGER NOT NULL, sent_at INTEGER NOT NULL, received_at INTEGER, state INTEGER NOT NULL,
            body TEXT NOT NULL, lamport INTEGER NOT NULL DEFAULT 0) STRICT;
        CREATE INDEX messages_by_contact ON messages(contact_id, id);
        CREATE INDEX messages_outbox ON messages(contact_id, id) WHERE outgoing = 1 AND state < 2 AND lamport > 0;
        CREATE INDEX messages_unseen ON messages(contact_id, id) WHERE state = 4;
        CREATE TABLE sessions (contact_id INTEGER PRIMARY KEY REFERENCES contacts(id) ON DELETE CASCADE, record BLOB NOT NULL) STRICT;
        """;

    private const string PlainInsert = """
        INSERT INTO messages (message_id, contact_id, outgoing, sent_at, received_at, state, body, lamport)
        VALUES ($id, $contact, $outgoing, $sent, $received, $state, $body, $lamport)
        """;

    private const string PlainSession = """
        INSERT INTO sessions (contact_id, record) VALUES ($contact, $record)
        ON CONFLICT (contact_id) DO UPDATE SET record = excluded.record
        """;

    public static IEnumerable<Figure> Run(string directory, int single, int batched, bool quick, TextWriter log)
    {
        var (sealedSingle, plainSingle) = Measure(Path.Combine(directory, "single"), single, 1, log);
        log.WriteLine($"one per transaction: {single:N0} messages each; store (Queue) {sealedSingle:N0}/s, plain SQLite {plainSingle:N0}/s, ratio {sealedSingle / plainSingle:F2}");
        var (sealedBatch, plainBatch) = Measure(Path.Combine(directory, "batch"), batched, ReceiveBatch, log);
        log.WriteLine($"batches of {ReceiveBatch}: {batched:N0} messages each; store (Receive) {sealedBatch:N0}/s, plain SQLite {plainBatch:N0}/s, ratio {sealedBatch / plainBatch:F2}");

        const string Settings = "WAL, synchronous=FULL, fresh database, search index maintained";
        var singleNote = $"{(quick ? "quick run: " : "")}{single:N0} messages each side";
        var batchNote = $"{(quick ? "quick run: " : "")}{batched:N0} messages each side";
        return
        [
            new Figure("insert_sealed_per_s", sealedSingle, "msg/s", $"messages stored sealed by MessageLog.Queue (the node's send path), one per call and transaction; {Settings}",
                BaselineKey: "insert_sqlite_per_s", Baseline: plainSingle, BaselineUnit: "msg/s", BaselineWhat: "plain SQLite inserts of the same rows in plaintext, same schema, one per transaction, same pragmas", Note: singleNote),
            new Figure("insert_ratio_vs_sqlite", sealedSingle / plainSingle, "×", "insert_sealed_per_s / insert_sqlite_per_s (one message per transaction)",
                Target: "≥ 0.5", Note: singleNote),
            new Figure("insert_batch_sealed_per_s", sealedBatch, "msg/s", $"messages stored sealed by MessageLog.Receive (the node's receive path), {ReceiveBatch} and the sealed ratchet state per transaction; {Settings}",
                BaselineKey: "insert_batch_sqlite_per_s", Baseline: plainBatch, BaselineUnit: "msg/s", BaselineWhat: $"plain SQLite, the same rows and session record in plaintext, {ReceiveBatch} per transaction, same pragmas", Note: batchNote),
            new Figure("insert_batch_ratio_vs_sqlite", sealedBatch / plainBatch, "×", $"insert_batch_sealed_per_s / insert_batch_sqlite_per_s ({ReceiveBatch} messages per transaction)",
                Target: "≥ 0.5", Note: batchNote),
        ];
    }

    /// <summary>Stores <paramref name="count"/> messages both ways, <paramref name="perTransaction"/> at a time; returns messages/s of each.</summary>
    private static (double Sealed, double Plain) Measure(string directory, int count, int perTransaction, TextWriter log)
    {
        using var dataKey = SecretBytes.Random(SecretBox.KeySize);
        using var self = LocalIdentity.Create("me", DateTimeOffset.UnixEpoch);
        using var store = LocalStore.Open(Path.Combine(directory, "home"), dataKey, self.Account, TimeProvider.System);
        using var plain = new SqliteConnection($"Data Source={Path.Combine(directory, "plain.db")};Pooling=False");
        plain.Open();
        Execute(plain, PlainSchema);
        var contacts = new List<Contact>();
        for (var i = 0; i < Contacts; i++)
        {
            using var peer = LocalIdentity.Create("peer", DateTimeOffset.UnixEpoch);
            contacts.Add(store.Contacts.Add(peer.Account, $"peer {i}", null, DateTimeOffset.UnixEpoch));
            using var command = plain.CreateCommand();
            command.CommandText = "INSERT INTO contacts (account, name) VALUES ($account, $name)";
            command.Parameters.AddWithValue("$account", peer.Account.Text);
            command.Parameters.AddWithValue("$name", $"peer {i}");
            command.ExecuteNonQuery();
        }

        store.Messages.BuildIndex();
        var session = SessionRecord();
        var sent = perTransaction == 1;
        var sealedSide = sent ? new SendPath(store, contacts) : (Side)new ReceivePath(store, contacts, session);
        using var plainSide = new PlainPath(plain, sent ? null : session);

        // Warm-up (the JIT, SQLite's page cache, the WAL file), then the two sides in alternating rounds.
        var corpus = new Corpus(seed: 7);
        var warmUp = Rows(corpus, Math.Max(perTransaction * 4, 200), perTransaction, contacts);
        sealedSide.Store(warmUp);
        plainSide.Store(warmUp);
        var roundSize = perTransaction == 1 ? 500 : perTransaction * 10;
        var sealedTime = TimeSpan.Zero;
        var plainTime = TimeSpan.Zero;
        for (var done = 0; done < count; done += roundSize)
        {
            var rows = Rows(corpus, Math.Min(roundSize, count - done), perTransaction, contacts);
            Side[] order = (done / roundSize) % 2 == 0 ? [sealedSide, plainSide] : [plainSide, sealedSide];
            foreach (var side in order)
            {
                var clock = Stopwatch.StartNew();
                side.Store(rows);
                if (side == plainSide)
                {
                    plainTime += clock.Elapsed;
                }
                else
                {
                    sealedTime += clock.Elapsed;
                }
            }
        }

        if (store.Messages.BuildIndex() != count + warmUp.Sum(b => b.Messages.Count))
        {
            throw new InvalidOperationException("The store's index does not hold every message stored.");
        }

        log.WriteLine($"  {count:N0} messages, {perTransaction} per transaction: store {sealedTime.TotalSeconds:F1} s, plain SQLite {plainTime.TotalSeconds:F1} s");
        return (count / sealedTime.TotalSeconds, count / plainTime.TotalSeconds);
    }

    /// <summary>Messages in batches of <paramref name="perTransaction"/>, each batch in one conversation.</summary>
    private static List<Batch> Rows(Corpus corpus, int count, int perTransaction, List<Contact> contacts)
    {
        var now = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var batches = new List<Batch>();
        for (var done = 0; done < count; done += perTransaction)
        {
            var contact = corpus.Conversation(Contacts);
            var messages = Enumerable.Range(0, Math.Min(perTransaction, count - done)).Select(i => new StoredMessage(
                MessageLog.NewId(), contacts[contact].Name, contacts[contact].Account, false, now.AddMilliseconds(-done - i), now, MessageState.Received, corpus.Line(), done + i + 1)).ToList();
            batches.Add(new Batch(contact, messages));
        }

        return batches;
    }

    /// <summary>
    /// A session record the size of the node's (SessionRecord.Encode: version, session ID, flags,
    /// then a fresh ratchet state with no skipped keys), from throwaway keys.
    /// </summary>
    private static byte[] SessionRecord()
    {
        using var ratchet = RatchetSession.InitializeBob(RandomNumberGenerator.GetBytes(32), RandomNumberGenerator.GetBytes(32), RandomNumberGenerator.GetBytes(64));
        return [1, .. RandomNumberGenerator.GetBytes(16), 1, .. ratchet.Export()];
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>The messages of one transaction, in one conversation (an index into the contacts).</summary>
    private sealed record Batch(int Contact, List<StoredMessage> Messages);

    private abstract class Side
    {
        public abstract void Store(List<Batch> batches);
    }

    /// <summary>What ChatNode.Send does with each message: one call, one transaction, on disk when it returns.</summary>
    private sealed class SendPath(LocalStore store, List<Contact> contacts) : Side
    {
        private readonly long[] _lamport = new long[Contacts];

        public override void Store(List<Batch> batches)
        {
            foreach (var batch in batches)
            {
                foreach (var message in batch.Messages)
                {
                    store.Outbox.QueueWithLamport(contacts[batch.Contact], message.Text, ++_lamport[batch.Contact]);
                }
            }
        }
    }

    /// <summary>What a link does with each batch of frames: the texts and the ratchet state in one transaction.</summary>
    private sealed class ReceivePath(LocalStore store, List<Contact> contacts, byte[] session) : Side
    {
        public override void Store(List<Batch> batches)
        {
            foreach (var batch in batches)
            {
                if (store.Messages.Receive(contacts[batch.Contact], batch.Messages, session).Count != batch.Messages.Count)
                {
                    throw new InvalidOperationException("The store skipped messages of a batch.");
                }
            }
        }
    }

    /// <summary>
    /// Plain SQLite at its plainest: one prepared insert reused. Without a session record, the rows
    /// Queue writes (outgoing, queued, a fresh ID, the time now, the next Lamport value), one per
    /// transaction; with one, the received rows as they are and the session record, a batch per transaction.
    /// </summary>
    private sealed class PlainPath : Side, IDisposable
    {
        private readonly SqliteConnection _connection;
        private readonly byte[]? _session;
        private readonly SqliteCommand _insert;
        private readonly SqliteCommand _saveSession;
        private readonly long[] _lamport = new long[Contacts];

        public PlainPath(SqliteConnection connection, byte[]? session)
        {
            _connection = connection;
            _session = session;
            _insert = connection.CreateCommand();
            _insert.CommandText = PlainInsert;
            foreach (var (name, type) in new[] { ("$id", SqliteType.Blob), ("$contact", SqliteType.Integer), ("$outgoing", SqliteType.Integer), ("$sent", SqliteType.Integer), ("$received", SqliteType.Integer), ("$state", SqliteType.Integer), ("$body", SqliteType.Text), ("$lamport", SqliteType.Integer) })
            {
                _insert.Parameters.Add(name, type);
            }

            _saveSession = connection.CreateCommand();
            _saveSession.CommandText = PlainSession;
            _saveSession.Parameters.Add("$contact", SqliteType.Integer);
            _saveSession.Parameters.Add("$record", SqliteType.Blob);
        }

        public override void Store(List<Batch> batches)
        {
            var p = _insert.Parameters;
            foreach (var batch in batches)
            {
                using var transaction = _connection.BeginTransaction();
                _insert.Transaction = transaction;
                var contactId = batch.Contact + 1;
                p["$contact"].Value = contactId;
                var outgoing = _session is null;
                foreach (var message in batch.Messages)
                {
                    p["$id"].Value = outgoing ? RandomNumberGenerator.GetBytes(16) : Convert.FromHexString(message.MessageId);
                    p["$outgoing"].Value = outgoing ? 1 : 0;
                    p["$sent"].Value = outgoing ? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() : message.SentAt.ToUnixTimeMilliseconds();
                    p["$received"].Value = outgoing ? DBNull.Value : message.ReceivedAt!.Value.ToUnixTimeMilliseconds();
                    p["$state"].Value = outgoing ? (int)MessageState.Queued : (int)message.State;
                    p["$body"].Value = message.Text;
                    p["$lamport"].Value = outgoing ? ++_lamport[batch.Contact] : message.Lamport;
                    _insert.ExecuteNonQuery();
                }

                if (_session is not null)
                {
                    _saveSession.Transaction = transaction;
                    _saveSession.Parameters["$contact"].Value = contactId;
                    _saveSession.Parameters["$record"].Value = _session;
                    _saveSession.ExecuteNonQuery();
                }

                transaction.Commit();
            }
        }

        public void Dispose()
        {
            _insert.Dispose();
            _saveSession.Dispose();
        }
    }
}
