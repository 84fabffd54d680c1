using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;

namespace SecureChat.Bench.Suite;

/// <summary>
/// The Tox baseline of the messaging figures: bench/tox/tox_bench.c, compiled here with the system
/// C compiler against Debian's libtoxcore-dev and run between SecureChat.Bench.Wire and the next
/// program, so that SecureChat's msgs_per_s, latency_p50_us, latency_p99_us and connect_ms have
/// Tox's figures for the same 200-byte messages and the same 1,000-a-second pace from the same run.
/// The driver prints key=value lines; they become <c>tox_*</c> figures here, and
/// <see cref="Ratios"/> sets SecureChat's figures against them once every program has run.
/// </summary>
internal static class ToxBaseline
{
    /// <summary>The keys this baseline gives latest.json, and the ratios made from them.</summary>
    public static readonly string[] Keys =
    [
        "msgs_ratio_vs_tox", "latency_p50_ratio_vs_tox",
        "tox_msgs_per_s", "tox_latency_p50_us", "tox_latency_p99_us", "tox_connect_ms",
    ];

    private const string Install = "scripts/install-deps --bench installs a C compiler, pkg-config and libtoxcore-dev";

    /// <summary>
    /// Compiles and runs the driver within <paramref name="limit"/>. On failure the figures are
    /// empty and <c>Failure</c> is a sentence for the table saying why.
    /// </summary>
    public static async Task<(int Exit, List<Figure> Figures, string? Failure)> RunAsync(string root, bool quick, TimeSpan limit, TextWriter log)
    {
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            var driver = Path.Combine(AppContext.BaseDirectory, "tox_bench");
            var (flagsExit, flags, flagsError) = await RunToolAsync("pkg-config", ["--cflags", "--libs", "toxcore"], timeout.Token);
            if (flagsExit != 0)
            {
                return Failed($"pkg-config finds no toxcore, so libtoxcore-dev is not installed ({Install}). {flagsError}");
            }

            var source = Path.Combine(root, "bench", "tox", "tox_bench.c");
            string[] compile = ["-std=c11", "-O2", "-Wall", "-Wextra", "-pthread", source, .. flags.Split([' ', '\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries), "-o", driver];
            var (compileExit, _, compileError) = await RunToolAsync("cc", compile, timeout.Token, log);
            if (compileExit != 0)
            {
                return Failed($"bench/tox/tox_bench.c did not compile against libtoxcore: {compileError}");
            }

            var (messages, paced, connects) = quick ? (10_000, 2_000, 3) : (100_000, 10_000, 5);
            string[] arguments =
            [
                "--messages", $"{messages}", "--paced", $"{paced}", "--connects", $"{connects}",
                "--limit-seconds", $"{(int)Math.Min(120, limit.TotalSeconds / 2)}",
            ];
            var (exit, output, error) = await RunToolAsync(driver, arguments, timeout.Token, log);
            if (exit != 0)
            {
                return Failed($"the Tox driver failed (exit {exit}): {error}");
            }

            var values = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(line => line.Split('=', 2))
                .Where(pair => pair.Length == 2)
                .ToDictionary(pair => pair[0], pair => pair[1], StringComparer.Ordinal);
            return (0, Figures(values, messages, paced, connects), null);
        }
        catch (OperationCanceledException)
        {
            return Failed($"the Tox driver took longer than {limit.TotalMinutes:F0} minutes and was stopped.");
        }
        catch (Win32Exception ex)
        {
            return Failed($"a program it needs cannot be run ({ex.Message}; {Install}).");
        }
        catch (FormatException ex)
        {
            return Failed($"the Tox driver's output could not be read ({ex.Message}).");
        }

        (int, List<Figure>, string?) Failed(string sentence)
        {
            log.WriteLine($"tox: {sentence}");
            return (1, [], sentence);
        }
    }

    /// <summary>
    /// SecureChat against Tox: msgs_per_s / tox_msgs_per_s (target ≥ 1.5) and latency_p50_us /
    /// tox_latency_p50_us (target ≤ 1.0), for every pair of which both figures were measured.
    /// </summary>
    public static IEnumerable<Figure> Ratios(IReadOnlyCollection<Figure> figures)
    {
        var byKey = figures.ToDictionary(f => f.Key, StringComparer.Ordinal);
        if (byKey.TryGetValue("msgs_per_s", out var ours) && byKey.TryGetValue("tox_msgs_per_s", out var tox))
        {
            yield return new Figure("msgs_ratio_vs_tox", Math.Round(ours.Value / tox.Value, 3), "×",
                "SecureChat's msgs_per_s over Tox's, the same 200-byte messages in the same run (SecureChat's stored and synced on both sides, Tox's held in memory only)",
                Target: "≥ 1.5", BaselineKey: tox.Key, Baseline: tox.Value, BaselineUnit: tox.Unit, BaselineWhat: "Tox, two instances on loopback, counted when received");
        }

        if (byKey.TryGetValue("latency_p50_us", out ours) && byKey.TryGetValue("tox_latency_p50_us", out tox))
        {
            yield return new Figure("latency_p50_ratio_vs_tox", Math.Round(ours.Value / tox.Value, 3), "×",
                "SecureChat's latency_p50_us over Tox's, the same 200-byte messages at the same 1,000 a second in the same run",
                Target: "≤ 1.0", BaselineKey: tox.Key, Baseline: tox.Value, BaselineUnit: tox.Unit, BaselineWhat: "Tox, send → received, median");
        }
    }

    /// <summary>Says in <paramref name="reasons"/> which figure a ratio lacked, where no reason is given yet.</summary>
    public static void ExplainMissingRatios(IReadOnlyCollection<Figure> figures, IDictionary<string, string> reasons)
    {
        foreach (var (ratio, ours, tox) in new[] { ("msgs_ratio_vs_tox", "msgs_per_s", "tox_msgs_per_s"), ("latency_p50_ratio_vs_tox", "latency_p50_us", "tox_latency_p50_us") })
        {
            var lacking = new[] { ours, tox }.Where(key => !figures.Any(f => f.Key == key)).ToList();
            if (lacking.Count > 0 && !reasons.ContainsKey(ratio))
            {
                reasons[ratio] = $"it needs {ours} and {tox} from the same run, and {string.Join(" and ", lacking)} is missing";
            }
        }
    }

    private static List<Figure> Figures(Dictionary<string, string> values, int messages, int paced, int connects)
    {
        double Number(string key) => values.TryGetValue(key, out var text)
            ? double.Parse(text, CultureInfo.InvariantCulture)
            : throw new FormatException($"it printed no {key}");

        var tox = $"Tox {values.GetValueOrDefault("tox_version", "(unknown version)")} (Debian's libtoxcore)";
        var loops = "two instances in one process, one thread and event loop each (tox_iterate at least every 1 ms), UDP on loopback only";
        var pacedNote = $"{paced:N0} messages at 1,000/s; one-way, on one monotonic clock";
        return
        [
            new Figure("tox_msgs_per_s", Number("tox_msgs_per_s"), "msg/s",
                $"{tox}: 200-byte messages, issued as fast as Tox accepts them, counted when received; {loops}",
                Note: $"{messages:N0} messages after a warm-up of {Math.Min(messages / 10, 2_000):N0}; every read receipt back at {Number("tox_acked_msgs_per_s"):N0}/s"),
            new Figure("tox_latency_p50_us", Number("tox_latency_p50_us"), "µs",
                $"{tox}: handed to tox_friend_send_message → friend_message callback at the receiver, median, at 1,000 messages/s", Note: pacedNote),
            new Figure("tox_latency_p99_us", Number("tox_latency_p99_us"), "µs",
                $"{tox}: the same, 99th percentile", Note: pacedNote),
            new Figure("tox_connect_ms", Number("tox_connect_ms"), "ms",
                $"{tox}: from starting two fresh instances, each bootstrapped to the other and holding the other as a friend, to the first message's read receipt",
                Note: $"median of {connects} fresh pairs, one after another; both saw each other connected after {Number("tox_online_ms"):N0} ms (median)"),
        ];
    }

    /// <summary>
    /// Runs a program to its end; returns its exit code, its standard output, and the line of its
    /// standard error that says why it failed (each line also goes to <paramref name="log"/> when given).
    /// </summary>
    private static async Task<(int Exit, string Output, string Error)> RunToolAsync(string program, string[] arguments, CancellationToken cancel, TextWriter? log = null)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new Win32Exception($"{program} did not start");
        var lines = new List<string>();
        var errors = Task.Run(
            async () =>
            {
                while (await process.StandardError.ReadLineAsync(CancellationToken.None) is { } line)
                {
                    log?.WriteLine(line);
                    if (line.Trim().Length > 0)
                    {
                        lines.Add(line.Trim());
                    }
                }
            },
            CancellationToken.None);
        try
        {
            var output = await process.StandardOutput.ReadToEndAsync(cancel);
            await process.WaitForExitAsync(cancel);
            await errors;
            // The driver's own sentence, else a compiler's first error, else the last line.
            var error = lines.FirstOrDefault(l => l.StartsWith("tox_bench:", StringComparison.Ordinal))
                ?? lines.FirstOrDefault(l => l.Contains("error", StringComparison.OrdinalIgnoreCase))
                ?? lines.LastOrDefault() ?? "";
            return (process.ExitCode, output, error);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
    }
}
