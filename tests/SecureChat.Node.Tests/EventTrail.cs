using SecureChat.Testing;

namespace SecureChat.Node.Tests;

/// <summary>
/// Everything one running node reports from the moment this is created, kept in order so a test
/// can wait for an event and afterwards check the whole sequence (for example every state a
/// message went through).
/// </summary>
internal sealed class EventTrail : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<NodeEvent> _events = [];
    private readonly Task _recording;

    public EventTrail(ChatNode node)
    {
        var reader = node.Events.Subscribe(_stop.Token);
        _recording = Task.Run(async () =>
        {
            await foreach (var nodeEvent in reader.ReadAllAsync())
            {
                lock (_events)
                {
                    _events.Add(nodeEvent);
                }
            }
        });
    }

    /// <summary>The events of type <typeparamref name="T"/> recorded so far, in order.</summary>
    public List<T> Of<T>()
        where T : NodeEvent
    {
        lock (_events)
        {
            return [.. _events.OfType<T>()];
        }
    }

    /// <summary>The first recorded event that matches, waiting for it up to the deadline.</summary>
    public async Task<T> WaitForAsync<T>(Func<T, bool> match, string what)
        where T : NodeEvent
    {
        T? found = null;
        await Eventually.HoldsAsync(() => (found = Of<T>().FirstOrDefault(match)) is not null, $"seen {what}", () => $"Events so far: {Describe()}");
        return found!;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _recording;
        _stop.Dispose();
    }

    private string Describe()
    {
        lock (_events)
        {
            return _events.Count == 0 ? "none" : string.Join("; ", _events.TakeLast(20));
        }
    }
}
