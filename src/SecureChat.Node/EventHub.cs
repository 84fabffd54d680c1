using System.Threading.Channels;

namespace SecureChat.Node;

/// <summary>
/// Fans node events out to any number of subscribers. Each subscriber has a bounded queue: one
/// that does not keep up loses its oldest events rather than slowing the node down.
/// </summary>
public sealed class EventHub
{
    private const int QueueLength = 4096;
    private readonly Lock _lock = new();
    private readonly List<Channel<NodeEvent>> _subscribers = [];

    /// <summary>Events from now on, until <paramref name="cancellationToken"/> fires.</summary>
    public ChannelReader<NodeEvent> Subscribe(CancellationToken cancellationToken)
    {
        var channel = Channel.CreateBounded<NodeEvent>(new BoundedChannelOptions(QueueLength)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        });
        lock (_lock)
        {
            _subscribers.Add(channel);
        }

        cancellationToken.Register(() =>
        {
            lock (_lock)
            {
                _subscribers.Remove(channel);
            }

            channel.Writer.TryComplete();
        });
        return channel.Reader;
    }

    public void Publish(NodeEvent nodeEvent)
    {
        lock (_lock)
        {
            foreach (var subscriber in _subscribers)
            {
                subscriber.Writer.TryWrite(nodeEvent);
            }
        }
    }

    /// <summary>Ends every subscription (the node stopped).</summary>
    public void Complete()
    {
        lock (_lock)
        {
            foreach (var subscriber in _subscribers)
            {
                subscriber.Writer.TryComplete();
            }

            _subscribers.Clear();
        }
    }
}
