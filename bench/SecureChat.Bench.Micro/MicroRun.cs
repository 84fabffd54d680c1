using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Perfolizer.Horology;

namespace SecureChat.Bench.Micro;

/// <summary>The mean time of one operation of a benchmark, with its standard error, in nanoseconds.</summary>
internal sealed record Measurement(double MeanNanoseconds, double StandardErrorNanoseconds);

/// <summary>
/// Runs every micro-benchmark through BenchmarkDotNet in this process (the in-process emit
/// toolchain: no project is generated and built), on one thread, so each figure is per core.
/// </summary>
internal static class MicroRun
{
    public static readonly Type[] Benchmarks = [typeof(AeadBenchmarks), typeof(HandshakeBenchmarks), typeof(RatchetBenchmarks), typeof(CodecBenchmarks)];

    /// <summary>What the quick run measures, for the figures' notes.</summary>
    public const string QuickJob = "quick run: 1 warmup and 3 iterations of 100 ms per benchmark";

    /// <summary>Measurements keyed "Class.Method".</summary>
    public static IReadOnlyDictionary<string, Measurement> Run(bool quick, string artifactsPath)
    {
        // Quick: enough for a smoke figure within seconds. Full: 20 iterations of 500 ms after 6
        // warmups, about 15 s a benchmark, so the whole program stays within 4 minutes.
        var job = (quick
                ? Job.Default.WithWarmupCount(1).WithIterationCount(3).WithIterationTime(TimeInterval.FromMilliseconds(100))
                : Job.Default.WithWarmupCount(6).WithIterationCount(20).WithIterationTime(TimeInterval.FromMilliseconds(500)))
            .WithLaunchCount(1)
            .WithToolchain(new InProcessEmitToolchain(TimeSpan.FromMinutes(5), logOutput: true))
            .WithId(quick ? "Quick" : "Full");
        var config = ManualConfig.CreateEmpty()
            .AddJob(job)
            .AddLogger(new StandardErrorLogger())
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .WithArtifactsPath(artifactsPath)
            .WithOptions(ConfigOptions.JoinSummary | ConfigOptions.DisableLogFile);

        var measurements = new Dictionary<string, Measurement>();
        foreach (var summary in BenchmarkRunner.Run(Benchmarks, config))
        {
            if (summary.HasCriticalValidationErrors)
            {
                throw new InvalidOperationException("BenchmarkDotNet refused the benchmarks: " + string.Join("; ", summary.ValidationErrors.Select(e => e.Message)));
            }

            foreach (var report in summary.Reports)
            {
                var name = $"{report.BenchmarkCase.Descriptor.Type.Name}.{report.BenchmarkCase.Descriptor.WorkloadMethod.Name}";
                var statistics = report.ResultStatistics
                    ?? throw new InvalidOperationException($"{name} produced no measurement; its log above says why.");
                measurements[name] = new Measurement(statistics.Mean, statistics.StandardError);
            }
        }

        return measurements;
    }
}
