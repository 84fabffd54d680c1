using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using SecureChat.Bench;
using SecureChat.Bench.Suite;

// Runs the bench programs one after another (never side by side: each measures against a baseline
// on the same two cores), collects their FIGURE lines, and writes bench/results/latest.json (every
// key and baseline key, numbers only) and latest.md (the table). Exit 1 when a key is missing.
// The Tox baseline (bench/tox, see ToxBaseline) runs right after the messaging figures it is read against.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
var quick = Stats.IsQuick(args);
var root = FindRoot();
string[] required =
[
    "bulk_ratio_vs_tcp", "msgs_per_s", "latency_p50_us", "latency_p99_us", "connect_ms", .. ToxBaseline.Keys, "handshakes_per_s",
    "search_p50_ms_1m", "insert_ratio_vs_sqlite", "idle_rss_mb", "connections_held", "dht_lookup_p50_ms",
];

// The order of the table; each program's limit is generous, a program past it is stopped and its keys are missing.
(string Program, TimeSpan Quick, TimeSpan Full)[] programs =
[
    ("SecureChat.Bench.Wire", TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(8)),
    ("tox_bench", TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(5)),
    ("SecureChat.Bench.Micro", TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(6)),
    ("SecureChat.Bench.Store", TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(10)),
    ("SecureChat.Bench.Capacity", TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(6)),
    ("SecureChat.Bench.Dht", TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(8)),
];

var figures = new List<Figure>();
var runs = new List<string>();
// Why a key is missing, where the suite knows better than "its program failed".
var reasons = new Dictionary<string, string>(StringComparer.Ordinal);
var clock = Stopwatch.StartNew();
foreach (var (program, quickLimit, fullLimit) in programs)
{
    var started = clock.Elapsed;
    var limit = quick ? quickLimit : fullLimit;
    var (exit, found, failure) = program == "tox_bench"
        ? await ToxBaseline.RunAsync(root, quick, limit, Console.Error)
        : await RunAsync(ProgramPath(program), limit);
    figures.AddRange(found);
    foreach (var key in failure is null ? [] : ToxBaseline.Keys)
    {
        reasons[key] = $"the Tox baseline did not run: {failure}";
    }

    runs.Add($"{program}: {found.Count} figures in {(clock.Elapsed - started).TotalSeconds:F0} s{(exit == 0 ? "" : $", exit {exit}")}");
    Console.Error.WriteLine($"== {runs[^1]}");
}

figures.AddRange(ToxBaseline.Ratios(figures));
ToxBaseline.ExplainMissingRatios(figures, reasons);

var results = Path.Combine(root, "bench", "results");
Directory.CreateDirectory(results);
var numbers = new SortedDictionary<string, double>(StringComparer.Ordinal);
foreach (var figure in figures)
{
    numbers[figure.Key] = Math.Round(figure.Value, 3);
    if (figure is { BaselineKey: { } key, Baseline: { } baseline })
    {
        numbers[key] = Math.Round(baseline, 3);
    }
}

await File.WriteAllTextAsync(Path.Combine(results, "latest.json"), JsonSerializer.Serialize(numbers, new JsonSerializerOptions { WriteIndented = true }) + "\n");
var missing = required.Where(k => !numbers.ContainsKey(k)).ToList();
await File.WriteAllTextAsync(Path.Combine(results, "latest.md"), Table(figures, required, missing, reasons, runs, quick, clock.Elapsed));
Console.Error.WriteLine($"wrote bench/results/latest.md and latest.json in {clock.Elapsed.TotalSeconds:F0} s");
foreach (var figure in figures.Where(f => f.Target is not null))
{
    Console.WriteLine($"{figure.Key,-28} {Format(figure.Value),12} {figure.Unit,-13} target {figure.Target,-9} {(figure.Met() == true ? "met" : "NOT met")}");
}

if (missing.Count > 0)
{
    Console.Error.WriteLine($"missing: {string.Join(", ", missing)}");
    return 1;
}

return 0;

// The end-to-end program is published ReadyToRun as SecureChat ships (bench/run, scripts/publish),
// so that connect_ms's fresh processes start as a person's node does; the others are plain builds.
string ProgramPath(string program) => program == "SecureChat.Bench.Wire"
    ? Path.Combine(root, "artifacts", "bench", program, program + ".dll")
    : Path.Combine(root, "bench", program, "bin", "Release", "net10.0", program + ".dll");

async Task<(int Exit, List<Figure> Figures, string? Failure)> RunAsync(string dll, TimeSpan limit)
{
    var found = new List<Figure>();
    if (!File.Exists(dll))
    {
        Console.Error.WriteLine($"{dll} is not built: bench/run builds it.");
        return (-1, found, null);
    }

    var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
    start.ArgumentList.Add(dll);
    if (quick)
    {
        start.ArgumentList.Add("--quick");
    }

    using var process = Process.Start(start)!;
    using var timeout = new CancellationTokenSource(limit);
    try
    {
        while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (Figure.Parse(line) is { } figure)
            {
                found.Add(figure);
            }
            else
            {
                Console.Error.WriteLine(line);
            }
        }

        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, found, null);
    }
    catch (OperationCanceledException)
    {
        process.Kill(entireProcessTree: true);
        Console.Error.WriteLine($"{Path.GetFileName(dll)} took longer than {limit.TotalMinutes:F0} minutes and was stopped.");
        return (-2, found, null);
    }
}

static string Table(List<Figure> figures, string[] required, List<string> missing, Dictionary<string, string> reasons, List<string> runs, bool quick, TimeSpan elapsed)
{
    var text = new StringBuilder();
    text.AppendLine(CultureInfo.InvariantCulture, $"# SecureChat benchmarks — {(quick ? "quick" : "full")} run");
    text.AppendLine();
    text.AppendLine(CultureInfo.InvariantCulture, $"{DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, commit {Git("rev-parse --short HEAD")}, {Environment.ProcessorCount} cores, {Cpu()}, .NET {Environment.Version}; {elapsed.TotalMinutes:F1} minutes. Written by `bench/run{(quick ? " --quick" : "")}`.");
    text.AppendLine();
    text.AppendLine("| key | what | measured | baseline, same run | target | met |");
    text.AppendLine("|---|---|---|---|---|---|");
    var ordered = figures.OrderBy(f => Array.IndexOf(required, f.Key) is var i and >= 0 ? i : required.Length);
    foreach (var f in ordered)
    {
        var baseline = f.Baseline is { } b ? $"{Format(b)} {f.BaselineUnit} ({f.BaselineWhat}; `{f.BaselineKey}`)" : "—";
        var met = f.Met() switch { true => "yes", false => "**no**", null => "" };
        var what = f.Note is null ? f.What : $"{f.What} ({f.Note})";
        text.AppendLine(CultureInfo.InvariantCulture, $"| `{f.Key}` | {what} | {Format(f.Value)} {f.Unit} | {baseline} | {f.Target ?? ""} | {met} |");
    }

    foreach (var key in missing)
    {
        var reason = reasons.GetValueOrDefault(key, "its program failed or was stopped (see the run's output)");
        text.AppendLine(CultureInfo.InvariantCulture, $"| `{key}` | **missing**: {reason.Replace("|", "\\|", StringComparison.Ordinal)} | | | | **no** |");
    }

    text.AppendLine();
    text.AppendLine("Programs, in the order they ran:");
    text.AppendLine();
    foreach (var run in runs)
    {
        text.AppendLine(CultureInfo.InvariantCulture, $"- {run}");
    }

    return text.ToString();
}

static string Format(double value) => Math.Abs(value) switch
{
    >= 100 => value.ToString("N0", CultureInfo.InvariantCulture),
    >= 10 => value.ToString("N1", CultureInfo.InvariantCulture),
    _ => value.ToString("0.###", CultureInfo.InvariantCulture),
};

static string Cpu() =>
    File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";

static string Git(string arguments)
{
    try
    {
        var start = new ProcessStartInfo("git", arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var git = Process.Start(start)!;
        var output = git.StandardOutput.ReadToEnd().Trim();
        git.WaitForExit();
        return git.ExitCode == 0 ? output : "unknown";
    }
    catch (System.ComponentModel.Win32Exception)
    {
        return "unknown";
    }
}

static string FindRoot()
{
    for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
    {
        if (File.Exists(Path.Combine(directory.FullName, "SecureChat.slnx")))
        {
            return directory.FullName;
        }
    }

    throw new InvalidOperationException("SecureChat.slnx was not found above this program.");
}
