using System.Diagnostics;

namespace SecureChat.Node.Tests;

/// <summary>
/// Waiting with a deadline: polls a condition (on the nodes' stores, or an <see cref="EventTrail"/>)
/// and fails with a sentence that says what did not happen, never with a bare timeout.
/// </summary>
internal static class Eventually
{
    /// <summary>The longest any one wait lasts; a healthy run needs a small fraction of it.</summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// Returns once <paramref name="condition"/> holds; fails, saying <paramref name="state"/>, after
    /// <paramref name="within"/> (the <see cref="Deadline"/> unless given).
    /// </summary>
    public static async Task HoldsAsync(Func<bool> condition, string what, Func<string>? state = null, TimeSpan? within = null)
    {
        var deadline = within ?? Deadline;
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > deadline)
            {
                Assert.Fail($"After {deadline.TotalSeconds:0} s, still not {what}.{(state is null ? string.Empty : " " + state())}");
            }

            await Task.Delay(PollInterval);
        }
    }
}
