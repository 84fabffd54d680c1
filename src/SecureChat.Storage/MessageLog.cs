using System.Buffers.Binary;
using System.Text;
using Microsoft.Data.Sqlite;

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

    /// <summary>Received from the peer.</summary>
    Received = 4,
}

/// <summary>One message of a conversation; its ID is 32 hex characters, the message's own 128-bit random ID.</summary>
public sealed record StoredMessage(
    string MessageId, string ContactName, string ContactAccount, bool Outgoing, DateTimeOffset SentAt, DateTimeOffset? ReceivedAt, MessageState State, string Text);

/// <summary>
/// The messages table. A message's text is sealed and bound (associated data) to its ID, its
/// conversation, its direction and its send time, so a sealed text moved to another row, another
/// conversation or another direction fails to open and is reported as tampering.
/// </summary>
public sealed class MessageLog
{
    private readonly LocalStore _store;
    private readonly TimeProvider _time;

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
        var id = ParseId(messageId);
        var contactId = _store.Contacts.IdOf(contact);
        var sentMs = sentAt.ToUnixTimeMilliseconds();
        var body = _store.Keys.Fields.Seal(AssociatedData(id, contactId, outgoing, sentMs), Encoding.UTF8.GetBytes(text));
        return _store.Run(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = """
                INSERT INTO messages (message_id, contact_id, outgoing, sent_at, received_at, state, body)
                VALUES ($id, $contact, $outgoing, $sent, $received, $state, $body)
                ON CONFLICT (message_id) DO NOTHING
                """;
            command.Parameters.AddWithValue("$id", id);
            command.Parameters.AddWithValue("$contact", contactId);
            command.Parameters.AddWithValue("$outgoing", outgoing ? 1 : 0);
            command.Parameters.AddWithValue("$sent", sentMs);
            command.Parameters.AddWithValue("$received", receivedAt is { } r ? r.ToUnixTimeMilliseconds() : DBNull.Value);
            command.Parameters.AddWithValue("$state", (int)state);
            command.Parameters.AddWithValue("$body", body);
            return command.ExecuteNonQuery() == 1;
        });
    }

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
            return command.ExecuteNonQuery();
        });
    }

    /// <summary>
    /// A page of a conversation, newest last: the <paramref name="limit"/> messages before
    /// <paramref name="beforeMessageId"/> (or the newest ones).
    /// </summary>
    public IReadOnlyList<StoredMessage> History(Contact contact, int limit, string? beforeMessageId = null)
    {
        ArgumentNullException.ThrowIfNull(contact);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        var contactId = _store.Contacts.IdOf(contact);
        var before = beforeMessageId is null ? (byte[]?)null : ParseId(beforeMessageId);
        return _store.Run(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = """
                SELECT message_id, outgoing, sent_at, received_at, state, body FROM messages
                WHERE contact_id = $contact
                  AND ($before IS NULL OR id < (SELECT id FROM messages WHERE message_id = $before AND contact_id = $contact))
                ORDER BY id DESC LIMIT $limit
                """;
            command.Parameters.AddWithValue("$contact", contactId);
            command.Parameters.AddWithValue("$before", (object?)before ?? DBNull.Value);
            command.Parameters.AddWithValue("$limit", limit);
            using var reader = command.ExecuteReader();
            var page = new List<StoredMessage>();
            while (reader.Read())
            {
                page.Add(ReadMessage(reader, contact, contactId));
            }

            page.Reverse();
            return page;
        });
    }

    /// <summary>How many messages a conversation holds.</summary>
    public long Count(Contact contact)
    {
        var contactId = _store.Contacts.IdOf(contact);
        return _store.Run(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT count(*) FROM messages WHERE contact_id = $contact";
            command.Parameters.AddWithValue("$contact", contactId);
            return (long)command.ExecuteScalar()!;
        });
    }

    private StoredMessage ReadMessage(SqliteDataReader reader, Contact contact, long contactId)
    {
        var id = (byte[])reader[0];
        var outgoing = reader.GetInt64(1) != 0;
        var sentMs = reader.GetInt64(2);
        var text = _store.Keys.Fields.TryOpen(AssociatedData(id, contactId, outgoing, sentMs), (byte[])reader[5])
            ?? throw new StoreException(StoreError.Tampered, $"Message {Convert.ToHexStringLower(id)} failed its integrity check: the database was modified outside SecureChat. Restore it from a backup.");
        var state = reader.GetInt64(4);
        return new StoredMessage(
            Convert.ToHexStringLower(id),
            contact.Name,
            contact.Account,
            outgoing,
            DateTimeOffset.FromUnixTimeMilliseconds(sentMs),
            reader.IsDBNull(3) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)),
            Enum.IsDefined((MessageState)state) ? (MessageState)state : throw new StoreException(StoreError.Tampered, "A message has an unknown state: the database was modified outside SecureChat."),
            Encoding.UTF8.GetString(text));
    }

    private static byte[] ParseId(string messageId)
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

    private static byte[] AssociatedData(byte[] messageId, long contactId, bool outgoing, long sentMs)
    {
        var data = new byte[22 + 16 + 8 + 1 + 8];
        "SecureChat message v1\0"u8.CopyTo(data);
        messageId.CopyTo(data, 22);
        BinaryPrimitives.WriteInt64BigEndian(data.AsSpan(38), contactId);
        data[46] = outgoing ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteInt64BigEndian(data.AsSpan(47), sentMs);
        return data;
    }
}
