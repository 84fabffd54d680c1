using System.Diagnostics;
using Xunit.Sdk;

namespace SecureChat.Testing;

/// <summary>
/// Waiting with a deadline for a state something else reaches in its own time (a node in this
/// process, another process, a browser): probe, and probe again after a pause, until the state is
/// there or the deadline has passed, then fail with a sentence that says what did not happen and
/// what was last seen, never with a bare timeout. The pause starts short, so that a wait in
/// memory ends at once, and grows, so that probing another process over HTTP does not load it.
/// </summary>
internal static class Eventually
{
    /// <summary>
    /// The longest a wait lasts unless told otherwise. A healthy run needs a small fraction of it;
    /// it is this long because a full run shares two cores with builds and browsers, and a wait
    /// that expires there fails a test that would have passed.
    /// </summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan FirstPause = TimeSpan.FromMilliseconds(10);

    private static readonly TimeSpan LongestPause = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Returns once <paramref name="condition"/> holds; fails, saying <paramref name="what"/> and
    /// <paramref name="state"/>, after <paramref name="within"/> (the <see cref="Deadline"/> unless given).
    /// </summary>
    public static Task HoldsAsync(Func<bool> condition, string what, Func<string>? state = null, TimeSpan? within = null) =>
        UntilAsync(what, within ?? Deadline, () => Task.FromResult(condition()), holds => holds, _ => state?.Invoke() ?? string.Empty);

    /// <summary>
    /// Probes until <paramref name="reached"/> accepts a value and returns that value; fails after
    /// <paramref name="deadline"/> with <paramref name="what"/> and the last value as <paramref name="describe"/> tells it.
    /// </summary>
    public static async Task<T> UntilAsync<T>(string what, TimeSpan deadline, Func<Task<T>> probe, Func<T, bool> reached, Func<T, string> describe)
    {
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(reached);
        ArgumentNullException.ThrowIfNull(describe);
        var clock = Stopwatch.StartNew();
        var pause = FirstPause;
        while (true)
        {
            var value = await probe();
            if (reached(value))
            {
                return value;
            }

            if (clock.Elapsed > deadline)
            {
                var seen = describe(value);
                throw new XunitException($"Waited {deadline.TotalSeconds:0} s for: {what}; it did not happen.{(seen.Length == 0 ? string.Empty : " Last seen: " + seen)}");
            }

            await Task.Delay(pause);
            pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, LongestPause.Ticks));
        }
    }
}
