using System.Diagnostics;
using Microsoft.Data.Sqlite;

namespace SecureChat.Bench.Search;

/// <summary>
/// Design C, the baseline that leaks everything: a plaintext SQLite FTS5 table (tokenizer
/// <c>unicode61 remove_diacritics 2</c>, no prefix index), queried with <c>"term"*</c> per term and
/// <c>ORDER BY rowid DESC LIMIT 20</c>. It is what the other two are measured against.
/// </summary>
public sealed class FullTextStore : ISearchStore
{
    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _query;
    private readonly SqliteCommand _queryInConversation;

    private FullTextStore(SqliteConnection connection)
    {
        _connection = connection;
        _query = Prepare(connection, conversation: false);
        _queryInConversation = Prepare(connection, conversation: true);
    }

    /// <summary>Creates the database at <paramref name="path"/> and loads the corpus (fsync off during the load).</summary>
    public static TimeSpan Build(string path, SyntheticCorpus corpus)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        var clock = Stopwatch.StartNew();
        using var connection = SqliteFiles.Open(path, bulkLoad: true);
        SqliteFiles.Execute(connection, """
            CREATE VIRTUAL TABLE messages USING fts5(
              body, conversation UNINDEXED, sent_at UNINDEXED,
              tokenize = 'unicode61 remove_diacritics 2'
            );
            """);
        using var insert = connection.CreateCommand();
        insert.CommandText = "INSERT INTO messages (rowid, body, conversation, sent_at) VALUES ($id, $body, $conversation, $sent)";
        insert.Parameters.Add("$id", SqliteType.Integer);
        insert.Parameters.Add("$body", SqliteType.Text);
        insert.Parameters.Add("$conversation", SqliteType.Integer);
        insert.Parameters.Add("$sent", SqliteType.Integer);
        insert.Prepare();
        for (var start = 0; start < corpus.Count; start += SqliteFiles.RowsPerTransaction)
        {
            using var transaction = connection.BeginTransaction();
            insert.Transaction = transaction;
            var end = Math.Min(corpus.Count, start + SqliteFiles.RowsPerTransaction);
            for (var i = start; i < end; i++)
            {
                insert.Parameters[0].Value = i + 1;
                insert.Parameters[1].Value = corpus.Texts[i];
                insert.Parameters[2].Value = corpus.ConversationOf[i];
                insert.Parameters[3].Value = corpus.SentAtMs[i];
                insert.ExecuteNonQuery();
            }

            transaction.Commit();
        }

        // FTS5 keeps many small segments after a bulk load; merging them is part of loading.
        SqliteFiles.Execute(connection, "INSERT INTO messages (messages) VALUES ('optimize');");
        SqliteFiles.Checkpoint(connection);
        return clock.Elapsed;
    }

    public static FullTextStore Open(string path) => new(SqliteFiles.Open(path, bulkLoad: false));

    /// <summary>The FTS5 query for the terms: each one quoted, a prefix (<c>*</c>) unless one letter long.</summary>
    public static string MatchExpression(IReadOnlyList<string> terms)
    {
        ArgumentNullException.ThrowIfNull(terms);
        return string.Join(' ', terms.Select(term => "\"" + term.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" + (term.Length > 1 ? "*" : "")));
    }

    public IReadOnlyList<SearchHit> Search(SearchQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (query.Terms.Count == 0)
        {
            return [];
        }

        var command = query.Conversation is null ? _query : _queryInConversation;
        command.Parameters[0].Value = MatchExpression(query.Terms);
        if (query.Conversation is { } conversation)
        {
            command.Parameters[1].Value = conversation;
        }

        var hits = new List<SearchHit>(SearchQuery.Limit);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            hits.Add(new SearchHit(reader.GetInt64(0), reader.GetInt32(1), reader.GetInt64(2), reader.GetString(3)));
        }

        return hits;
    }

    public void Add(long messageId, int conversation, long sentAtMs, string text)
    {
        using var transaction = _connection.BeginTransaction();
        using var insert = _connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = "INSERT INTO messages (rowid, body, conversation, sent_at) VALUES ($id, $body, $conversation, $sent)";
        insert.Parameters.AddWithValue("$id", messageId);
        insert.Parameters.AddWithValue("$body", text);
        insert.Parameters.AddWithValue("$conversation", conversation);
        insert.Parameters.AddWithValue("$sent", sentAtMs);
        insert.ExecuteNonQuery();
        transaction.Commit();
    }

    public void Dispose()
    {
        _query.Dispose();
        _queryInConversation.Dispose();
        _connection.Dispose();
    }

    private static SqliteCommand Prepare(SqliteConnection connection, bool conversation)
    {
        var command = connection.CreateCommand();
        command.CommandText = "SELECT rowid, conversation, sent_at, body FROM messages WHERE messages MATCH $match"
            + (conversation ? " AND conversation = $conversation" : "")
            + $" ORDER BY rowid DESC LIMIT {SearchQuery.Limit}";
        command.Parameters.Add("$match", SqliteType.Text);
        if (conversation)
        {
            command.Parameters.Add("$conversation", SqliteType.Integer);
        }

        command.Prepare();
        return command;
    }
}
