namespace SecureChat.Bench.Search;

/// <summary>Everything one run of the search benchmark measured; printed as a table or as JSON.</summary>
public sealed record SearchReport
{
    public required int Messages { get; init; }

    public required int Conversations { get; init; }

    public required string Seed { get; init; }

    public required int Cores { get; init; }

    public required string Sqlite { get; init; }

    public required string Runtime { get; init; }

    /// <summary>/proc/loadavg when the run started and when it ended: other work on the machine skews every number.</summary>
    public required string LoadAverageAtStart { get; init; }

    public required string LoadAverageAtEnd { get; init; }

    public required long CorpusWords { get; init; }

    public required double CorpusSeconds { get; init; }

    public required string Argon2id { get; init; }

    public required double Argon2idSeconds { get; init; }

    /// <summary>Opening one ~100-byte body through SecretBox (key imported per call) vs a kept key, in µs.</summary>
    public required double SecretBoxOpenMicros { get; init; }

    public required double KeptKeyOpenMicros { get; init; }

    public required IReadOnlyList<DesignReport> Designs { get; init; }

    public required IReadOnlyList<QueryReport> Queries { get; init; }

    public required string BlindedQueryPlan { get; init; }

    public IReadOnlyList<SweepRow>? Sweep { get; init; }
}

/// <param name="Key">A, B, Bs or C.</param>
/// <param name="Name">What the design is.</param>
/// <param name="LoadSeconds">Loading the corpus into its file (fsync off).</param>
/// <param name="LoadDetail">What the load time is made of.</param>
/// <param name="DatabaseBytes">The file's size after a checkpoint.</param>
/// <param name="UnlockSeconds">From the data key to the first query possible: the first unlock in the process.</param>
/// <param name="UnlockRuns">Each unlock, in seconds, first one first.</param>
/// <param name="UnlockCpuRuns">The CPU time (all threads) of each unlock, in seconds.</param>
/// <param name="FirstQueryMs">The first query after unlock (cold statements, warm OS cache).</param>
/// <param name="MedianMs">Median over every timed query of the mix.</param>
/// <param name="P99Ms">99th percentile (nearest rank) over the same.</param>
/// <param name="MedianToBaseline">MedianMs / the baseline's MedianMs, same run.</param>
/// <param name="P99ToBaseline">P99Ms / the baseline's P99Ms, same run.</param>
/// <param name="Samples">Timed queries.</param>
/// <param name="IndexManagedBytes">Managed heap held after unlock (GC.GetTotalMemory), in-memory designs only.</param>
/// <param name="WorkingSetBytes">Process working set after unlock, in-memory designs only.</param>
/// <param name="InsertMedianMs">Storing one more message durably (synchronous = FULL), median.</param>
public sealed record DesignReport(
    string Key,
    string Name,
    double LoadSeconds,
    string LoadDetail,
    long DatabaseBytes,
    double UnlockSeconds,
    IReadOnlyList<double> UnlockRuns,
    IReadOnlyList<double> UnlockCpuRuns,
    double FirstQueryMs,
    double MedianMs,
    double P99Ms,
    double MedianToBaseline,
    double P99ToBaseline,
    int Samples,
    long? IndexManagedBytes,
    long? WorkingSetBytes,
    double InsertMedianMs);

/// <param name="Label">What the query stands for.</param>
/// <param name="Text">What is typed.</param>
/// <param name="Conversation">The conversation it is limited to, if any.</param>
/// <param name="Timed">In the timed mix, or only checked for agreement.</param>
/// <param name="Hits">Results per design (A, B, Bs, C), at most 20.</param>
/// <param name="MedianMs">Median per design (A, B, Bs, C); empty when not timed.</param>
/// <param name="P99Ms">99th percentile per design (A, B, Bs, C); empty when not timed.</param>
/// <param name="EncryptedDesignsAgree">A, B and Bs return the same messages in the same order.</param>
/// <param name="AgreesWithBaseline">And so does C.</param>
public sealed record QueryReport(
    string Label,
    string Text,
    int? Conversation,
    bool Timed,
    IReadOnlyList<int> Hits,
    IReadOnlyList<double> MedianMs,
    IReadOnlyList<double> P99Ms,
    bool EncryptedDesignsAgree,
    bool AgreesWithBaseline);

/// <summary>One variant of design A in the sweep.</summary>
public sealed record SweepRow(
    int TokenBytes,
    int MaxPrefix,
    long PostingRows,
    long DistinctTokens,
    long DatabaseBytes,
    double PostingsLoadSeconds,
    double MedianMs,
    double P99Ms,
    double LongTermMedianMs);
