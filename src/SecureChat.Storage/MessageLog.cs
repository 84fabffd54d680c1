using System.Buffers.Binary;
using System.Text;
using Microsoft.Data.Sqlite;
using SecureChat.Crypto;
using SecureChat.Protocol.Messages;
using SecureChat.Storage.Search;

namespace SecureChat.Storage;

/// <summary>Where a message stands, as its sender or receiver sees it.</summary>
public enum MessageState
{
    /// <summary>Written by this node, waiting to be sent.</summary>
    Queued = 0,

    /// <summary>Written by this node and handed to the channel.</summary>
    Sent = 1,

    /// <summary>The peer has stored it.</summary>
    Delivered = 2,

    /// <summary>The peer has shown it to its person.</summary>
    Read = 3,

    /// <summary>Received from the peer, not yet shown to this node's person.</summary>
    Received = 4,

    /// <summary>Received from the peer and shown to this node's person (a read receipt goes back).</summary>
    Seen = 5,
}

/// <summary>One message of a conversation; its ID is 32 hex characters, the message's own 128-bit random ID.</summary>
public sealed record StoredMessage(
    string MessageId, string ContactName, string ContactAccount, bool Outgoing, DateTimeOffset SentAt, DateTimeOffset? ReceivedAt, MessageState State, string Text, long Lamport = 0);

/// <summary>
/// The messages table. A message's text is sealed and bound (associated data) to its ID, its
/// conversation, its direction and its send time, so a sealed text moved to another row, another
/// conversation or another direction fails to open and is reported as tampering.
/// </summary>
public sealed partial class MessageLog
{
    private readonly LocalStore _store;
    private readonly TimeProvider _time;
    private readonly Lock _indexLock = new();
    private MessageIndex? _index;
    private long _snapshotRowId;

    internal MessageLog(LocalStore store, TimeProvider time)
    {
        _store = store;
        _time = time;
    }

    /// <summary>
    /// Stores a message; when this returns, it is on disk. A message whose ID is already stored is
    /// not stored again (false), so a message delivered twice is kept once.
    /// </summary>
    public bool Add(Contact contact, string messageId, bool outgoing, string text, DateTimeOffset sentAt, DateTimeOffset? receivedAt, MessageState state)
    {
        ArgumentNullException.ThrowIfNull(contact);
        ArgumentNullException.ThrowIfNull(text);
        return AddRange(contact, [new StoredMessage(messageId, contact.Name, contact.Account, outgoing, sentAt, receivedAt, state, text)]) == 1;
    }

    /// <summary>
    /// Stores many messages of one conversation in one transaction (imports, benchmarks): all are on
    /// disk when this returns, or none. Returns how many were new.
    /// </summary>
    public int AddRange(Contact contact, IEnumerable<StoredMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(contact);
        ArgumentNullException.ThrowIfNull(messages);
        var contactId = _store.Contacts.IdOf(contact);
        return _store.Run(connection =>
        {
            using var transaction = connection.BeginTransaction();
            var added = Insert(connection, transaction, contactId, messages);
            transaction.Commit();
            IndexAdded(contactId, added);
            return added.Count;
        });
    }

    /// <summary>Inserts messages in an open transaction, skipping IDs already stored; returns the new ones.</summary>
    private List<AddedMessage> Insert(SqliteConnection connection, SqliteTransaction transaction, long contactId, IEnumerable<StoredMessage> messages)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            INSERT INTO messages (message_id, contact_id, outgoing, sent_at, received_at, state, body, lamport)
            VALUES ($id, $contact, $outgoing, $sent, $received, $state, $body, $lamport)
            ON CONFLICT (message_id) DO NOTHING
            """;
        var id = command.Parameters.Add("$id", SqliteType.Blob);
        command.Parameters.AddWithValue("$contact", contactId);
        var outgoing = command.Parameters.Add("$outgoing", SqliteType.Integer);
        var sent = command.Parameters.Add("$sent", SqliteType.Integer);
        var received = command.Parameters.Add("$received", SqliteType.Integer);
        var state = command.Parameters.Add("$state", SqliteType.Integer);
        var body = command.Parameters.Add("$body", SqliteType.Blob);
        var lamport = command.Parameters.Add("$lamport", SqliteType.Integer);
        var added = new List<AddedMessage>();
        foreach (var message in messages)
        {
            var messageId = ParseId(message.MessageId);
            var sentMs = message.SentAt.ToUnixTimeMilliseconds();
            id.Value = messageId;
            outgoing.Value = message.Outgoing ? 1 : 0;
            sent.Value = sentMs;
            received.Value = message.ReceivedAt is { } r ? r.ToUnixTimeMilliseconds() : DBNull.Value;
            state.Value = (int)message.State;
            lamport.Value = message.Lamport;
            body.Value = SealText(messageId, contactId, message.Outgoing, sentMs, message.Text);
            // One row changed: stored, and its row is the connection's last insert (the store's
            // lock keeps the connection to this thread). None: a duplicate. (RETURNING would open a
            // data reader for every row.)
            if (command.ExecuteNonQuery() == 1)
            {
                if (message.Outgoing && message.State < MessageState.Delivered)
                {
                    // An outbox row the outbox did not write: what it holds in memory is no longer the whole end.
                    _store.Outbox.ConversationChanged(contactId);
                }

                added.Add(new AddedMessage(SQLitePCL.raw.sqlite3_last_insert_rowid(connection.Handle), message.MessageId, message.Text));
            }
        }

        return added;
    }

    /// <summary>Adds committed messages to the search index, when it is built.</summary>
    private void IndexAdded(long contactId, List<AddedMessage> added)
    {
        foreach (var message in added)
        {
            _index?.Add(message.Row, contactId, SearchText.Terms(message.Text));
        }
    }

    /// <summary>Adds messages the outbox committed to the search index, when it is built.</summary>
    internal void IndexAdded(long contactId, IReadOnlyList<long> rows, IReadOnlyList<StoredMessage> messages)
    {
        for (var i = 0; i < rows.Count; i++)
        {
            _index?.Add(rows[i], contactId, SearchText.Terms(messages[i].Text));
        }
    }

    private readonly record struct AddedMessage(long Row, string MessageId, string Text);

    /// <summary>Stores a message with a fresh random ID and the current time; returns the ID.</summary>
    public string AddNew(Contact contact, bool outgoing, string text, MessageState state)
    {
        var id = NewId();
        var now = _time.GetUtcNow();
        Add(contact, id, outgoing, text, now, outgoing ? null : now, state);
        return id;
    }

    public static string NewId() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

    public void UpdateState(string messageId, MessageState state)
    {
        var id = ParseId(messageId);
        _store.Run(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE messages SET state = $state WHERE message_id = $id";
            command.Parameters.AddWithValue("$state", (int)state);
            command.Parameters.AddWithValue("$id", id);
            var changed = command.ExecuteNonQuery();

            // The row may have entered or left an outbox.
            _store.Outbox.ForgetMemory();
            return changed;
        });
    }

    /// <summary>
    /// A page of a conversation, newest last: the <paramref name="limit"/> messages before
    /// <paramref name="beforeMessageId"/> (or the newest ones).
    /// </summary>
    public IReadOnlyList<StoredMessage> History(Contact contact, int limit, string? beforeMessageId = null) =>
        Page(contact, limit, beforeMessageId, newer: false);

    /// <summary>A page of a conversation, oldest first: the <paramref name="limit"/> messages after <paramref name="afterMessageId"/>.</summary>
    public IReadOnlyList<StoredMessage> HistoryAfter(Contact contact, int limit, string afterMessageId)
    {
        ArgumentNullException.ThrowIfNull(afterMessageId);
        return Page(contact, limit, afterMessageId, newer: true);
    }

    /// <summary>Up to <paramref name="limit"/> messages next to <paramref name="anchorMessageId"/>, on one side of it, in conversation order.</summary>
    private List<StoredMessage> Page(Contact contact, int limit, string? anchorMessageId, bool newer)
    {
        ArgumentNullException.ThrowIfNull(contact);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        var contactId = _store.Contacts.IdOf(contact);
        var anchor = anchorMessageId is null ? (byte[]?)null : ParseId(anchorMessageId);
        return _store.Run(connection =>
        {
            if (anchor is not null)
            {
                using var exists = connection.CreateCommand();
                exists.CommandText = "SELECT 1 FROM messages WHERE message_id = $anchor AND contact_id = $contact";
                exists.Parameters.AddWithValue("$anchor", anchor);
                exists.Parameters.AddWithValue("$contact", contactId);
                if (exists.ExecuteScalar() is null)
                {
                    throw new StoreException(StoreError.NoSuchContact, $"No message {anchorMessageId} is in the conversation with '{contact.Name}': use an ID that `securechat history` printed for it.");
                }
            }

            using var command = connection.CreateCommand();
            command.CommandText = newer
                ? $"""
                    SELECT {MessageColumns} FROM messages
                    WHERE contact_id = $contact
                      AND id > (SELECT id FROM messages WHERE message_id = $anchor AND contact_id = $contact)
                    ORDER BY id ASC LIMIT $limit
                    """
                : $"""
                    SELECT {MessageColumns} FROM messages
                    WHERE contact_id = $contact
                      AND ($anchor IS NULL OR id < (SELECT id FROM messages WHERE message_id = $anchor AND contact_id = $contact))
                    ORDER BY id DESC LIMIT $limit
                    """;
            command.Parameters.AddWithValue("$contact", contactId);
            command.Parameters.AddWithValue("$anchor", (object?)anchor ?? DBNull.Value);
            command.Parameters.AddWithValue("$limit", limit);
            using var reader = command.ExecuteReader();
            var page = new List<StoredMessage>();
            while (reader.Read())
            {
                page.Add(ReadMessage(reader, contact, contactId));
            }

            if (!newer)
            {
                page.Reverse();
            }

            return page;
        });
    }

    /// <summary>
    /// Finds messages containing every word of <paramref name="query"/> (each as a word or the
    /// beginning of one; case and accents ignored), newest first. The index lives in memory only:
    /// the first search after unlock builds it from the decrypted messages.
    /// </summary>
    public IReadOnlyList<StoredMessage> Search(string query, Contact? contact, int limit)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        var terms = SearchText.Terms(query);
        var contactId = contact is null ? (long?)null : _store.Contacts.IdOf(contact);
        var rows = EnsureIndex().Query(terms, contactId, limit);
        if (rows.Count == 0)
        {
            return [];
        }

        var contacts = _store.Contacts.All.ToDictionary(c => c.Id);
        return _store.Run(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT {MessageColumns} FROM messages WHERE id IN ({string.Join(',', rows)}) ORDER BY id DESC";
            using var reader = command.ExecuteReader();
            var results = new List<StoredMessage>();
            while (reader.Read())
            {
                var owner = reader.GetInt64(7);
                if (contacts.TryGetValue(owner, out var c))
                {
                    results.Add(ReadMessage(reader, c, owner));
                }
            }

            return results;
        });
    }

    /// <summary>Builds the in-memory index now (it is otherwise built by the first search); returns how many messages it holds.</summary>
    public int BuildIndex() => EnsureIndex().Count;

    internal void ForgetContact(long contactId, string account)
    {
        _store.Outbox.ConversationRemoved(contactId, account);
        lock (_indexLock)
        {
            _index?.RemoveContact(contactId);
            _snapshotRowId = -1;
        }
    }

    /// <summary>How many messages a conversation holds.</summary>
    public long Count(Contact contact) => ConversationScalar(contact, "SELECT count(*) FROM messages WHERE contact_id = $contact");

    /// <summary>One number about a conversation: <paramref name="sql"/> names the contact's row as <c>$contact</c>.</summary>
    private long ConversationScalar(Contact contact, string sql, params (string Name, object Value)[] parameters)
    {
        var contactId = _store.Contacts.IdOf(contact);
        return _store.Run(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            command.Parameters.AddWithValue("$contact", contactId);
            foreach (var (name, value) in parameters)
            {
                command.Parameters.AddWithValue(name, value);
            }

            return (long)command.ExecuteScalar()!;
        });
    }

    /// <summary>
    /// Writes the in-memory index as a sealed snapshot beside the database, so the next unlock loads
    /// it instead of decrypting every message. Nothing in it is readable without the data key.
    /// </summary>
    public void SaveIndexSnapshot()
    {
        lock (_indexLock)
        {
            if (_index is null || (_index.LastRowId == _snapshotRowId && File.Exists(_store.SnapshotPath)))
            {
                return;
            }

            var plain = _index.Serialize();
            var sealedSnapshot = _store.Keys.Fields.Seal(SnapshotLabel, plain);
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(plain);
            DataDirectory.WriteAtomically(_store.SnapshotPath, sealedSnapshot);
            _snapshotRowId = _index.LastRowId;
        }
    }

    private static ReadOnlySpan<byte> SnapshotLabel => "SecureChat search snapshot v2"u8;

    /// <summary>The sealed snapshot, if there is one that opens and makes sense; otherwise null (it is only a cache).</summary>
    private MessageIndex? LoadSnapshot()
    {
        if (!File.Exists(_store.SnapshotPath))
        {
            return null;
        }

        var plain = _store.Keys.Fields.TryOpen(SnapshotLabel, File.ReadAllBytes(_store.SnapshotPath));
        if (plain is null)
        {
            return null;
        }

        var index = MessageIndex.TryDeserialize(plain, _store.Contacts.Everyone.Select(c => c.Id).ToHashSet());
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(plain);
        return index;
    }

    private MessageIndex EnsureIndex()
    {
        lock (_indexLock)
        {
            if (_index is not null)
            {
                return _index;
            }

            var snapshot = LoadSnapshot();
            var after = snapshot?.LastRowId ?? 0;
            _snapshotRowId = after;

            // Read the sealed rows not in the snapshot (SQLite: one thread), then open and split them on every core.
            var rows = _store.Run(connection => ReadSealedRows(connection, after));
            var terms = new List<string>[rows.Count];
            var tampered = -1;
            Parallel.For(0, rows.Count, (i, loop) =>
            {
                var row = rows[i];
                var text = TryOpenText(row.MessageId, row.Contact, row.Outgoing, row.Sent, row.Body);
                if (text is null)
                {
                    Interlocked.CompareExchange(ref tampered, i, -1);
                    loop.Stop();
                    return;
                }

                terms[i] = SearchText.Terms(Encoding.UTF8.GetString(text));
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(text);
            });
            if (tampered >= 0)
            {
                throw Tampered(rows[tampered].MessageId);
            }

            var index = snapshot ?? new MessageIndex();
            for (var i = 0; i < rows.Count; i++)
            {
                index.Add(rows[i].Id, rows[i].Contact, terms[i]);
            }

            // Messages stored while the index was being built are added under the store's lock.
            _store.Run(connection =>
            {
                foreach (var row in ReadSealedRows(connection, rows.Count > 0 ? rows[^1].Id : after))
                {
                    var text = Open(row.MessageId, row.Contact, row.Outgoing, row.Sent, row.Body);
                    index.Add(row.Id, row.Contact, SearchText.Terms(Encoding.UTF8.GetString(text)));
                    System.Security.Cryptography.CryptographicOperations.ZeroMemory(text);
                }

                _index = index;
                return 0;
            });
            if (snapshot is null || rows.Count > 1000)
            {
                SaveIndexSnapshot();
            }

            return index;
        }
    }

    /// <summary>The sealed messages stored after row <paramref name="after"/>, in storage order.</summary>
    private static List<SealedRow> ReadSealedRows(SqliteConnection connection, long after)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, message_id, contact_id, outgoing, sent_at, body FROM messages WHERE id > $after ORDER BY id";
        command.Parameters.AddWithValue("$after", after);
        using var reader = command.ExecuteReader();
        var rows = new List<SealedRow>();
        while (reader.Read())
        {
            rows.Add(new SealedRow(reader.GetInt64(0), (byte[])reader[1], reader.GetInt64(2), reader.GetInt64(3) != 0, reader.GetInt64(4), (byte[])reader[5]));
        }

        return rows;
    }

    /// <summary>The columns <see cref="ReadMessage"/> reads, in its order.</summary>
    internal const string MessageColumns = "message_id, outgoing, sent_at, received_at, state, body, lamport, contact_id";

    internal StoredMessage ReadMessage(SqliteDataReader reader, Contact contact, long contactId)
    {
        var id = (byte[])reader[0];
        var outgoing = reader.GetInt64(1) != 0;
        var sentMs = reader.GetInt64(2);
        var text = Open(id, contactId, outgoing, sentMs, (byte[])reader[5]);
        var state = reader.GetInt64(4);
        var receivedMs = reader.IsDBNull(3) ? (long?)null : reader.GetInt64(3);
        if (state is < (long)MessageState.Queued or > (long)MessageState.Seen || !IsTime(sentMs) || (receivedMs is { } r && !IsTime(r)))
        {
            throw Tampered(id);
        }

        return new StoredMessage(
            Convert.ToHexStringLower(id),
            contact.Name,
            contact.Account,
            outgoing,
            DateTimeOffset.FromUnixTimeMilliseconds(sentMs),
            receivedMs is { } received ? DateTimeOffset.FromUnixTimeMilliseconds(received) : null,
            (MessageState)state,
            Encoding.UTF8.GetString(text),
            reader.GetInt64(6));

        static bool IsTime(long ms) => ms is >= -62135596800000 and <= 253402300799999;
    }

    internal static byte[] ParseId(string messageId)
    {
        try
        {
            var bytes = Convert.FromHexString(messageId);
            return bytes.Length == 16 ? bytes : throw new FormatException();
        }
        catch (FormatException)
        {
            throw new ArgumentException($"'{messageId}' is not a message ID: an ID is 32 hexadecimal characters.", nameof(messageId));
        }
    }

    /// <summary>
    /// What a message's sealed text is bound to: its format, its ID, its conversation (the
    /// contact's stable lookup, not its row number, so swapping contact rows cannot move a
    /// conversation), its direction and its send time. Null when the conversation does not exist:
    /// the row is then forged. The format is in the label: "v1" rows (written before padding)
    /// hold the bare UTF-8 text; "v2" rows hold it padded to a size bucket. Binding the format
    /// means a row cannot be passed off as the other kind.
    /// </summary>
    private byte[]? AssociatedData(byte[] messageId, long contactId, bool outgoing, long sentMs, bool padded)
    {
        if (messageId.Length != 16 || _store.Contacts.LookupOf(contactId) is not { } lookup)
        {
            return null;
        }

        var data = new byte[22 + 16 + 16 + 1 + 8];
        (padded ? "SecureChat message v2\0"u8 : "SecureChat message v1\0"u8).CopyTo(data);
        messageId.CopyTo(data, 22);
        lookup.CopyTo(data, 38);
        data[54] = outgoing ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteInt64BigEndian(data.AsSpan(55), sentMs);
        return data;
    }

    /// <summary>
    /// Seals a text padded to its size bucket (<see cref="Padding"/>), so that the stored size
    /// tells only the bucket, not the length: a body is always 64, 256, 1,024, 4,096 or 16,384
    /// bytes plus the 40 bytes of nonce and tag.
    /// </summary>
    internal byte[] SealText(byte[] messageId, long contactId, bool outgoing, long sentMs, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var padded = Padding.Pad(bytes);
        try
        {
            return _store.Keys.Fields.Seal(AssociatedData(messageId, contactId, outgoing, sentMs, padded: true)!, padded);
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(bytes);
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(padded);
        }
    }

    /// <summary>The UTF-8 text of a stored body, padded (v2) or from before padding (v1); null when it fails to open.</summary>
    private byte[]? TryOpenText(byte[] messageId, long contactId, bool outgoing, long sentMs, byte[] body)
    {
        // A padded body's plaintext is a bucket size; a v1 body of any other size need not be tried as v2.
        var plainLength = body.Length - SecretBox.Overhead;
        if (plainLength > 0 && Padding.BucketFor(plainLength) == plainLength
            && AssociatedData(messageId, contactId, outgoing, sentMs, padded: true) is { } current
            && _store.Keys.Fields.TryOpen(current, body) is { } padded)
        {
            var ok = Padding.TryUnpad(padded, out var length);
            var text = ok ? padded[..length] : null;
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(padded);
            return text;
        }

        return AssociatedData(messageId, contactId, outgoing, sentMs, padded: false) is { } old ? _store.Keys.Fields.TryOpen(old, body) : null;
    }

    /// <summary>Opens a stored text, or reports the row as tampered with.</summary>
    private byte[] Open(byte[] messageId, long contactId, bool outgoing, long sentMs, byte[] body) =>
        TryOpenText(messageId, contactId, outgoing, sentMs, body) ?? throw Tampered(messageId);

    private static StoreException Tampered(byte[] messageId) =>
        new(StoreError.Tampered, $"Message {Convert.ToHexStringLower(messageId)} failed its integrity check: the database was modified outside SecureChat. Restore it from a backup.");

    /// <summary>A message row as stored: its text still sealed.</summary>
    private readonly record struct SealedRow(long Id, byte[] MessageId, long Contact, bool Outgoing, long Sent, byte[] Body);
}
