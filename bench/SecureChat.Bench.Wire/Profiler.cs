using System.Diagnostics.Tracing;
using Microsoft.Diagnostics.NETCore.Client;

namespace SecureChat.Bench.Wire;

/// <summary>
/// <c>--profile DIR</c>: CPU samples of both nodes during one measured phase, each process in a
/// .nettrace file of its own (<c>PHASE-sender.nettrace</c>, <c>PHASE-receiver.nettrace</c>), for
/// <c>dotnet-trace report FILE topN</c> or <c>dotnet-trace convert --format speedscope</c>.
/// The sessions start after the warm-up and stop when the phase ends, so the samples are of the
/// measured messages only and not of start-up, the JIT of the first ones, or the baselines.
/// </summary>
internal sealed class Profiler : IAsyncDisposable
{
    private readonly List<(EventPipeSession Session, Task Copy)> _sessions = [];

    private Profiler()
    {
    }

    /// <summary>The directory given after <c>--profile</c>, or null without it.</summary>
    public static string? Directory { get; set; }

    /// <summary>True with <c>--profile-allocations</c>: the runtime's allocation ticks as well (see <see cref="Start"/>).</summary>
    public static bool Allocations { get; set; }

    /// <summary>Starts a session on each process named; without <c>--profile</c>, does nothing.</summary>
    public static Profiler Start(string phase, params (string Name, int ProcessId)[] processes)
    {
        var profiler = new Profiler();
        if (Directory is null)
        {
            return profiler;
        }

        System.IO.Directory.CreateDirectory(Directory);
        // The thread-time sampler (every managed thread's stack each millisecond) and the runtime's
        // GC, exception and contention events, as dotnet-trace's cpu-sampling profile takes them.
        // With --profile-allocations the runtime's events are verbose, which adds the GC's
        // AllocationTick (one per 100 KB a thread allocates, with its stack): that counts the
        // allocations, but the stack walks land in the allocating code and skew the CPU samples
        // (protobuf measured 9-16 % with them, 2-3 % without), so it is a run of its own.
        var providers = new[]
        {
            new EventPipeProvider("Microsoft-DotNETCore-SampleProfiler", EventLevel.Informational),
            new EventPipeProvider("Microsoft-Windows-DotNETRuntime", Allocations ? EventLevel.Verbose : EventLevel.Informational, 0x4c14fccbd),
        };
        foreach (var (name, id) in processes)
        {
            var session = new DiagnosticsClient(id).StartEventPipeSession(providers, requestRundown: true, circularBufferMB: 256);
            var file = File.Create(Path.Combine(Directory, $"{phase}-{name}.nettrace"));
            profiler._sessions.Add((session, CopyAsync(session, file)));
        }

        return profiler;
    }

    private static async Task CopyAsync(EventPipeSession session, FileStream file)
    {
        await using (file.ConfigureAwait(false))
        {
            await session.EventStream.CopyToAsync(file).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (session, copy) in _sessions)
        {
            // Stopping asks the runtime for the rundown (the names of the JIT-compiled methods), which
            // comes at the end of the stream; the file is complete when the copy ends.
            await session.StopAsync(CancellationToken.None).ConfigureAwait(false);
            await copy.ConfigureAwait(false);
            session.Dispose();
        }
    }
}
