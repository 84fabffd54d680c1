using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using SecureChat.Crypto;
using SecureChat.Protocol.Identity;
using SecureChat.Storage;

// The shipped store at scale: loads N messages through LocalStore, then measures unlock (a cold
// rebuild of the search index, and a load from its sealed snapshot) and the query mix, against a
// plaintext SQLite FTS5 table over the same texts, in the same run. Reports medians, p99 and ratios.
var messages = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100;
var directory = Path.Combine(Path.GetTempPath(), $"securechat-store-bench-{Environment.ProcessId}");
Directory.CreateDirectory(directory);
try
{
    Run(directory, messages, rounds);
}
finally
{
    Directory.Delete(directory, recursive: true);
}

static void Run(string directory, int count, int rounds)
{
    var home = Path.Combine(directory, "home");
    using var dataKey = SecretBytes.Random(SecretBox.KeySize);
    using var self = LocalIdentity.Create("me", DateTimeOffset.UnixEpoch);
    var corpus = new Corpus(seed: 2026);
    var stopwatch = Stopwatch.StartNew();
    using (var fts = new SqliteConnection($"Data Source={Path.Combine(directory, "fts.db")};Pooling=False"))
    using (var store = LocalStore.Open(home, dataKey, self.Account, TimeProvider.System))
    {
        fts.Open();
        Execute(fts, "PRAGMA journal_mode = WAL; CREATE VIRTUAL TABLE f USING fts5(body, tokenize = 'unicode61 remove_diacritics 2');");
        var contacts = Enumerable.Range(0, 200).Select(i =>
        {
            using var peer = LocalIdentity.Create("peer", DateTimeOffset.UnixEpoch);
            return store.Contacts.Add(peer.Account, $"peer {i}", null, DateTimeOffset.UnixEpoch);
        }).ToList();
        var start = DateTimeOffset.UtcNow.AddYears(-10);
        const int Batch = 10_000;
        for (var done = 0; done < count; done += Batch)
        {
            var texts = Enumerable.Range(0, Math.Min(Batch, count - done)).Select(_ => corpus.Line()).ToList();
            var contact = contacts[corpus.Conversation(contacts.Count)];
            store.Messages.AddRange(contact, texts.Select((text, i) => new StoredMessage(
                MessageLog.NewId(), contact.Name, contact.Account, i % 3 == 0, start.AddSeconds(done + i), null, MessageState.Received, text)));
            using var transaction = fts.BeginTransaction();
            using var insert = fts.CreateCommand();
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

        Execute(fts, "INSERT INTO f(f) VALUES('optimize');");
        Console.WriteLine($"loaded {count:N0} messages in {stopwatch.Elapsed.TotalSeconds:F1} s");
        stopwatch.Restart();
        store.Messages.BuildIndex();
        Console.WriteLine($"unlock, cold (index rebuilt from the sealed messages): {stopwatch.Elapsed.TotalMilliseconds:F0} ms");
    }

    // Closing wrote the sealed snapshot; this is the unlock a person sees from now on.
    var unlocks = new List<double>();
    for (var i = 0; i < 3; i++)
    {
        var unlock = Stopwatch.StartNew();
        using var reopened = LocalStore.Open(home, dataKey, self.Account, TimeProvider.System);
        reopened.Messages.BuildIndex();
        unlocks.Add(unlock.Elapsed.TotalMilliseconds);
    }

    Console.WriteLine($"unlock, from the sealed snapshot: {string.Join(" / ", unlocks.Select(u => $"{u:F0} ms"))} (3 runs)");
    using var storeForQueries = LocalStore.Open(home, dataKey, self.Account, TimeProvider.System);
    storeForQueries.Messages.BuildIndex();
    using var baseline = new SqliteConnection($"Data Source={Path.Combine(directory, "fts.db")};Pooling=False");
    baseline.Open();
    string[] queries = ["dentist", "the", "meet tomorrow", "pho", "manana", "привет"];
    var ours = new List<double>();
    var theirs = new List<double>();
    Console.WriteLine($"{"query",-16} {"store median",12} {"store p99",10} {"FTS5 median",12} {"FTS5 p99",10} {"ratio",7}");
    foreach (var query in queries)
    {
        var a = new List<double>();
        var b = new List<double>();
        var budget = Stopwatch.StartNew();
        for (var round = 0; round < rounds && budget.Elapsed < TimeSpan.FromSeconds(20); round++)
        {
            var t = Stopwatch.StartNew();
            var found = storeForQueries.Messages.Search(query, null, 20);
            a.Add(t.Elapsed.TotalMilliseconds);
            t.Restart();
            var baselineFound = Fts(baseline, query);
            b.Add(t.Elapsed.TotalMilliseconds);
            if (round == 0 && found.Count != baselineFound)
            {
                Console.WriteLine($"  note: '{query}' found {found.Count} in the store, {baselineFound} in FTS5");
            }
        }

        ours.AddRange(a);
        theirs.AddRange(b);
        Console.WriteLine($"{query,-16} {Median(a),10:F2}ms {P99(a),8:F2}ms {Median(b),10:F2}ms {P99(b),8:F2}ms {Median(a) / Median(b),7:F2}");
    }

    Console.WriteLine($"{"all queries",-16} {Median(ours),10:F2}ms {P99(ours),8:F2}ms {Median(theirs),10:F2}ms {P99(theirs),8:F2}ms {Median(ours) / Median(theirs),7:F2}");
    Console.WriteLine($"load average: {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
}

static int Fts(SqliteConnection connection, string query)
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

static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

static double P99(List<double> values) => values.Order().ElementAt(Math.Min(values.Count - 1, (int)Math.Ceiling(values.Count * 0.99) - 1));

static void Execute(SqliteConnection connection, string sql)
{
    using var command = connection.CreateCommand();
    command.CommandText = sql;
    command.ExecuteNonQuery();
}

/// <summary>A deterministic chat corpus: Zipf-distributed words from a mixed vocabulary, several scripts.</summary>
internal sealed class Corpus(int seed)
{
    private static readonly string[] Common =
    [
        "the", "I", "you", "to", "a", "and", "it", "is", "that", "of", "meet", "tomorrow", "phone", "photo", "dentist",
        "mañana", "café", "über", "straße", "привет", "спасибо", "καλημέρα", "ευχαριστώ", "søndag", "zażółć", "ok", "lol",
    ];

    private readonly Random _random = new(seed);
    private readonly string[] _vocabulary = Build(seed);

    public string Line()
    {
        var words = 3 + (int)(22 * Math.Pow(_random.NextDouble(), 2));
        return string.Join(' ', Enumerable.Range(0, words).Select(_ => Word()));
    }

    public int Conversation(int count) => (int)(count * Math.Pow(_random.NextDouble(), 2));

    private string Word()
    {
        // Zipf-like: rank ~ u^3 over the vocabulary; the common words dominate.
        var rank = (int)(_vocabulary.Length * Math.Pow(_random.NextDouble(), 3));
        var word = _vocabulary[Math.Min(rank, _vocabulary.Length - 1)];
        return _random.Next(20) == 0 ? char.ToUpperInvariant(word[0]) + word[1..] : word;
    }

    private static string[] Build(int seed)
    {
        var random = new Random(seed + 1);
        const string Syllables = "ka,ri,mo,te,lu,sa,ne,po,vi,da,ré,ün,øy,ja,ше,ла,ко,μα,τα,ση";
        var parts = Syllables.Split(',');
        var invented = Enumerable.Range(0, 40_000).Select(_ => string.Concat(Enumerable.Range(0, 2 + random.Next(3)).Select(_ => parts[random.Next(parts.Length)])));
        return [.. Common, .. invented];
    }
}
