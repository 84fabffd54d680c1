namespace SecureChat.Storage;

/// <summary>
/// Who may write a data directory: one writer at a time, so that a change is never made behind a
/// running node's back (it would not know of it) and two nodes never share one store.
/// <para>
/// Two operating-system file locks (an exclusive <c>flock</c> on Linux, taken through
/// <see cref="FileShare.None"/>): the kernel drops them when their holder ends, even by SIGKILL, so
/// a crashed node never leaves a lock that blocks anyone, and no marker file has to be judged stale.
/// <list type="bullet">
/// <item><c>node.lock</c> is held by a node (<c>run</c>, <c>listen</c>, <c>connect</c>) from before it
/// opens the store until after it has removed <c>api.json</c>: a second node is refused.</item>
/// <item><c>store.lock</c> is held by whoever has the store open: a node for its whole run, a CLI
/// verb for its one change. A verb that cannot take it knows that a node holds the store (starting
/// or running) and goes through that node's local API once it answers.</item>
/// </list>
/// </para>
/// </summary>
public sealed class HomeLock : IDisposable
{
    public const string NodeFile = "node.lock";
    public const string StoreFile = "store.lock";

    private readonly FileStream _file;

    private HomeLock(FileStream file) => _file = file;

    /// <summary>Takes the lock if nobody holds it; null when another process (or another holder in this one) does.</summary>
    public static HomeLock? TryTake(string directory, string name)
    {
        DataDirectory.EnsureExists(directory);
        var options = new FileStreamOptions
        {
            Mode = FileMode.OpenOrCreate,
            Access = FileAccess.ReadWrite,
            Share = FileShare.None,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        try
        {
            return new HomeLock(new FileStream(Path.Combine(directory, name), options));
        }
        catch (IOException) when (File.Exists(Path.Combine(directory, name)))
        {
            // The file is there and could not be opened exclusively: someone holds the lock.
            return null;
        }
    }

    /// <summary>
    /// Takes the lock, waiting while another holder finishes (a CLI verb makes one change and lets
    /// go), up to <paramref name="patience"/>; <paramref name="waiting"/> is called once when a wait
    /// begins, so that a person sees why nothing happens. Null if the lock stayed held.
    /// </summary>
    public static HomeLock? Take(string directory, string name, TimeSpan patience, TimeProvider time, Action? waiting = null)
    {
        var started = time.GetTimestamp();
        var told = false;
        while (true)
        {
            if (TryTake(directory, name) is { } taken)
            {
                return taken;
            }

            if (time.GetElapsedTime(started) >= patience)
            {
                return null;
            }

            if (!told)
            {
                waiting?.Invoke();
                told = true;
            }

            // The kernel offers no wait with a deadline on flock; holders keep it briefly, so a short poll costs little.
            Task.Delay(PollInterval, time).GetAwaiter().GetResult();
        }
    }

    /// <summary>How often a waiter looks again.</summary>
    public static TimeSpan PollInterval { get; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Lets go; the file stays (deleting it would let two holders lock two different files).</summary>
    public void Dispose() => _file.Dispose();
}
