namespace SecureChat.Storage;

/// <summary>
/// The SQL of the outbox, each predicate named once. Message states are bound as parameters
/// (<c>$queued</c>, <c>$sent</c>, <c>$state</c>, ...), except inside the two predicates that a
/// partial index is declared with: SQLite uses a partial index only when the query's WHERE
/// clause contains the index's own terms, and a parameter in their place matches only by
/// re-preparing the statement on every execution (the planner then marks the statement as
/// depending on the bound value). Those two are written from <see cref="MessageState"/>, so the
/// number still has a name here.
/// </summary>
internal static class OutboxSql
{
    /// <summary>
    /// A message in the outbox: written by this node and not yet acknowledged by the peer (queued or
    /// sent). Exactly the terms of the partial index <c>messages_outbox</c>
    /// (<c>WHERE outgoing = 1 AND state &lt; 2</c>), so every outbox query is served by it.
    /// </summary>
    public static readonly string InOutbox = $"outgoing = 1 AND state < {(int)MessageState.Delivered}";

    /// <summary>
    /// A received message its person has not seen yet: exactly the terms of the partial index
    /// <c>messages_unseen</c> (<c>WHERE state = 4</c>).
    /// </summary>
    public static readonly string Unseen = $"state = {(int)MessageState.Received}";

    /// <summary>
    /// The message IDs of the blob <c>$ids</c> (16 bytes each, one after another, the way a read
    /// receipt stores them), as the rows of <c>listed(at)</c>: one statement handles a whole batch
    /// of IDs, and the statement text is the same for any number of them, so it is prepared once.
    /// </summary>
    public const string ListedIds = """
        WITH RECURSIVE listed(at) AS (
            SELECT 1 WHERE length($ids) >= 16
            UNION ALL SELECT at + 16 FROM listed WHERE at + 31 <= length($ids))
        """;

    /// <summary>A row whose ID is one of <see cref="ListedIds"/>.</summary>
    public const string IsListed = "message_id IN (SELECT substr($ids, at, 16) FROM listed)";

    /// <summary>
    /// The outgoing messages among the listed ones move forward to <c>$state</c>, never back. The
    /// unary plus keeps SQLite from looking the rows up by conversation (it would then scan every
    /// message of it, once per batch): each listed ID is found through the unique index on
    /// <c>message_id</c>, and the conversation is only checked.
    /// </summary>
    public static readonly string Advance = $"""
        {ListedIds}
        UPDATE messages SET state = $state
        WHERE {IsListed} AND +contact_id = $contact AND outgoing = 1 AND state < $state
        RETURNING message_id
        """;

    /// <summary>A page of a conversation's outbox, in the order written, between two rows.</summary>
    public static readonly string Page = $"""
        SELECT {MessageLog.MessageColumns}, id FROM messages
        WHERE contact_id = $contact AND {InOutbox} AND id > $after AND id < $before
        ORDER BY id LIMIT $limit
        """;

    /// <summary>The row of a message of a conversation (where a sender's cursor stands).</summary>
    public const string RowOf = "SELECT id FROM messages WHERE message_id = $id AND contact_id = $contact";

    public static readonly string CountAll = $"SELECT count(*) FROM messages WHERE {InOutbox}";

    public static readonly string CountConversation = $"SELECT count(*) FROM messages WHERE contact_id = $contact AND {InOutbox}";

    /// <summary>
    /// The highest Lamport value of a conversation within the wire's bound: versions before the
    /// bound stored a peer's value as it came (up to 2^63 - 1), which would freeze the clock.
    /// </summary>
    public const string LastLamport = "SELECT coalesce(max(lamport), 0) FROM messages WHERE contact_id = $contact AND lamport <= $max";

    public const string Insert = """
        INSERT INTO messages (message_id, contact_id, outgoing, sent_at, received_at, state, body, lamport)
        VALUES ($id, $contact, 1, $sent, NULL, $queued, $body, $lamport)
        """;

    /// <summary>Every unseen message of a conversation becomes seen; their IDs go into a read receipt.</summary>
    public static readonly string MarkSeen = $"UPDATE messages SET state = $seen WHERE contact_id = $contact AND {Unseen} RETURNING message_id";

    public const string PendingReceipts = "SELECT envelope_id, message_ids FROM receipts WHERE contact_id = $contact ORDER BY id";

    public const string AddReceipt = "INSERT INTO receipts (envelope_id, contact_id, message_ids) VALUES ($envelope, $contact, $ids)";

    /// <summary>The receipts whose envelope IDs are listed (in <c>$ids</c>, like message IDs) are acknowledged.</summary>
    public const string AcknowledgeReceipts = $"""
        {ListedIds}
        DELETE FROM receipts WHERE envelope_id IN (SELECT substr($ids, at, 16) FROM listed)
        """;
}
