using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using SecureChat.Bench;
using SecureChat.Bench.Store;

// The storage figures of bench/run, each against plain SQLite measured in the same run: inserts
// through the store's write paths, then search over a million sealed messages against FTS5.
// Figures go to standard output as FIGURE lines; the tables and progress to standard error.
//   SecureChat.Bench.Store [--quick] [--messages N] [--step inserts|search|flood]
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
var log = Console.Error;
var quick = Stats.IsQuick(args);
var messages = quick ? 100_000 : SearchFigures.FullScale;
string? only = null;
for (var i = 0; i < args.Length; i++)
{
    if (args[i] == "--messages" && i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0)
    {
        messages = n;
        i++;
    }
    else if (args[i] == "--step" && i + 1 < args.Length)
    {
        only = args[++i];
    }
    else if (args[i] != "--quick")
    {
        log.WriteLine($"unknown argument '{args[i]}'; usage: SecureChat.Bench.Store [--quick] [--messages N] [--step inserts|search|flood]");
        return 2;
    }
}

var directory = Path.Combine(Path.GetTempPath(), $"securechat-store-bench-{Environment.ProcessId}");
Directory.CreateDirectory(directory);

// An interrupted run leaves nothing behind either: finally blocks do not run on a signal.
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, _ => Remove(directory));
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => Remove(directory));
var steps = new (string Name, Func<IEnumerable<Figure>> Run)[]
{
    ("inserts", () => InsertFigures.Run(Path.Combine(directory, "inserts"), quick ? 1_000 : 5_000, quick ? 20_000 : 100_000, quick, log)),
    ("search", () => SearchFigures.Run(Path.Combine(directory, "search"), messages, quick ? 20 : 100, TimeSpan.FromSeconds(quick ? 2 : 20), quick, log)),
    ("flood", () => FloodFigures.Run(Path.Combine(directory, "flood"), log)),
};
if (only is not null)
{
    steps = [.. steps.Where(s => s.Name == only)];
}

var failed = 0;
var wall = Stopwatch.StartNew();
try
{
    foreach (var (name, run) in steps)
    {
        try
        {
            var step = Stopwatch.StartNew();
            foreach (var figure in run())
            {
                figure.Report();
            }

            log.WriteLine($"{name}: {step.Elapsed.TotalSeconds:F1} s");
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            failed++;
            log.WriteLine($"{name}: failed: {ex}");
        }
    }
}
finally
{
    Remove(directory);
}

log.WriteLine($"total: {wall.Elapsed.TotalSeconds:F1} s");
return failed == 0 ? 0 : 1;

static void Remove(string directory)
{
    if (Directory.Exists(directory))
    {
        Directory.Delete(directory, recursive: true);
    }
}
