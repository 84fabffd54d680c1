using System.Diagnostics;
using Xunit.Sdk;

namespace SecureChat.Tests.Node;

/// <summary>
/// Waiting for a state another process reaches in its own time: probe, and probe again after a
/// short pause, until the state is there or the deadline has passed (then fail with the last probe).
/// </summary>
internal static class Poll
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    public static async Task<T> UntilAsync<T>(string what, TimeSpan deadline, Func<Task<T>> probe, Func<T, bool> reached, Func<T, string> describe)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var value = await probe();
            if (reached(value))
            {
                return value;
            }

            if (clock.Elapsed > deadline)
            {
                throw new XunitException($"{what}: not reached within {deadline.TotalSeconds} s; last seen: {describe(value)}");
            }

            await Task.Delay(Interval);
        }
    }
}
