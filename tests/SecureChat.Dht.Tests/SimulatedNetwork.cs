using System.Net;
using Microsoft.Extensions.Time.Testing;

namespace SecureChat.Dht.Tests;

/// <summary>
/// Many <see cref="DhtNode"/>s in one process on a virtual clock: datagrams are delivered in time
/// order after a latency drawn from a seeded random source, to nodes that are up; nodes are ticked
/// every 100 ms of virtual time. Deterministic for a given seed, node IDs included (apart from the
/// nodes' own transaction IDs): a thousand-node run once found 199 of 200 targets with IDs drawn
/// afresh each time, so a figure must not depend on the draw. A node may have an IPv4 address, an
/// IPv6 one or both (BEP 32); it sends to each family from its address of that family, and a
/// datagram to a family it has no address of is lost, as on a network without that family.
/// </summary>
internal sealed class SimulatedNetwork
{
    private static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(100);
    private readonly PriorityQueue<Datagram, (DateTimeOffset At, long Order)> _queue = new();
    private readonly Dictionary<IPEndPoint, DhtNode> _nodes = [];
    private readonly Dictionary<DhtNode, List<IPEndPoint>> _addresses = [];
    private readonly HashSet<IPEndPoint> _down = [];
    private readonly Random _random;
    private long _order;
    private DateTimeOffset _nextTick;

    public SimulatedNetwork(int seed)
    {
        _random = new Random(seed);
        _nextTick = Time.GetUtcNow();
    }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 24, 0, 0, 0, TimeSpan.Zero));

    public long Delivered { get; private set; }

    /// <summary>Datagrams to a node that is down, or beyond the loss rate, are dropped.</summary>
    public double LossRate { get; set; }

    public IReadOnlyCollection<DhtNode> Nodes => _addresses.Keys;

    public IEnumerable<DhtNode> LiveNodes => _addresses.Keys.Where(IsUp);

    public DhtNode Add(IPEndPoint endPoint, DhtOptions? options = null, NodeId? id = null) => Add([endPoint], options, id);

    /// <summary>A node at one or two addresses (at most one per family); its options say which families it speaks.</summary>
    public DhtNode Add(IReadOnlyList<IPEndPoint> endPoints, DhtOptions? options = null, NodeId? id = null)
    {
        DhtNode? node = null;
        node = new DhtNode(id ?? SeededId(), options ?? new DhtOptions(), Time, (bytes, to) => Enqueue(bytes, node!, to));
        _addresses[node] = [.. endPoints];
        foreach (var endPoint in endPoints)
        {
            _nodes[endPoint] = node;
        }

        return node;
    }

    public static IPEndPoint Address6(int index) => new(IPAddress.Parse($"2001:db8:{index >> 16:x}:{index & 0xffff:x}::1"), 6881);

    /// <summary>The node's address of a family, if it has one.</summary>
    public IPEndPoint? EndPointOf(DhtNode node, System.Net.Sockets.AddressFamily family) => _addresses[node].Find(e => e.AddressFamily == family);

    /// <summary>A node ID from the network's seeded source, so that a run repeats itself.</summary>
    private NodeId SeededId()
    {
        Span<byte> bytes = stackalloc byte[NodeId.Size];
        _random.NextBytes(bytes);
        return NodeId.FromBytes(bytes);
    }

    public static IPEndPoint Address(int index) => new(new IPAddress([10, (byte)(index >> 16), (byte)(index >> 8), (byte)index]), 6881);

    public IPEndPoint EndPointOf(DhtNode node) => _addresses[node][0];

    public void TakeDown(DhtNode node) => _down.UnionWith(_addresses[node]);

    public void BringUp(DhtNode node) => _down.ExceptWith(_addresses[node]);

    public bool IsUp(DhtNode node) => !_down.Contains(EndPointOf(node));

    /// <summary>Runs the network until the task completes or <paramref name="limit"/> of virtual time passes.</summary>
    public T RunUntil<T>(Task<T> task, TimeSpan limit)
    {
        var deadline = Time.GetUtcNow() + limit;
        while (!task.IsCompleted && Time.GetUtcNow() < deadline)
        {
            Step(deadline);
        }

        return task.IsCompleted ? task.Result : throw new TimeoutException($"Not done within {limit} of virtual time.");
    }

    /// <summary>Runs the network for a stretch of virtual time.</summary>
    public void Run(TimeSpan duration)
    {
        var deadline = Time.GetUtcNow() + duration;
        while (Time.GetUtcNow() < deadline)
        {
            Step(deadline);
        }
    }

    /// <summary>Hands one datagram to a node as if it came from <paramref name="from"/>.</summary>
    public void Inject(DhtNode to, byte[] datagram, IPEndPoint from) => to.Receive(datagram, from);

    private void Step(DateTimeOffset deadline)
    {
        var next = _queue.TryPeek(out _, out var key) && key.At < _nextTick ? key.At : _nextTick;
        if (next > deadline)
        {
            Time.SetUtcNow(deadline);
            return;
        }

        if (next > Time.GetUtcNow())
        {
            Time.SetUtcNow(next);
        }

        if (_queue.TryPeek(out _, out key) && key.At <= next && key.At < _nextTick)
        {
            var datagram = _queue.Dequeue();
            if (!_down.Contains(datagram.To) && _nodes.TryGetValue(datagram.To, out var node))
            {
                Delivered++;
                node.Receive(datagram.Bytes, datagram.From);
            }

            return;
        }

        _nextTick += TickInterval;
        foreach (var node in _addresses.Keys)
        {
            if (IsUp(node))
            {
                node.Tick();
            }
        }
    }

    private void Enqueue(byte[] bytes, DhtNode sender, IPEndPoint to)
    {
        var from = EndPointOf(sender, to.AddressFamily);
        if (from is null || _down.Contains(from) || (LossRate > 0 && _random.NextDouble() < LossRate))
        {
            return;
        }

        var latency = TimeSpan.FromMilliseconds(5 + (_random.NextDouble() * 45));
        _queue.Enqueue(new Datagram(bytes, from, to), (Time.GetUtcNow() + latency, _order++));
    }

    private sealed record Datagram(byte[] Bytes, IPEndPoint From, IPEndPoint To);
}
