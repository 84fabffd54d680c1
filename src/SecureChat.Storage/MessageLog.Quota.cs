namespace SecureChat.Storage;

/// <summary>What a receive quota counts from the store (SecureChat.Node's ReceiveQuota).</summary>
public sealed partial class MessageLog
{
    /// <summary>What sealing adds to a text (a nonce and a tag).</summary>
    private const int SealOverhead = Crypto.SecretBox.Overhead;

    /// <summary>
    /// The texts received from <paramref name="contact"/> that arrived at or after
    /// <paramref name="since"/>: when, and how many bytes. The size is the sealed body's less
    /// what sealing adds, which is at least the text's UTF-8 length (more if bodies are padded),
    /// so a quota seeded from it is never looser than the one counted live.
    /// </summary>
    public IReadOnlyList<(DateTimeOffset ReceivedAt, long Bytes)> ReceivedSince(Contact contact, DateTimeOffset since)
    {
        ArgumentNullException.ThrowIfNull(contact);
        var contactId = _store.Contacts.IdOf(contact);
        return _store.Run(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT received_at, length(body) FROM messages WHERE contact_id = $contact AND outgoing = 0 AND received_at >= $since";
            command.Parameters.AddWithValue("$contact", contactId);
            command.Parameters.AddWithValue("$since", since.ToUnixTimeMilliseconds());
            using var reader = command.ExecuteReader();
            var received = new List<(DateTimeOffset, long)>();
            while (reader.Read())
            {
                received.Add((DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(0)), Math.Max(0, reader.GetInt64(1) - SealOverhead)));
            }

            return received;
        });
    }
}
