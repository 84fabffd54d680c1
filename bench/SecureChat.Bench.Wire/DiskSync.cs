using System.Diagnostics;

namespace SecureChat.Bench.Wire;

/// <summary>
/// The physical floor under the latency figure: how long one durable write takes on the disk the
/// stores use. A message is on disk three times before it counts as stored at the receiver (queued,
/// ratchet state saved as it is sent, received), and the store syncs each (WAL, synchronous=FULL).
/// </summary>
internal static class DiskSync
{
    public static (double P50, double P99, int Count) Measure(string directory, bool quick)
    {
        var path = Path.Combine(directory, $"securechat-bench-sync-{Environment.ProcessId}");
        var count = quick ? 200 : 1_000;
        var block = new byte[4096];
        var times = new List<double>(count);
        try
        {
            using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None);
            for (var i = 0; i < count; i++)
            {
                var start = Stopwatch.GetTimestamp();
                file.Write(block);
                file.Flush(flushToDisk: true);
                times.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
            }
        }
        finally
        {
            File.Delete(path);
        }

        return (Stats.Median(times), Stats.Percentile(times, 99), count);
    }
}
