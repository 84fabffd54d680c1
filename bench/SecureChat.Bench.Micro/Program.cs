using System.Diagnostics;
using SecureChat.Bench;
using SecureChat.Bench.Micro;

// The micro-benchmarks of the performance suite (bench/run): AEAD throughput, the channel
// handshake, Double Ratchet steps and the envelope codec, each on one core through
// BenchmarkDotNet. Standard output carries only FIGURE lines; everything else goes to standard
// error, so BenchmarkDotNet's console output is sent there too.
var quick = Stats.IsQuick(args);
var figureOutput = Console.Out;
Console.SetOut(Console.Error);
var wall = Stopwatch.StartNew();
var artifacts = Path.Combine(Path.GetTempPath(), $"securechat-bench-micro-{Environment.ProcessId}");
try
{
    var measured = MicroRun.Run(quick, artifacts);
    var figures = MicroFigures.From(measured, quick);
    MicroFigures.WriteTable(Console.Error, figures, measured);
    Console.Error.WriteLine($"{(quick ? "quick" : "full")} run took {wall.Elapsed.TotalSeconds:F1} s");
    foreach (var figure in figures)
    {
        figure.Report(figureOutput);
    }
}
finally
{
    if (Directory.Exists(artifacts))
    {
        Directory.Delete(artifacts, recursive: true);
    }
}
