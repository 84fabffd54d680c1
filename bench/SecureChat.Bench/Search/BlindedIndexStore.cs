using System.Diagnostics;
using Microsoft.Data.Sqlite;

namespace SecureChat.Bench.Search;

/// <summary>
/// Design A: the index lives on disk, blinded. Besides the sealed messages, a postings table maps
/// each blinded token to the IDs of the messages indexed under it. A query looks up one token per
/// term, intersects in SQL newest first, and opens candidates one by one until
/// <see cref="SearchQuery.Limit"/> of them really match (removing token collisions and the false
/// positives of terms longer than the longest indexed prefix).
/// </summary>
public sealed class BlindedIndexStore : ISearchStore
{
    /// <summary>Postings are inserted this many rows per transaction (in token order).</summary>
    public const int PostingsPerTransaction = 100_000;

    /// <summary>Candidates opened per query at most: a bound, not a limit ever reached in the mix.</summary>
    public const int MaxCandidates = 200_000;

    private const int RowsPerInsert = 64;

    private readonly SqliteConnection _connection;
    private readonly SearchKeys _keys;
    private readonly BlindTokenizer _tokenizer;
    private readonly Dictionary<(int Terms, bool Conversation), SqliteCommand> _queries = [];
    private readonly SqliteCommand _estimate;
    private readonly byte[] _bytes = new byte[4096];
    private byte[] _plain = new byte[4096];
    private char[] _normalized = [];

    private BlindedIndexStore(SqliteConnection connection, SearchKeys keys, BlindTokenizer tokenizer)
    {
        _connection = connection;
        _keys = keys;
        _tokenizer = tokenizer;
        _estimate = connection.CreateCommand();
        _estimate.CommandText = $"SELECT count(*) FROM (SELECT 1 FROM postings WHERE token = $token LIMIT {EstimateCap})";
        _estimate.Parameters.Add("$token", SqliteType.Blob);
        _estimate.Prepare();
    }

    /// <summary>Posting counts are estimated up to this many when choosing which term drives the intersection.</summary>
    private const int EstimateCap = 4096;

    /// <summary>What loading the corpus cost.</summary>
    public sealed record LoadReport(TimeSpan Messages, TimeSpan Postings, long PostingRows, long DistinctTokens);

    /// <summary>Creates the database at <paramref name="path"/> and loads the corpus (fsync off during the load).</summary>
    public static LoadReport Build(string path, SyntheticCorpus corpus, SearchKeys keys, int tokenBytes, int maxPrefix)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentNullException.ThrowIfNull(keys);
        using var connection = SqliteFiles.Open(path, bulkLoad: true);
        SqliteFiles.CreateSealedMessages(connection);
        SqliteFiles.Execute(connection, """
            CREATE TABLE postings (
              token BLOB NOT NULL,
              message INTEGER NOT NULL,
              PRIMARY KEY (token, message)
            ) WITHOUT ROWID;
            """);

        var clock = Stopwatch.StartNew();
        SqliteFiles.LoadSealedMessages(connection, corpus, keys);
        var messagesTime = clock.Elapsed;

        // Postings: gathered per token in memory (message IDs arrive in increasing order), then
        // written in token order, so SQLite appends to its B-tree instead of splitting pages all over.
        clock.Restart();
        var tokenizer = new BlindTokenizer(keys.Index, tokenBytes, maxPrefix);
        var postings = new Dictionary<BlindToken, List<int>>();
        var tokens = new HashSet<BlindToken>();
        char[] scratch = [];
        for (var i = 0; i < corpus.Count; i++)
        {
            tokenizer.TokensOf(TextNormalizer.Normalize(corpus.Texts[i], ref scratch), tokens);
            foreach (var token in tokens)
            {
                if (!postings.TryGetValue(token, out var list))
                {
                    postings[token] = list = [];
                }

                list.Add(i + 1);
            }
        }

        var ordered = postings.Keys.ToArray();
        Array.Sort(ordered);
        var rows = WritePostings(connection, ordered, postings, tokenBytes);
        SqliteFiles.Checkpoint(connection);
        return new LoadReport(messagesTime, clock.Elapsed, rows, ordered.Length);
    }

    /// <summary>Opens the store: nothing to build, only statements to prepare.</summary>
    public static BlindedIndexStore Open(string path, SearchKeys keys, int tokenBytes, int maxPrefix)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var connection = SqliteFiles.Open(path, bulkLoad: false);
        return new BlindedIndexStore(connection, keys, new BlindTokenizer(keys.Index, tokenBytes, maxPrefix));
    }

    public IReadOnlyList<SearchHit> Search(SearchQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        var terms = query.Terms;
        if (terms.Count == 0)
        {
            return [];
        }

        // The term with the fewest postings drives: its list is walked newest first, the others probed.
        var tokens = terms.Select(term => _tokenizer.QueryToken(term).ToBytes(_tokenizer.TokenBytes)).ToArray();
        if (tokens.Length > 1)
        {
            tokens = [.. tokens.OrderBy(EstimatePostings)];
        }

        var command = QueryCommand(tokens.Length, query.Conversation is not null);
        for (var t = 0; t < tokens.Length; t++)
        {
            command.Parameters[t].Value = tokens[t];
        }

        if (query.Conversation is { } conversation)
        {
            command.Parameters[tokens.Length].Value = conversation;
        }

        var hits = new List<SearchHit>(SearchQuery.Limit);
        using var reader = command.ExecuteReader();
        for (var candidates = 0; hits.Count < SearchQuery.Limit && candidates < MaxCandidates && reader.Read(); candidates++)
        {
            var id = reader.GetInt64(0);
            var text = OpenBody(id, reader);
            var normalized = TextNormalizer.Normalize(text, ref _normalized);
            if (TextNormalizer.MatchesAll(normalized, terms))
            {
                hits.Add(new SearchHit(id, reader.GetInt32(1), reader.GetInt64(2), text));
            }
        }

        return hits;
    }

    public void Add(long messageId, int conversation, long sentAtMs, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        using var transaction = _connection.BeginTransaction();
        using (var insert = SqliteFiles.PrepareInsertSealed(_connection))
        {
            insert.Transaction = transaction;
            SqliteFiles.InsertSealed(insert, _keys, _bytes, messageId, conversation, sentAtMs, text);
        }

        using var posting = _connection.CreateCommand();
        posting.Transaction = transaction;
        posting.CommandText = "INSERT OR IGNORE INTO postings (token, message) VALUES ($token, $message)";
        posting.Parameters.Add("$token", SqliteType.Blob);
        posting.Parameters.Add("$message", SqliteType.Integer).Value = messageId;
        var tokens = new HashSet<BlindToken>();
        _tokenizer.TokensOf(TextNormalizer.Normalize(text, ref _normalized), tokens);
        foreach (var token in tokens)
        {
            posting.Parameters[0].Value = token.ToBytes(_tokenizer.TokenBytes);
            posting.ExecuteNonQuery();
        }

        transaction.Commit();
    }

    /// <summary>The query plan SQLite chose for a two-term search (for the report: it must walk the index, not sort).</summary>
    public string ExplainTwoTermPlan()
    {
        using var explain = _connection.CreateCommand();
        explain.CommandText = "EXPLAIN QUERY PLAN " + QuerySql(2, conversation: false);
        explain.Parameters.AddWithValue("$t0", new byte[_tokenizer.TokenBytes]);
        explain.Parameters.AddWithValue("$t1", new byte[_tokenizer.TokenBytes]);
        using var reader = explain.ExecuteReader();
        var lines = new List<string>();
        while (reader.Read())
        {
            lines.Add(reader.GetString(3));
        }

        return string.Join("; ", lines);
    }

    public void Dispose()
    {
        foreach (var command in _queries.Values)
        {
            command.Dispose();
        }

        _estimate.Dispose();
        _connection.Dispose();
    }

    private static long WritePostings(SqliteConnection connection, BlindToken[] ordered, Dictionary<BlindToken, List<int>> postings, int tokenBytes)
    {
        using var single = connection.CreateCommand();
        single.CommandText = "INSERT INTO postings (token, message) VALUES ($token, $m0)";
        single.Parameters.Add("$token", SqliteType.Blob);
        single.Parameters.Add("$m0", SqliteType.Integer);
        single.Prepare();

        // Many rows per statement with one token parameter: far fewer calls into SQLite per row.
        using var batch = connection.CreateCommand();
        batch.CommandText = "INSERT INTO postings (token, message) VALUES "
            + string.Join(", ", Enumerable.Range(0, RowsPerInsert).Select(r => $"($token, $m{r})"));
        batch.Parameters.Add("$token", SqliteType.Blob);
        for (var r = 0; r < RowsPerInsert; r++)
        {
            batch.Parameters.Add($"$m{r}", SqliteType.Integer);
        }

        batch.Prepare();

        long rows = 0;
        long rowsInTransaction = 0;
        var transaction = connection.BeginTransaction();
        try
        {
            foreach (var token in ordered)
            {
                var bytes = token.ToBytes(tokenBytes);
                var messages = postings[token];
                single.Parameters[0].Value = bytes;
                batch.Parameters[0].Value = bytes;
                var index = 0;
                for (; index + RowsPerInsert <= messages.Count; index += RowsPerInsert)
                {
                    for (var r = 0; r < RowsPerInsert; r++)
                    {
                        batch.Parameters[r + 1].Value = messages[index + r];
                    }

                    batch.Transaction = transaction;
                    batch.ExecuteNonQuery();
                }

                for (; index < messages.Count; index++)
                {
                    single.Parameters[1].Value = messages[index];
                    single.Transaction = transaction;
                    single.ExecuteNonQuery();
                }

                rows += messages.Count;
                rowsInTransaction += messages.Count;
                if (rowsInTransaction >= PostingsPerTransaction)
                {
                    transaction.Commit();
                    transaction.Dispose();
                    transaction = connection.BeginTransaction();
                    rowsInTransaction = 0;
                }
            }

            transaction.Commit();
        }
        finally
        {
            transaction.Dispose();
        }

        return rows;
    }

    private static string QuerySql(int terms, bool conversation)
    {
        var probes = string.Concat(Enumerable.Range(1, terms - 1).Select(t =>
            $" AND EXISTS (SELECT 1 FROM postings p{t} WHERE p{t}.token = $t{t} AND p{t}.message = p0.message)"));
        return "SELECT m.id, m.conversation, m.sent_at, m.body FROM postings p0 JOIN messages m ON m.id = p0.message"
            + " WHERE p0.token = $t0" + probes
            + (conversation ? " AND m.conversation = $conversation" : "")
            + " ORDER BY p0.message DESC";
    }

    private long EstimatePostings(byte[] token)
    {
        _estimate.Parameters[0].Value = token;
        return (long)_estimate.ExecuteScalar()!;
    }

    private SqliteCommand QueryCommand(int terms, bool conversation)
    {
        if (!_queries.TryGetValue((terms, conversation), out var command))
        {
            command = _connection.CreateCommand();
            command.CommandText = QuerySql(terms, conversation);
            for (var t = 0; t < terms; t++)
            {
                command.Parameters.Add($"$t{t}", SqliteType.Blob);
            }

            if (conversation)
            {
                command.Parameters.Add("$conversation", SqliteType.Integer);
            }

            command.Prepare();
            _queries[(terms, conversation)] = command;
        }

        return command;
    }

    private string OpenBody(long id, SqliteDataReader reader) =>
        SqliteFiles.OpenBody(_keys, id, reader.GetFieldValue<byte[]>(3), ref _plain);
}
