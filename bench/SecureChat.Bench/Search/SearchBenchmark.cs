using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using SecureChat.Crypto;

namespace SecureChat.Bench.Search;

/// <summary>
/// Builds the three designs over one corpus, unlocks them, checks that they answer alike and times
/// the same query mix on each. Every loop is bounded in count and in time.
/// </summary>
public static class SearchBenchmark
{
    /// <summary>Conversation 20 is English (slot 0) and moderately busy.</summary>
    public const int ContactConversation = 20;

    private const int WarmupRounds = 3;
    private const int UnlockRuns = 3;
    private const int InsertCount = 100;
    private static readonly TimeSpan InsertBudget = TimeSpan.FromSeconds(10);

    /// <summary>The timed mix.</summary>
    public static IReadOnlyList<SearchQuery> Mix { get; } =
    [
        new("rare word", SyntheticCorpus.RareWord),
        new("common word", "the"),
        new("two words (AND)", "meet tomorrow"),
        new("3-letter prefix", "pho"),
        new("accents omitted", "manana"),
        new("Cyrillic", "привет"),
        new("common word, one contact", "the", ContactConversation),
    ];

    /// <summary>Checked for agreement only: where folding rules may differ from FTS5's.</summary>
    public static IReadOnlyList<SearchQuery> Probes { get; } =
    [
        new("upper case with accents", "ÜBER"),
        new("Greek, tonos omitted", "καλημερα"),
        new("Cyrillic ё typed as е", "елка"),
        new("Danish ø typed as o", "sondag"),
    ];

    public static SearchReport Run(SearchBenchOptions options, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(log);
        TextNormalizer.EnsureUnicodeNormalizationWorks();
        var directory = Directory.CreateTempSubdirectory("securechat-search-bench-");
        log.WriteLine($"Working in {directory.FullName}");
        try
        {
            return Run(options, log, directory.FullName);
        }
        finally
        {
            if (!options.Keep)
            {
                directory.Delete(recursive: true);
            }
        }
    }

    private static SearchReport Run(SearchBenchOptions options, TextWriter log, string directory)
    {
        var loadAtStart = LoadAverage();
        var argon = Argon2idParameters.Default;
        var clock = Stopwatch.StartNew();
        using var dataKey = PassphraseKdf.DeriveKey("correct horse battery staple"u8, new byte[PassphraseKdf.SaltSize], argon);
        var argonSeconds = clock.Elapsed.TotalSeconds;
        using var keys = SearchKeys.Derive(dataKey);
        var (secretBoxMicros, keptKeyMicros) = MeasureKeyImport(dataKey, keys);
        log.WriteLine($"Argon2id {argon.MemoryKiB / 1024} MiB x {argon.Passes}: {argonSeconds:F2} s; open via SecretBox {secretBoxMicros:F2} µs, kept key {keptKeyMicros:F2} µs");

        clock.Restart();
        var corpus = SyntheticCorpus.Generate(options.Messages);
        var corpusSeconds = clock.Elapsed.TotalSeconds;
        log.WriteLine($"Corpus: {corpus.Count:N0} messages, {corpusSeconds:F1} s");

        var pathA = Path.Combine(directory, "a-blinded.db");
        var pathB = Path.Combine(directory, "b-memory.db");
        var pathC = Path.Combine(directory, "c-fts5.db");

        clock.Restart();
        MemoryIndexStore.Build(pathB, corpus, keys);
        var loadB = clock.Elapsed.TotalSeconds;
        var sizeB = SqliteFiles.SizeOnDisk(pathB);
        log.WriteLine($"B loaded: {loadB:F1} s, {Mib(sizeB)}");

        // B is unlocked before anything else runs the tokenizer or the index, so that its first
        // unlock is as cold as in a fresh process, and without the corpus on the heap (an app
        // unlocking holds no such thing; a large live heap makes every collection slower). The
        // corpus is made again, identically, for the other designs.
        corpus = null;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var unlockB = MeasureUnlocks(log, "B", () => MemoryIndexStore.Unlock(pathB, keys, options.Threads));
        using var b = unlockB.Store;

        // Bs: the same index, sealed into the same file once, and read back at unlock instead of rebuilt.
        clock.Restart();
        var snapshotBytes = b.WriteSnapshot();
        var snapshotSeconds = clock.Elapsed.TotalSeconds;
        b.Checkpoint();
        var sizeBs = SqliteFiles.SizeOnDisk(pathB);
        log.WriteLine($"Bs snapshot written: {Mib(snapshotBytes)} in {snapshotSeconds:F2} s; file now {Mib(sizeBs)}");
        var unlockS = MeasureUnlocks(log, "Bs", () => MemoryIndexStore.UnlockFromSnapshot(pathB, keys, options.Threads)
            ?? throw new InvalidDataException("The snapshot just written does not open."));
        using var bs = unlockS.Store;

        corpus = SyntheticCorpus.Generate(options.Messages);
        var loadA = BlindedIndexStore.Build(pathA, corpus, keys, options.TokenBytes, options.MaxPrefix);
        log.WriteLine($"A loaded: messages {loadA.Messages.TotalSeconds:F1} s + postings {loadA.Postings.TotalSeconds:F1} s ({loadA.PostingRows:N0} rows, {loadA.DistinctTokens:N0} tokens), {Mib(SqliteFiles.SizeOnDisk(pathA))}");

        var loadC = FullTextStore.Build(pathC, corpus);
        log.WriteLine($"C loaded: {loadC.TotalSeconds:F1} s, {Mib(SqliteFiles.SizeOnDisk(pathC))}");

        var words = corpus.Texts.AsParallel().Sum(text => (long)TextNormalizer.Normalize(text).Count(c => c == ' ') + 1);
        var sweep = options.Sweep ? RunSweep(options, log, directory, corpus, keys) : null;
        var extra = SyntheticCorpus.Generate(InsertCount, SyntheticCorpus.DefaultSeed + 1);
        corpus = null;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);

        clock.Restart();
        using var a = BlindedIndexStore.Open(pathA, keys, options.TokenBytes, options.MaxPrefix);
        var unlockA = clock.Elapsed.TotalSeconds;
        clock.Restart();
        using var c = FullTextStore.Open(pathC);
        var unlockC = clock.Elapsed.TotalSeconds;
        var plan = a.ExplainTwoTermPlan();
        log.WriteLine($"A query plan: {plan}");

        // The baseline is last; ratios are to it.
        ISearchStore[] stores = [a, b, bs, c];
        string[] names = ["A", "B", "Bs", "C"];
        var firstQuery = stores.Select(store => TimeOne(store, Mix[0])).ToArray();
        var timings = stores.Select(store => TimeMix(store, options.Iterations, TimeSpan.FromSeconds(options.Seconds))).ToArray();
        for (var s = 0; s < stores.Length; s++)
        {
            log.WriteLine($"{names[s]}: {timings[s].All.Count} timed queries, median {Percentile(timings[s].All, 0.5):F3} ms, p99 {Percentile(timings[s].All, 0.99):F3} ms");
        }

        var queries = new List<QueryReport>();
        foreach (var (query, index) in Mix.Select((q, i) => (q, i)).Concat(Probes.Select(q => (q, -1))))
        {
            var results = stores.Select(store => store.Search(query).Select(hit => hit.MessageId).ToArray()).ToArray();
            var encryptedAgree = results[0].SequenceEqual(results[1]) && results[0].SequenceEqual(results[2]);
            queries.Add(new QueryReport(
                query.Label,
                query.Text,
                query.Conversation,
                index >= 0,
                [.. results.Select(r => r.Length)],
                index >= 0 ? [.. timings.Select(t => Percentile(t.PerQuery[index], 0.5))] : [],
                index >= 0 ? [.. timings.Select(t => Percentile(t.PerQuery[index], 0.99))] : [],
                encryptedAgree,
                encryptedAgree && results[0].SequenceEqual(results[3])));
        }

        // Bs shares B's file: its inserts go after B's, with later IDs.
        double[] inserts =
        [
            TimeInserts(a, extra, options.Messages),
            TimeInserts(b, extra, options.Messages),
            TimeInserts(bs, extra, options.Messages + InsertCount),
            TimeInserts(c, extra, options.Messages),
        ];

        var medianC = Percentile(timings[3].All, 0.5);
        var p99C = Percentile(timings[3].All, 0.99);
        DesignReport Design(int s, string name, double load, string detail, long size, double unlock, IReadOnlyList<double> runs, IReadOnlyList<double> cpu, long? managed, long? workingSet)
        {
            var median = Percentile(timings[s].All, 0.5);
            var p99 = Percentile(timings[s].All, 0.99);
            return new DesignReport(
                names[s], name, load, detail, size, unlock, runs, cpu, firstQuery[s],
                median, p99, median / medianC, p99 / p99C, timings[s].All.Count, managed, workingSet, inserts[s]);
        }

        return new SearchReport
        {
            Messages = options.Messages,
            Conversations = SyntheticCorpus.Conversations,
            Seed = $"0x{SyntheticCorpus.DefaultSeed:X}",
            Cores = Environment.ProcessorCount,
            Sqlite = SqliteVersion(pathC),
            Runtime = RuntimeInformation.FrameworkDescription,
            LoadAverageAtStart = loadAtStart,
            LoadAverageAtEnd = LoadAverage(),
            CorpusWords = words,
            CorpusSeconds = corpusSeconds,
            Argon2id = $"{argon.MemoryKiB / 1024} MiB, {argon.Passes} passes, 1 lane",
            Argon2idSeconds = argonSeconds,
            SecretBoxOpenMicros = secretBoxMicros,
            KeptKeyOpenMicros = keptKeyMicros,
            BlindedQueryPlan = plan,
            Queries = queries,
            Sweep = sweep,
            Designs =
            [
                Design(0, $"blinded index on disk ({options.TokenBytes}-byte tokens, prefixes 2..{options.MaxPrefix})",
                    loadA.Messages.TotalSeconds + loadA.Postings.TotalSeconds,
                    $"messages {loadA.Messages.TotalSeconds:F1} s + postings {loadA.Postings.TotalSeconds:F1} s, {loadA.PostingRows:N0} postings, {loadA.DistinctTokens:N0} tokens",
                    SqliteFiles.SizeOnDisk(pathA), unlockA, [unlockA], [], null, null),
                Design(1, $"in memory, rebuilt at unlock ({options.Threads} threads)", loadB, "sealed messages only", sizeB,
                    unlockB.Runs[0], unlockB.Runs, unlockB.Cpu, unlockB.ManagedBytes, unlockB.WorkingSet),
                Design(2, "in memory, from a sealed snapshot", loadB + snapshotSeconds,
                    $"B's load + sealing a {Mib(snapshotBytes)} snapshot in {snapshotSeconds:F2} s (size: B's file with the snapshot)", sizeBs,
                    unlockS.Runs[0], unlockS.Runs, unlockS.Cpu, unlockS.ManagedBytes, unlockS.WorkingSet),
                Design(3, "plaintext FTS5 (baseline)", loadC.TotalSeconds, "unicode61 remove_diacritics 2, optimized", SqliteFiles.SizeOnDisk(pathC), unlockC, [unlockC], [], null, null),
            ],
        };
    }

    private sealed record Unlocked(MemoryIndexStore Store, List<double> Runs, List<double> Cpu, long ManagedBytes, long WorkingSet);

    /// <summary>Unlocks <see cref="UnlockRuns"/> times, wall and CPU time each; the last store stays open and its heap is measured.</summary>
    private static Unlocked MeasureUnlocks(TextWriter log, string name, Func<MemoryIndexStore> unlock)
    {
        var runs = new List<double>();
        var cpuRuns = new List<double>();
        MemoryIndexStore? store = null;
        long managed = 0;
        for (var run = 0; run < UnlockRuns; run++)
        {
            store?.Dispose();
            store = null;
            var before = GC.GetTotalMemory(forceFullCollection: true);
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            store = unlock();
            runs.Add(clock.Elapsed.TotalSeconds);
            cpuRuns.Add((Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds);
            managed = GC.GetTotalMemory(forceFullCollection: true) - before;
            log.WriteLine($"{name} unlock {run + 1}: {runs[^1]:F2} s (CPU {cpuRuns[^1]:F2} s; {store.Index.TermCount:N0} words, {store.Index.PostingCount:N0} postings, {Mib(managed)} held)");
        }

        return new Unlocked(store!, runs, cpuRuns, managed, Environment.WorkingSet);
    }

    private static List<SweepRow> RunSweep(SearchBenchOptions options, TextWriter log, string directory, SyntheticCorpus corpus, SearchKeys keys)
    {
        var rows = new List<SweepRow>();
        (int Bytes, int Prefix)[] variants = [(8, 3), (8, 4), (8, 5), (8, 6), (8, 8), (8, 64), (12, options.MaxPrefix)];
        var longTerm = new SearchQuery("long rare word", SyntheticCorpus.RareWord);
        foreach (var (bytes, prefix) in variants)
        {
            var path = Path.Combine(directory, $"sweep-{bytes}-{prefix}.db");
            var load = BlindedIndexStore.Build(path, corpus, keys, bytes, prefix);
            var size = SqliteFiles.SizeOnDisk(path);
            SweepRow row;
            using (var store = BlindedIndexStore.Open(path, keys, bytes, prefix))
            {
                var timing = TimeMix(store, Math.Min(options.Iterations, 50), TimeSpan.FromSeconds(Math.Min(options.Seconds, 5)));
                var longTimes = new List<double>();
                for (var i = 0; i < 50; i++)
                {
                    longTimes.Add(TimeOne(store, longTerm));
                }

                row = new SweepRow(bytes, prefix, load.PostingRows, load.DistinctTokens, size, load.Postings.TotalSeconds,
                    Percentile(timing.All, 0.5), Percentile(timing.All, 0.99), Percentile(longTimes, 0.5));
            }

            rows.Add(row);
            log.WriteLine($"Sweep {bytes} B, prefixes 2..{prefix}: {row.PostingRows:N0} postings, {Mib(row.DatabaseBytes)}, postings load {row.PostingsLoadSeconds:F1} s, median {row.MedianMs:F3} ms, p99 {row.P99Ms:F3} ms, '{SyntheticCorpus.RareWord}' {row.LongTermMedianMs:F3} ms");
            foreach (var file in new[] { path, path + "-wal", path + "-shm" })
            {
                File.Delete(file);
            }
        }

        return rows;
    }

    private sealed record MixTimings(List<double> All, List<double>[] PerQuery);

    private static MixTimings TimeMix(ISearchStore store, int iterations, TimeSpan budget)
    {
        for (var round = 0; round < WarmupRounds; round++)
        {
            foreach (var query in Mix)
            {
                store.Search(query);
            }
        }

        GC.Collect();
        var all = new List<double>();
        var perQuery = Mix.Select(_ => new List<double>()).ToArray();
        var clock = Stopwatch.StartNew();
        for (var round = 0; round < iterations && clock.Elapsed < budget; round++)
        {
            for (var q = 0; q < Mix.Count; q++)
            {
                var ms = TimeOne(store, Mix[q]);
                all.Add(ms);
                perQuery[q].Add(ms);
            }
        }

        return new MixTimings(all, perQuery);
    }

    private static double TimeOne(ISearchStore store, SearchQuery query)
    {
        var start = Stopwatch.GetTimestamp();
        store.Search(query);
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    /// <summary>Median time to store one more message durably, index included.</summary>
    private static double TimeInserts(ISearchStore store, SyntheticCorpus extra, int existing)
    {
        var times = new List<double>();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < extra.Count && clock.Elapsed < InsertBudget; i++)
        {
            var start = Stopwatch.GetTimestamp();
            store.Add(existing + i + 1, extra.ConversationOf[i], extra.SentAtMs[i] + (1L << 40), extra.Texts[i]);
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }

        return Percentile(times, 0.5);
    }

    /// <summary>
    /// What importing the key on every call costs: <see cref="SecretBox.TryOpen"/> against the same
    /// AEAD through a key imported once, on a 100-byte body, bounded to 20,000 opens each.
    /// </summary>
    private static (double SecretBoxMicros, double KeptKeyMicros) MeasureKeyImport(SecretBytes dataKey, SearchKeys keys)
    {
        const int Opens = 20_000;
        var plaintext = Encoding.UTF8.GetBytes(new string('x', 100));
        var viaBox = SecretBox.Seal(dataKey.Span, "ad"u8, plaintext);
        var viaKey = keys.Seal(1, plaintext);
        var output = new byte[plaintext.Length];
        for (var i = 0; i < 1000; i++)
        {
            SecretBox.TryOpen(dataKey.Span, "ad"u8, viaBox)?.Dispose();
            keys.TryOpen(1, viaKey, output);
        }

        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < Opens; i++)
        {
            SecretBox.TryOpen(dataKey.Span, "ad"u8, viaBox)?.Dispose();
        }

        var box = Stopwatch.GetElapsedTime(start).TotalMicroseconds / Opens;
        start = Stopwatch.GetTimestamp();
        for (var i = 0; i < Opens; i++)
        {
            keys.TryOpen(1, viaKey, output);
        }

        var kept = Stopwatch.GetElapsedTime(start).TotalMicroseconds / Opens;
        return (box, kept);
    }

    /// <summary>Nearest-rank percentile; NaN for no samples.</summary>
    public static double Percentile(IReadOnlyList<double> samples, double p)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (samples.Count == 0)
        {
            return double.NaN;
        }

        var sorted = samples.Order().ToArray();
        var rank = (int)Math.Ceiling(p * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    private static string SqliteVersion(string path)
    {
        using var connection = SqliteFiles.Open(path, bulkLoad: false, readOnly: true);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT sqlite_version() || CASE WHEN sqlite_compileoption_used('ENABLE_FTS5') THEN ' (FTS5)' ELSE ' (no FTS5?)' END";
        return (string)command.ExecuteScalar()!;
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

    public static string Mib(long bytes) => $"{bytes / (1024.0 * 1024.0):F1} MiB";
}
