using System.Diagnostics;
using Microsoft.Data.Sqlite;
using SecureChat.Crypto;
using SecureChat.Protocol.Identity;
using SecureChat.Storage;

namespace SecureChat.Bench.Store;

/// <summary>
/// <c>search_p50_ms_1m</c> and <c>search_p99_ms_1m</c>: the shipped store at scale. Loads the
/// messages through <see cref="LocalStore"/> (AddRange, 10,000 per transaction, the store's own
/// settings: WAL, synchronous=FULL), then measures unlock (a cold rebuild of the search index, and
/// a load from its sealed snapshot) and the query mix, against a plaintext SQLite FTS5 table over
/// the same texts, queried in the same rounds.
/// </summary>
internal static class SearchFigures
{
    public const int FullScale = 1_000_000;
    private const int Batch = 10_000;
    private static readonly string[] Queries = ["dentist", "the", "meet tomorrow", "pho", "manana", "привет"];

    public static IEnumerable<Figure> Run(string directory, int count, int rounds, TimeSpan budgetPerQuery, bool quick, TextWriter log)
    {
        var home = Path.Combine(directory, "home");
        var ftsPath = Path.Combine(directory, "fts.db");
        using var dataKey = SecretBytes.Random(SecretBox.KeySize);
        using var self = LocalIdentity.Create("me", DateTimeOffset.UnixEpoch);
        Load(home, ftsPath, dataKey, self.Account, count, log);

        // Closing wrote the sealed snapshot; this is the unlock a person sees from now on.
        var unlocks = new List<double>();
        for (var i = 0; i < 3; i++)
        {
            var unlock = Stopwatch.StartNew();
            using var reopened = LocalStore.Open(home, dataKey, self.Account, TimeProvider.System);
            reopened.Messages.BuildIndex();
            unlocks.Add(unlock.Elapsed.TotalMilliseconds);
        }

        log.WriteLine($"unlock, from the sealed snapshot: {string.Join(" / ", unlocks.Select(u => $"{u:F0} ms"))} (3 runs)");
        using var store = LocalStore.Open(home, dataKey, self.Account, TimeProvider.System);
        store.Messages.BuildIndex();
        using var fts = new SqliteConnection($"Data Source={ftsPath};Pooling=False");
        fts.Open();

        // One untimed pass: the JIT and both caches, outside the measurement.
        foreach (var query in Queries)
        {
            var found = store.Messages.Search(query, null, 20).Count;
            var baselineFound = Fts(fts, query);
            if (found != baselineFound)
            {
                log.WriteLine($"  note: '{query}' found {found} in the store, {baselineFound} in FTS5");
            }
        }

        var ours = new List<double>();
        var theirs = new List<double>();
        log.WriteLine($"{"query",-16} {"store median",12} {"store p99",10} {"FTS5 median",12} {"FTS5 p99",10} {"ratio",7}");
        foreach (var query in Queries)
        {
            var a = new List<double>();
            var b = new List<double>();
            var budget = Stopwatch.StartNew();
            for (var round = 0; round < rounds && budget.Elapsed < budgetPerQuery; round++)
            {
                var t = Stopwatch.StartNew();
                store.Messages.Search(query, null, 20);
                a.Add(t.Elapsed.TotalMilliseconds);
                t.Restart();
                Fts(fts, query);
                b.Add(t.Elapsed.TotalMilliseconds);
            }

            ours.AddRange(a);
            theirs.AddRange(b);
            log.WriteLine(Row(query, a, b));
        }

        log.WriteLine(Row("all queries", ours, theirs));
        log.WriteLine($"{ours.Count} timed searches each; load average: {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");

        var what = $"LocalStore.Search (newest 20) over {count:N0} sealed messages, 6-query mix, index from its sealed snapshot";
        const string BaselineWhat = "plaintext SQLite FTS5 (unicode61, prefix MATCH, newest 20) over the same texts and queries";
        var note = count == FullScale ? null : $"{(quick ? "quick run: " : "")}{count:N0} messages, not {FullScale:N0}";
        return
        [
            new Figure("search_p50_ms_1m", Stats.Median(ours), "ms", $"median of {what}",
                Target: "≤ 50", BaselineKey: "search_fts5_p50_ms_1m", Baseline: Stats.Median(theirs), BaselineUnit: "ms", BaselineWhat: $"median of {BaselineWhat}", Note: note),
            new Figure("search_p99_ms_1m", Stats.Percentile(ours, 99), "ms", $"99th percentile of {what}",
                BaselineKey: "search_fts5_p99_ms_1m", Baseline: Stats.Percentile(theirs, 99), BaselineUnit: "ms", BaselineWhat: $"99th percentile of {BaselineWhat}", Note: note),
        ];
    }

    /// <summary>
    /// Stores <paramref name="count"/> messages in a new store and the same texts in an FTS5 table,
    /// closes the store (which writes the index snapshot) and reports where the time went.
    /// </summary>
    private static void Load(string home, string ftsPath, SecretBytes dataKey, AccountId self, int count, TextWriter log)
    {
        var corpus = new Corpus(seed: 2026);
        var written = WrittenBytes();
        var total = Stopwatch.StartNew();
        var generating = new Stopwatch();
        var storing = new Stopwatch();
        var indexing = new Stopwatch();
        using var fts = new SqliteConnection($"Data Source={ftsPath};Pooling=False");
        using var store = LocalStore.Open(home, dataKey, self, TimeProvider.System);
        fts.Open();
        Execute(fts, "PRAGMA journal_mode = WAL; CREATE VIRTUAL TABLE f USING fts5(body, tokenize = 'unicode61 remove_diacritics 2');");
        var contacts = Enumerable.Range(0, 200).Select(i =>
        {
            using var peer = LocalIdentity.Create("peer", DateTimeOffset.UnixEpoch);
            return store.Contacts.Add(peer.Account, $"peer {i}", null, DateTimeOffset.UnixEpoch);
        }).ToList();
        var start = DateTimeOffset.UtcNow.AddYears(-10);
        for (var done = 0; done < count; done += Batch)
        {
            generating.Start();
            var texts = Enumerable.Range(0, Math.Min(Batch, count - done)).Select(_ => corpus.Line()).ToList();
            var contact = contacts[corpus.Conversation(contacts.Count)];
            var messages = texts.Select((text, i) => new StoredMessage(
                MessageLog.NewId(), contact.Name, contact.Account, i % 3 == 0, start.AddSeconds(done + i), null, MessageState.Received, text)).ToList();
            generating.Stop();
            storing.Start();
            store.Messages.AddRange(contact, messages);
            storing.Stop();
            indexing.Start();
            using (var transaction = fts.BeginTransaction())
            using (var insert = fts.CreateCommand())
            {
                insert.Transaction = transaction;
                insert.CommandText = "INSERT INTO f (body) VALUES ($b)";
                var body = insert.Parameters.Add("$b", SqliteType.Text);
                foreach (var text in texts)
                {
                    body.Value = text;
                    insert.ExecuteNonQuery();
                }

                transaction.Commit();
            }

            indexing.Stop();
            if ((done / Batch) % 10 == 9)
            {
                log.WriteLine($"  {done + Batch:N0} loaded after {total.Elapsed.TotalSeconds:F0} s (store {storing.Elapsed.TotalSeconds:F0} s, FTS5 {indexing.Elapsed.TotalSeconds:F0} s, {(WrittenBytes() - written) / 1048576.0:N0} MiB written)");
            }
        }

        var optimizing = Stopwatch.StartNew();
        Execute(fts, "INSERT INTO f(f) VALUES('optimize');");
        optimizing.Stop();
        log.WriteLine($"loaded {count:N0} messages in {total.Elapsed.TotalSeconds:F1} s: generating texts {generating.Elapsed.TotalSeconds:F1} s, "
            + $"store AddRange {storing.Elapsed.TotalSeconds:F1} s ({count / storing.Elapsed.TotalSeconds:N0}/s), FTS5 inserts {indexing.Elapsed.TotalSeconds:F1} s, FTS5 optimize {optimizing.Elapsed.TotalSeconds:F1} s; "
            + $"{(WrittenBytes() - written) / 1048576.0:N0} MiB written to disk");
        var cold = Stopwatch.StartNew();
        store.Messages.BuildIndex();
        log.WriteLine($"unlock, cold (index rebuilt from the sealed messages): {cold.Elapsed.TotalMilliseconds:F0} ms");
        log.WriteLine($"database {new FileInfo(Path.Combine(home, LocalStore.FileName)).Length / 1048576.0:F0} MiB, FTS5 {new FileInfo(ftsPath).Length / 1048576.0:F0} MiB");
    }

    /// <summary>What this process has caused to be written to storage so far (/proc/self/io).</summary>
    private static long WrittenBytes() =>
        long.Parse(File.ReadLines("/proc/self/io").First(l => l.StartsWith("write_bytes:", StringComparison.Ordinal))["write_bytes:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);

    private static string Row(string label, List<double> store, List<double> fts) =>
        $"{label,-16} {Stats.Median(store),10:F2}ms {Stats.Percentile(store, 99),8:F2}ms {Stats.Median(fts),10:F2}ms {Stats.Percentile(fts, 99),8:F2}ms {Stats.Median(store) / Stats.Median(fts),7:F2}";

    /// <summary>The plaintext baseline: each word as a prefix, newest 20, texts read as the store's search returns them.</summary>
    private static int Fts(SqliteConnection connection, string query)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT rowid, body FROM f WHERE f MATCH $q ORDER BY rowid DESC LIMIT 20";
        command.Parameters.AddWithValue("$q", string.Join(' ', query.Split(' ').Select(w => $"\"{w}\"*")));
        using var reader = command.ExecuteReader();
        var n = 0;
        while (reader.Read())
        {
            _ = reader.GetString(1);
            n++;
        }

        return n;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
