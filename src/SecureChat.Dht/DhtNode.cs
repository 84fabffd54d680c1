using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace SecureChat.Dht;

/// <summary>Counts of what a node received and did, for tests and status.</summary>
public sealed class DhtCounters
{
    public long Received { get; internal set; }

    public long Malformed { get; internal set; }

    public long RateLimited { get; internal set; }

    public long QueriesAnswered { get; internal set; }

    public long ErrorsSent { get; internal set; }

    public long ResponsesMatched { get; internal set; }

    public long Unmatched { get; internal set; }

    public long QueriesSent { get; internal set; }

    public long Timeouts { get; internal set; }
}

/// <summary>
/// The outcome of a put or an announce. <paramref name="Asked"/>: the nodes it was sent to, each
/// once: while the get walk ran, to nodes with a token among the k closest that had answered so
/// far, and when it ended, to those of the final k closest not yet asked. <paramref name="Accepted"/>:
/// how many of them acknowledged it. <paramref name="Errors"/>: a sentence per node that refused
/// or did not answer.
/// </summary>
public sealed record StoreResult(NodeId Target, int Accepted, int Asked, IReadOnlyList<string> Errors);

/// <summary>
/// A Mainline DHT node (BEP 5, with BEP 32's IPv6 DHT beside the IPv4 one, BEP 42's observed
/// address, BEP 43's read-only mode and BEP 44's items) without I/O: the host hands it datagrams with <see cref="Receive"/>, calls <see cref="Tick"/>
/// every few hundred milliseconds, and sends what it passes to the send callback. It is not
/// thread-safe: the host calls it from one thread or under one lock. Operations complete their
/// tasks with continuations run asynchronously, never inline under the host's lock.
/// </summary>
public sealed partial class DhtNode
{
    public const int MaxTokenSize = 64;

    /// <summary>The most recent voters whose word on this node's address (BEP 42) counts.</summary>
    public const int MaxAddressVoters = 32;

    private readonly Action<byte[], IPEndPoint> _send;
    private readonly TimeProvider _time;
    private readonly Dictionary<uint, PendingQuery> _pending = [];
    private readonly List<(LookupGroup Lookup, DateTimeOffset Deadline)> _lookups = [];
    private readonly TokenIssuer _tokens = new();
    private readonly RateLimiter _limiter;
    private readonly AddressVotes _votes4 = new(MaxAddressVoters);
    private readonly AddressVotes _votes6 = new(MaxAddressVoters);
    private List<IPEndPoint> _bootstrap = [];
    private DateTimeOffset _lastBootstrap = DateTimeOffset.MinValue;
    private DateTimeOffset _lastMaintenance = DateTimeOffset.MinValue;
    private DateTimeOffset _lastUnsolicitedQuery = DateTimeOffset.MinValue;
    private DateTimeOffset _modeSince;
    private IPAddress? _idAddress;
    private bool _announceId;

    public DhtNode(NodeId id, DhtOptions options, TimeProvider time, Action<byte[], IPEndPoint> send)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(send);
        if ((options.Families & DhtFamilies.Both) == DhtFamilies.None)
        {
            throw new ArgumentException("A DHT node needs at least one address family.", nameof(options));
        }

        Id = id;
        Options = options;
        _time = time;
        _send = send;
        Routing = new RoutingTable(id, options.BucketSize);
        Routing6 = new RoutingTable(id, options.BucketSize);
        Storage = new DhtStorage(options);
        _limiter = new RateLimiter(options);
        ReadOnly = options.ReadOnly;
        _modeSince = time.GetUtcNow();
    }

    /// <summary>
    /// This node's ID, the same in both DHTs (as BEP 32 recommends): random at start, and a fresh
    /// BEP 42 ID (new random bits) each time the address other nodes see it at moves to another
    /// IP, so that the ID never links the node's stays at two addresses. The IPv4 address
    /// (<see cref="ObservedAddress"/>) decides when there is one, else the IPv6 one
    /// (<see cref="ObservedAddress6"/>, a node without IPv4).
    /// </summary>
    public NodeId Id { get; private set; }

    /// <summary>How many times the ID was replaced because the observed IP changed.</summary>
    public int IdChanges { get; private set; }

    public DhtOptions Options { get; }

    /// <summary>The IPv4 DHT's routing table (BEP 5).</summary>
    public RoutingTable Routing { get; }

    /// <summary>The IPv6 DHT's routing table (BEP 32): a separate table, of nodes that answered over IPv6.</summary>
    public RoutingTable Routing6 { get; }

    /// <summary>The nodes in both tables.</summary>
    public int NodeCount => Routing.Count + Routing6.Count;

    public DhtStorage Storage { get; }

    public DhtCounters Counters { get; } = new();

    /// <summary>
    /// The IPv4 address most nodes say they see this node at (BEP 42's "ip" in answers over IPv4),
    /// once two nodes at different addresses agree. Only the latest word of the most recent
    /// <see cref="MaxAddressVoters"/> voters counts, so that the address follows the node when it moves.
    /// </summary>
    public IPEndPoint? ObservedAddress => _votes4.Winner;

    /// <summary>The same for IPv6: the address nodes that answered over IPv6 see this node at (an 18-byte "ip").</summary>
    public IPEndPoint? ObservedAddress6 => _votes6.Winner;

    /// <summary>True while the node only asks (BEP 43): by <see cref="DhtOptions.ReadOnly"/>, or because no one seems able to reach it.</summary>
    public bool ReadOnly { get; private set; }

    public int PendingQueries => _pending.Count;

    public int ActiveLookups => _lookups.Count;

    private DateTimeOffset Now => _time.GetUtcNow();

    /// <summary>
    /// Joins the DHT through the given nodes (a lookup of this node's own ID), and again whenever
    /// the tables run empty. Nodes of either family may be given; each joins its family's DHT.
    /// </summary>
    public Task<LookupResult> Bootstrap(IEnumerable<IPEndPoint> nodes)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        _bootstrap = [.. nodes.Select(Compact.Normalize).Distinct()];
        _lastBootstrap = Now;
        var seeds = _bootstrap;
        return Run(Id, LookupKind.FindNode, null, false, _ => seeds);
    }

    public Task<LookupResult> FindNode(NodeId target) => Run(target, LookupKind.FindNode, null, false, Seeds);

    public Task<LookupResult> GetPeers(NodeId infoHash) => Run(infoHash, LookupKind.GetPeers, null, false, Seeds);

    /// <summary>Looks up an immutable item, checking that the value hashes to the target.</summary>
    public Task<LookupResult> GetImmutable(NodeId target) =>
        Run(target, LookupKind.GetItem, m => ReadImmutable(m, target), true, Seeds);

    /// <summary>
    /// Looks up a mutable item and returns the one with the highest sequence number whose signature
    /// verifies; with <paramref name="firstItem"/>, the first that verifies, as soon as a node
    /// hands it over (faster where nodes that went away would hold the lookup up, but an older copy
    /// on some node may come first).
    /// </summary>
    public Task<LookupResult> GetMutable(byte[] publicKey, byte[] salt, bool firstItem = false)
    {
        ArgumentNullException.ThrowIfNull(publicKey);
        ArgumentNullException.ThrowIfNull(salt);
        var target = DhtItem.MutableTarget(publicKey, salt);
        return Run(target, LookupKind.GetItem, m => ReadMutable(m, publicKey, salt), firstItem, Seeds);
    }

    /// <summary>
    /// Stores an item on the k nodes closest to its target: a get walk collects their tokens, and
    /// each node with a token among the k closest that have answered so far gets the put at once,
    /// so that the item can be found before the walk has waited out nodes that do not answer; when
    /// the walk ends, the final k closest not yet asked get it too. The task ends when every put
    /// sent has been answered or has timed out.
    /// </summary>
    public Task<StoreResult> Put(DhtItem item, long? compareAndSwap = null)
    {
        ArgumentNullException.ThrowIfNull(item);
        Func<KrpcMessage, DhtItem?> read = item.IsMutable ? m => ReadMutable(m, item.PublicKey!, item.Salt) : m => ReadImmutable(m, item.Target);
        var store = new StoreOperation(this, item.Target, "put", () => PutArguments(item, compareAndSwap));
        Start(item.Target, LookupKind.GetItem, read, false, Seeds, store.WalkEnded, store.Send);
        return store.Task;
    }

    /// <summary>
    /// Announces that a peer for the info-hash listens on <paramref name="port"/> (0: the port this
    /// node's datagrams come from), to the closest nodes as they answer, as <see cref="Put"/> does.
    /// </summary>
    public Task<StoreResult> Announce(NodeId infoHash, int port)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        var store = new StoreOperation(this, infoHash, "announce_peer", () =>
        {
            var arguments = new BDictionary().Set("info_hash", infoHash.ToArray()).Set("port", port == 0 ? 1 : port);
            if (port == 0)
            {
                arguments.Set("implied_port", 1);
            }

            return arguments;
        });
        Start(infoHash, LookupKind.GetPeers, null, false, Seeds, store.WalkEnded, store.Send);
        return store.Task;
    }

    /// <summary>Pings an address; the task yields the node's ID, or null when it did not answer.</summary>
    public Task<NodeId?> Ping(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        var done = new TaskCompletionSource<NodeId?>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!SendQuery(Compact.Normalize(endPoint), null, "ping", new BDictionary(), r => done.TrySetResult(r is { Kind: KrpcKind.Response } ? r.SenderId : null), null))
        {
            done.TrySetResult(null);
        }

        return done.Task;
    }

    /// <summary>Handles one datagram from the network. Anything malformed, forged or over a limit is dropped or answered with a KRPC error; nothing throws.</summary>
    public void Receive(ReadOnlyMemory<byte> datagram, IPEndPoint from)
    {
        ArgumentNullException.ThrowIfNull(from);
        from = Compact.Normalize(from);
        var table = TableOf(from);
        Counters.Received++;
        var message = KrpcMessage.TryParse(datagram, out _);
        if (message is null)
        {
            Counters.Malformed++;
            return;
        }

        if (message.Kind == KrpcKind.Query)
        {
            // A query from a node this one has not met shows that others can reach it.
            if (!message.ReadOnly && !table.Contains(message.SenderId))
            {
                _lastUnsolicitedQuery = Now;
            }

            if (ReadOnly)
            {
                return;
            }

            if (!_limiter.Allow(from.Address, Now))
            {
                Counters.RateLimited++;
                return;
            }

            Answer(message, from);
            return;
        }

        if (message.TransactionId.Length != 4
            || !_pending.TryGetValue(BitConverter.ToUInt32(message.TransactionId), out var pending)
            || !pending.To.Equals(from))
        {
            Counters.Unmatched++;
            return;
        }

        _pending.Remove(BitConverter.ToUInt32(message.TransactionId));
        Counters.ResponsesMatched++;
        if (message.Kind == KrpcKind.Response)
        {
            if (pending.ExpectedId is { } expected && expected != message.SenderId)
            {
                table.Failed(expected);
            }

            if (!message.ReadOnly)
            {
                table.Responded(new NodeContact(message.SenderId, from), Now);
            }

            // BEP 42's "ip" is the address the datagram came from, so it is of the family the
            // answer came over (18 bytes over IPv6); an IPv4 address said over IPv6, an
            // IPv4-mapped one or one no node could have is no one's address and is not counted.
            if (message.ObservedAddress is { } observed && Compact.IsNodeAddress(observed.Address) && observed.AddressFamily == from.AddressFamily)
            {
                (from.AddressFamily == AddressFamily.InterNetworkV6 ? _votes6 : _votes4).Vote(from.Address, observed);
                FollowObservedAddress();
            }
        }
        else if (pending.ExpectedId is { } id)
        {
            // An error reply (a refused put, say) still shows the node is alive.
            table.Responded(new NodeContact(id, from), Now);
        }

        pending.Answered(message);
    }

    /// <summary>
    /// The system could not send to <paramref name="to"/> (no route: an IPv6 node seen from a host
    /// with IPv4 only, a network that went down). Its queries fail now, as a timeout would fail
    /// them later, so a lookup goes on without waiting for an answer that cannot come.
    /// </summary>
    public void Unreachable(IPEndPoint to)
    {
        ArgumentNullException.ThrowIfNull(to);
        to = Compact.Normalize(to);
        foreach (var (key, pending) in _pending.Where(p => p.Value.To.Equals(to)).ToList())
        {
            Fail(key, pending);
        }
    }

    /// <summary>Times out queries and lookups; pings questionable nodes, refreshes stale buckets, rejoins when alone. Call it a few times a second.</summary>
    public void Tick()
    {
        var now = Now;
        foreach (var (key, pending) in _pending.ToList())
        {
            var age = now - pending.SentAt;
            if (age >= Options.QueryTimeout)
            {
                Fail(key, pending);
            }
            else if (age >= Options.StallTimeout)
            {
                pending.Stall();
            }
        }

        foreach (var (lookup, deadline) in _lookups.ToList())
        {
            if (now >= deadline)
            {
                lookup.Abandon();
            }
        }

        // A new ID is unknown to the nodes closest to it: a lookup of it (as when joining) makes
        // them meet this node under it, so that lookups of the new ID find it.
        if (_announceId && NodeCount > 0)
        {
            _announceId = false;
            _ = FindNode(Id);
        }

        if (now - _lastMaintenance < TimeSpan.FromSeconds(5))
        {
            return;
        }

        _lastMaintenance = now;
        JudgeReachability(now);
        Storage.Expire(now);
        _limiter.Expire(now);
        if (NodeCount == 0 && _bootstrap.Count > 0 && now - _lastBootstrap > TimeSpan.FromSeconds(30))
        {
            _ = Bootstrap(_bootstrap);
            return;
        }

        foreach (var table in new[] { Routing, Routing6 })
        {
            foreach (var node in table.Questionable(now - Options.NodeQuestionable).Take(4))
            {
                SendQuery(node.EndPoint, node.Id, "ping", new BDictionary(), _ => { }, null);
            }

            // A refresh lookup walks both DHTs: it refreshes the same range of the other table too.
            if (table.Count > 0 && _lookups.Count < 2 && table.StaleBuckets(now - Options.BucketRefresh).FirstOrDefault(-1) is var bucket and >= 0)
            {
                table.Touch(bucket, now);
                _ = FindNode(Id.RandomWithPrefix(bucket));
            }
        }
    }

    /// <summary>Sends a query; false when too many are pending. <paramref name="answered"/> gets the response or error, or null on timeout.</summary>
    internal bool SendQuery(IPEndPoint to, NodeId? expectedId, string method, BDictionary arguments, Action<KrpcMessage?> answered, Action? stalled)
    {
        if (_pending.Count >= Options.MaxPendingQueries || !Speaks(Compact.Family(to)))
        {
            return false;
        }

        uint key;
        do
        {
            key = BitConverter.ToUInt32(RandomNumberGenerator.GetBytes(4));
        }
        while (_pending.ContainsKey(key));

        arguments.Set("id", Id.ToArray());
        var transaction = BitConverter.GetBytes(key);
        _pending[key] = new PendingQuery(to, expectedId, Now, answered, stalled);
        Counters.QueriesSent++;
        _send(KrpcMessage.Query(transaction, method, arguments, ReadOnly), to);
        return true;
    }

    /// <summary>The nodes of one family in a find_node, get_peers or get answer ("nodes", or BEP 32's "nodes6"), at most 16 of them.</summary>
    internal static IEnumerable<NodeContact> NodesOf(KrpcMessage answer, AddressFamily family) =>
        answer.Body.Bytes(family == AddressFamily.InterNetworkV6 ? "nodes6" : "nodes") is { } nodes ? Compact.DecodeNodes(nodes, family).Take(16) : [];

    /// <summary>The routing table of the endpoint's family.</summary>
    internal RoutingTable TableOf(IPEndPoint endPoint) => Compact.Family(endPoint) == AddressFamily.InterNetworkV6 ? Routing6 : Routing;

    internal bool Speaks(AddressFamily family) =>
        family switch
        {
            AddressFamily.InterNetwork => Options.Families.HasFlag(DhtFamilies.IPv4),
            AddressFamily.InterNetworkV6 => Options.Families.HasFlag(DhtFamilies.IPv6),
            _ => false,
        };

    /// <summary>The bootstrap nodes of a family, while that family's table is short of a full bucket.</summary>
    private IEnumerable<IPEndPoint> Seeds(AddressFamily family) =>
        (family == AddressFamily.InterNetworkV6 ? Routing6 : Routing).Count >= Options.BucketSize ? [] : _bootstrap.Where(b => Compact.Family(b) == family);

    private Task<LookupResult> Run(NodeId target, LookupKind kind, Func<KrpcMessage, DhtItem?>? read, bool stopAtFirst, Func<AddressFamily, IEnumerable<IPEndPoint>> seeds)
    {
        var done = new TaskCompletionSource<LookupResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        Start(target, kind, read, stopAtFirst, seeds, result => done.TrySetResult(kind == LookupKind.GetItem ? WithOwnItem(result) : result));
        return done.Task;
    }

    /// <summary>An item this node stores itself counts as found, when it is newer than what the lookup found.</summary>
    private LookupResult WithOwnItem(LookupResult result) =>
        Storage.Item(result.Target, Now) is { } own && (result.Item is null || own.Sequence > result.Item.Sequence) ? result with { Item = own } : result;

    /// <summary>Starts a lookup in each DHT this node is in (BEP 32), from that DHT's table and seeds.</summary>
    private void Start(NodeId target, LookupKind kind, Func<KrpcMessage, DhtItem?>? read, bool stopAtFirst, Func<AddressFamily, IEnumerable<IPEndPoint>> seeds, Action<LookupResult> done, Action<LookupNode>? earlyStore = null)
    {
        AddressFamily[] families = [.. new[] { AddressFamily.InterNetwork, AddressFamily.InterNetworkV6 }.Where(Speaks)];
        LookupGroup? lookup = null;
        lookup = new LookupGroup(this, families, target, kind, read, stopAtFirst, result =>
        {
            _lookups.RemoveAll(l => l.Lookup == lookup);
            done(result);
        }, earlyStore);
        _lookups.Add((lookup, Now + Options.LookupTimeout));
        lookup.Start(
            family => (family == AddressFamily.InterNetworkV6 ? Routing6 : Routing).Closest(target, Options.BucketSize * 2),
            family => seeds(family).Where(s => Compact.Family(s) == family));
    }

    private static BDictionary PutArguments(DhtItem item, long? compareAndSwap)
    {
        var arguments = new BDictionary().Set("v", Bencode.TryDecode(item.Value)!);
        if (item.IsMutable)
        {
            arguments.Set("k", item.PublicKey!).Set("sig", item.Signature!).Set("seq", item.Sequence);
            if (item.Salt.Length > 0)
            {
                arguments.Set("salt", item.Salt);
            }

            if (compareAndSwap is { } cas)
            {
                arguments.Set("cas", cas);
            }
        }

        return arguments;
    }

    private static DhtItem? ReadImmutable(KrpcMessage answer, NodeId target) =>
        answer.Body["v"] is { } v && DhtItem.Immutable(v.Raw.ToArray()) is { } item && item.Target == target ? item : null;

    private static DhtItem? ReadMutable(KrpcMessage answer, byte[] publicKey, byte[] salt)
    {
        var body = answer.Body;
        if (body["v"] is not { } v || body.Bytes("k") is not { } k || body.Bytes("sig") is not { } sig || body.Integer("seq") is not { } seq
            || !k.AsSpan().SequenceEqual(publicKey))
        {
            return null;
        }

        return DhtItem.TryMutable(v.Raw.ToArray(), k, salt, seq, sig);
    }

    /// <summary>
    /// A new observed IP (the first one learned, or a move) gets a new BEP 42 ID with fresh
    /// randomness: a DHT node that saw the old ID at the old address cannot tell the new one is the
    /// same node. Only the IP counts, as in BEP 42: a port that changes under one IP hides nothing
    /// (the IP is seen anyway), and symmetric NATs would otherwise churn the ID.
    /// </summary>
    private void FollowObservedAddress()
    {
        if ((ObservedAddress ?? ObservedAddress6)?.Address is not { } address || address.Equals(_idAddress))
        {
            return;
        }

        _idAddress = address;
        Id = NodeId.ForAddress(address);
        Routing.Rebase(Id);
        Routing6.Rebase(Id);
        IdChanges++;
        _announceId = true;
    }

    /// <summary>BEP 43 when unreachable (<see cref="DhtOptions.UnreachableAfter"/>): go read-only after a long silence, and probe again now and then.</summary>
    private void JudgeReachability(DateTimeOffset now)
    {
        if (Options.ReadOnly || Options.UnreachableAfter is not { } after)
        {
            return;
        }

        if (!ReadOnly && NodeCount > 0 && now - Max(_lastUnsolicitedQuery, _modeSince) >= after)
        {
            (ReadOnly, _modeSince) = (true, now);
        }
        else if (ReadOnly && now - _modeSince >= Options.ReachabilityProbe)
        {
            (ReadOnly, _modeSince) = (false, now);
        }
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    /// <summary>A query that will get no answer: the node that did not answer counts a failure, and whoever waits hears nothing.</summary>
    private void Fail(uint key, PendingQuery pending)
    {
        _pending.Remove(key);
        Counters.Timeouts++;
        if (pending.ExpectedId is { } id)
        {
            TableOf(pending.To).Failed(id);
        }

        pending.Answered(null);
    }

    private sealed class PendingQuery(IPEndPoint to, NodeId? expectedId, DateTimeOffset sentAt, Action<KrpcMessage?> answered, Action? stalled)
    {
        private Action? _stalled = stalled;

        public IPEndPoint To { get; } = to;

        public NodeId? ExpectedId { get; } = expectedId;

        public DateTimeOffset SentAt { get; } = sentAt;

        public void Answered(KrpcMessage? message) => answered(message);

        public void Stall()
        {
            var stall = _stalled;
            _stalled = null;
            stall?.Invoke();
        }
    }
}
