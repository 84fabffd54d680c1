using System.Diagnostics;
using System.Text;
using Microsoft.Data.Sqlite;
using SecureChat.Crypto;
using SecureChat.Protocol.Identity;
using SecureChat.Storage;

namespace SecureChat.Bench.Store;

/// <summary>
/// <c>flood_first_search_ms</c> and <c>flood_receive_indexed_ms</c>: the search index under a flood
/// of 600 texts of 16,000 bytes, each of about 1,450 words never seen before (870,000 new terms),
/// stored as the node's receive path stores them (<see cref="MessageLog.Receive"/>, 256 a batch).
/// <list type="bullet">
/// <item>First search: the flood arrives before any search, then a person searches (which builds
/// the index). Baseline: plaintext FTS5 made to index the same 600 texts, then queried.</item>
/// <item>Receiving with the index built (a search happened before the flood). Baseline: the same
/// flood received by a store whose index is not built, so the difference is the index's.</item>
/// </list>
/// </summary>
internal static class FloodFigures
{
    private const int Texts = 600;
    private const int WordsPerText = 1_450;

    public static IEnumerable<Figure> Run(string directory, TextWriter log)
    {
        var flood = Flood();
        using var dataKey = SecretBytes.Random(SecretBox.KeySize);
        using var self = LocalIdentity.Create("me", DateTimeOffset.UnixEpoch);
        using var peer = LocalIdentity.Create("peer", DateTimeOffset.UnixEpoch);

        var (plainReceive, firstSearch) = Receive(Path.Combine(directory, "cold"), dataKey, self.Account, peer.Account, flood, searchFirst: false);
        var (indexedReceive, _) = Receive(Path.Combine(directory, "warm"), dataKey, self.Account, peer.Account, flood, searchFirst: true);
        var fts = Fts5(Path.Combine(directory, "fts.db"), flood);
        log.WriteLine($"flood of {Texts} texts ({flood.Sum(t => t.Length):N0} characters): first search {firstSearch:F0} ms (FTS5 index and query {fts:F0} ms); "
            + $"received with the index built {indexedReceive:F0} ms, without {plainReceive:F0} ms");

        const string Described = "600 texts of 16,000 bytes, 870,000 words never seen before, received in batches of 256";
        return
        [
            new Figure("flood_first_search_ms", firstSearch, "ms", $"the first LocalStore.Search after a flood ({Described}), which builds the index from the sealed messages",
                BaselineKey: "flood_fts5_first_search_ms", Baseline: fts, BaselineUnit: "ms", BaselineWhat: "plaintext SQLite FTS5 indexing the same 600 texts in one transaction, then the same query"),
            new Figure("flood_receive_indexed_ms", indexedReceive, "ms", $"MessageLog.Receive of the flood ({Described}) with the search index built",
                BaselineKey: "flood_receive_unindexed_ms", Baseline: plainReceive, BaselineUnit: "ms", BaselineWhat: "the same flood received by a store whose index is not built"),
        ];
    }

    /// <summary>Stores the flood in a new store; returns how long that took and how long the first search after it took.</summary>
    private static (double ReceiveMs, double SearchMs) Receive(string home, SecretBytes dataKey, AccountId self, AccountId peer, List<string> flood, bool searchFirst)
    {
        using var store = LocalStore.Open(home, dataKey, self, TimeProvider.System);
        var contact = store.Contacts.Add(peer, "peer", null, DateTimeOffset.UnixEpoch);
        if (searchFirst)
        {
            store.Messages.Add(contact, MessageLog.NewId(), false, "a word before the flood", DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, MessageState.Received);
            store.Messages.Search("word", null, 20);
        }

        var start = DateTimeOffset.UtcNow;
        var messages = flood.Select((text, i) => new StoredMessage(MessageLog.NewId(), contact.Name, contact.Account, false, start.AddSeconds(i), start.AddSeconds(i), MessageState.Received, text)).ToList();
        var receiving = Stopwatch.StartNew();
        foreach (var batch in messages.Chunk(InsertFigures.ReceiveBatch))
        {
            store.Messages.Receive(contact, batch, null);
        }

        receiving.Stop();
        var searching = Stopwatch.StartNew();
        store.Messages.Search("zq", null, 20);
        return (receiving.Elapsed.TotalMilliseconds, searching.Elapsed.TotalMilliseconds);
    }

    private static double Fts5(string path, List<string> flood)
    {
        using var fts = new SqliteConnection($"Data Source={path};Pooling=False");
        fts.Open();
        using (var create = fts.CreateCommand())
        {
            create.CommandText = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; CREATE VIRTUAL TABLE f USING fts5(body, tokenize = 'unicode61 remove_diacritics 2');";
            create.ExecuteNonQuery();
        }

        var clock = Stopwatch.StartNew();
        using (var transaction = fts.BeginTransaction())
        using (var insert = fts.CreateCommand())
        {
            insert.Transaction = transaction;
            insert.CommandText = "INSERT INTO f (body) VALUES ($b)";
            var body = insert.Parameters.Add("$b", SqliteType.Text);
            foreach (var text in flood)
            {
                body.Value = text;
                insert.ExecuteNonQuery();
            }

            transaction.Commit();
        }

        using var query = fts.CreateCommand();
        query.CommandText = "SELECT rowid, body FROM f WHERE f MATCH '\"zq\"*' ORDER BY rowid DESC LIMIT 20";
        using var reader = query.ExecuteReader();
        while (reader.Read())
        {
            _ = reader.GetString(1);
        }

        return clock.Elapsed.TotalMilliseconds;
    }

    /// <summary>600 texts of ten-letter random words (fixed seed): as unique as words get.</summary>
    private static List<string> Flood()
    {
        var random = new Random(600);
        var texts = new List<string>(Texts);
        var text = new StringBuilder();
        for (var t = 0; t < Texts; t++)
        {
            text.Clear();
            for (var w = 0; w < WordsPerText; w++)
            {
                if (w > 0)
                {
                    text.Append(' ');
                }

                for (var c = 0; c < 10; c++)
                {
                    text.Append((char)('a' + random.Next(26)));
                }
            }

            texts.Add(text.ToString());
        }

        return texts;
    }
}
