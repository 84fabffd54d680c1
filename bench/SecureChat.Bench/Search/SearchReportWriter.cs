using System.Globalization;
using System.Text.Json;

namespace SecureChat.Bench.Search;

/// <summary>Prints a <see cref="SearchReport"/> as a table for people or as JSON for machines.</summary>
public static class SearchReportWriter
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    public static void WriteJson(SearchReport report, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        output.WriteLine(JsonSerializer.Serialize(report, JsonOptions));
    }

    public static void WriteTable(SearchReport report, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(output);
        var c = CultureInfo.InvariantCulture;
        output.WriteLine();
        Line(output, $"Search benchmark: {report.Messages:N0} messages ({report.CorpusWords:N0} words), {report.Conversations} conversations, seed {report.Seed}");
        Line(output, $"{report.Cores} cores, {report.Runtime}, SQLite {report.Sqlite}; Argon2id ({report.Argon2id}) {report.Argon2idSeconds:F2} s, not counted in unlock");
        Line(output, $"Load average (1, 5, 15 min) at start {report.LoadAverageAtStart}, at end {report.LoadAverageAtEnd}");
        output.WriteLine();
        output.WriteLine("design                                        load s   DB MiB  unlock s  q p50 ms  q p99 ms  p50/C  p99/C  insert ms  RAM MiB");
        foreach (var d in report.Designs)
        {
            var ram = d.IndexManagedBytes is { } managed ? (managed / 1048576.0).ToString("F0", c) : "-";
            Line(output, $"{d.Key,-2} {Fit(d.Name, 42)} {d.LoadSeconds,6:F1} {d.DatabaseBytes / 1048576.0,8:F0} {d.UnlockSeconds,9:F3} {d.MedianMs,9:F3} {d.P99Ms,9:F3} {d.MedianToBaseline,6:F2} {d.P99ToBaseline,6:F2} {d.InsertMedianMs,10:F2} {ram,8}");
        }

        output.WriteLine();
        foreach (var d in report.Designs)
        {
            var workingSet = d.WorkingSetBytes is { } ws ? string.Create(c, $"; process working set {ws / 1048576.0:F0} MiB") : "";
            Line(output, $"{d.Key}: load = {d.LoadDetail}; unlock runs {string.Join(", ", d.UnlockRuns.Select(r => r.ToString("F3", c)))} s{(d.UnlockCpuRuns.Count > 0 ? " (CPU " + string.Join(", ", d.UnlockCpuRuns.Select(r => r.ToString("F2", c))) + " s)" : "")}; first query {d.FirstQueryMs:F2} ms; {d.Samples} timed queries{workingSet}");
        }

        output.WriteLine();
        output.WriteLine("query (typed)                              hits A/B/Bs/C  p50 ms A / B / Bs / C           p99 ms A / B / Bs / C           same results");
        foreach (var q in report.Queries)
        {
            var typed = q.Conversation is { } conversation ? $"{q.Label}: \"{q.Text}\" in #{conversation}" : $"{q.Label}: \"{q.Text}\"";
            var hits = string.Join('/', q.Hits);
            var p50 = q.Timed ? string.Join(" / ", q.MedianMs.Select(m => m.ToString("F3", c))) : "(not timed)";
            var p99 = q.Timed ? string.Join(" / ", q.P99Ms.Select(m => m.ToString("F3", c))) : "";
            var agree = q.AgreesWithBaseline ? "all" : q.EncryptedDesignsAgree ? "A=B=Bs, C differs" : "A, B, Bs DIFFER";
            Line(output, $"{Fit(typed, 42)} {hits,-14} {p50,-30} {p99,-31} {agree}");
        }

        output.WriteLine();
        Line(output, $"A's two-term plan: {report.BlindedQueryPlan}");
        Line(output, $"Opening a 100-byte body: SecretBox.TryOpen (imports the key each call) {report.SecretBoxOpenMicros:F2} µs, kept NSec key {report.KeptKeyOpenMicros:F2} µs");
        if (report.Sweep is { } sweep)
        {
            output.WriteLine();
            Line(output, $"Design A variants (same corpus): token bytes, prefixes, postings, DB MiB, postings load s, mix p50 ms, p99 ms, \"{SyntheticCorpus.RareWord}\" p50 ms");
            foreach (var row in sweep)
            {
                Line(output, $"  {row.TokenBytes,2} B  2..{row.MaxPrefix,-3} {row.PostingRows,14:N0} {row.DatabaseBytes / 1048576.0,8:F0} {row.PostingsLoadSeconds,8:F1} {row.MedianMs,9:F3} {row.P99Ms,9:F3} {row.LongTermMedianMs,9:F3}");
            }
        }
    }

    private static void Line(TextWriter output, FormattableString line) => output.WriteLine(line.ToString(CultureInfo.InvariantCulture));

    private static string Fit(string text, int width) => text.Length > width ? text[..(width - 1)] + "…" : text.PadRight(width);
}
