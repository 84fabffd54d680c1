using System.Net;
using System.Net.Sockets;

namespace SecureChat.Dht;

/// <summary>What an iterative lookup asks each node.</summary>
public enum LookupKind
{
    FindNode,
    GetPeers,
    GetItem,
}

/// <summary>A node a lookup settled on, with the write token it handed out (for announce_peer and put).</summary>
public sealed record LookupNode(NodeContact Contact, byte[]? Token, int Depth);

/// <summary>
/// The outcome of an iterative lookup: the closest nodes that answered (closest first), what they
/// returned, how many queries it took, and how many hops the closest answer was from the start
/// (1 when a node from this node's own table answered).
/// </summary>
public sealed record LookupResult(
    NodeId Target,
    IReadOnlyList<LookupNode> Closest,
    IReadOnlyList<IPEndPoint> Peers,
    DhtItem? Item,
    int Queries,
    int Hops);

/// <summary>
/// Kademlia's iterative lookup (BEP 5) in the DHT of one address family (BEP 32): keep the
/// candidates sorted by distance to the target, keep α queries in flight to the closest not yet
/// asked, learn closer nodes from every answer, and stop when the k closest known nodes have all
/// answered. A query that has not answered within the stall timeout stops counting against α so
/// that one slow node cannot hold a lookup up; it is still waited for until the query timeout.
/// Nodes of the other family that answers carry ("nodes6" in an IPv4 answer, say) go to the
/// sibling lookup in that family's DHT; a lookup with nothing left to ask waits while its sibling
/// may still hand it some. Driven by the node that owns it; not thread-safe.
/// </summary>
internal sealed class Lookup
{
    private readonly List<Candidate> _candidates = [];
    private readonly HashSet<IPEndPoint> _seen = [];
    private readonly List<IPEndPoint> _peers = [];
    private readonly HashSet<IPEndPoint> _peerSet = [];
    private readonly DhtNode _node;
    private readonly Action<LookupResult> _done;
    private readonly DhtOptions _options;
    private int _active;
    private int _outstanding;
    private int _queries;
    private int _earlyStores;
    private bool _finished;
    private bool _started;
    private bool _idle;

    public Lookup(DhtNode node, AddressFamily family, NodeId target, LookupKind kind, Func<KrpcMessage, DhtItem?>? readItem, bool stopAtFirstItem, Action<LookupResult> done)
    {
        _node = node;
        Family = family;
        _options = node.Options;
        Target = target;
        Kind = kind;
        ReadItem = readItem;
        StopAtFirstItem = stopAtFirstItem;
        _done = done;
    }

    public NodeId Target { get; }

    public LookupKind Kind { get; }

    /// <summary>The DHT this lookup walks: only nodes of this family are asked.</summary>
    public AddressFamily Family { get; }

    /// <summary>The lookup of the same target in the other family's DHT, if the node runs one.</summary>
    public Lookup? Sibling { get; set; }

    public bool Finished => _finished;

    public DhtItem? Item { get; private set; }

    private Func<KrpcMessage, DhtItem?>? ReadItem { get; }

    private bool StopAtFirstItem { get; }

    /// <summary>
    /// For a lookup that collects write tokens for a put or an announce: called, at most once per
    /// node, when a node answers with a token while it is among the k closest that have answered
    /// so far, so that the store reaches it now rather than when the walk has waited out the nodes
    /// that do not answer. At most 2k calls per lookup, so that a walk through many nodes (each
    /// closer than the last) sends a bounded number of stores.
    /// </summary>
    public Action<LookupNode>? EarlyStore { get; init; }

    /// <summary>Starts from the node's own table, and from seed addresses whose IDs are unknown (bootstrap nodes).</summary>
    public void Start(IEnumerable<NodeContact> known, IEnumerable<IPEndPoint> seeds)
    {
        _started = true;
        foreach (var contact in known)
        {
            Add(contact, 0);
        }

        foreach (var seed in seeds)
        {
            if (Compact.Family(seed) == Family && _seen.Add(seed))
            {
                Send(null, seed);
            }
        }

        Step();
    }

    /// <summary>Gives up (the lookup timeout passed or the node stops).</summary>
    public void Abandon() => Finish();

    /// <summary>Takes nodes of this lookup's family that an answer in the other family's DHT named.</summary>
    public void Offer(IEnumerable<NodeContact> contacts, int depth)
    {
        if (_finished)
        {
            return;
        }

        foreach (var contact in contacts)
        {
            Add(contact, depth);
        }

        if (_started)
        {
            Step();
        }
    }

    /// <summary>The sibling finished: a lookup that waited for it may now finish too.</summary>
    private void SiblingFinished()
    {
        if (_started && !_finished)
        {
            Step();
        }
    }

    private void Add(NodeContact contact, int depth)
    {
        if (contact.Id == _node.Id || Compact.Family(contact.EndPoint) != Family || !_seen.Add(contact.EndPoint))
        {
            return;
        }

        var candidate = new Candidate(contact, depth);
        var index = _candidates.BinarySearch(candidate, Comparer<Candidate>.Create((a, b) => Target.CompareDistance(a.Contact.Id, b.Contact.Id)));
        _candidates.Insert(index < 0 ? ~index : index, candidate);
        if (_candidates.Count > _options.LookupCandidates)
        {
            // A node that failed counts for nothing any more (and _seen keeps it out): it goes first,
            // else the farthest not yet asked. Else dead nodes would fill the list and shut out the
            // closer nodes learned later.
            var dropped = _candidates.FindLastIndex(c => c.State == CandidateState.Failed);
            if (dropped < 0)
            {
                dropped = _candidates.FindLastIndex(c => c.State == CandidateState.New);
            }

            if (dropped >= 0)
            {
                _candidates.RemoveAt(dropped);
            }
        }
    }

    private void Step()
    {
        if (_finished)
        {
            return;
        }

        if (StopAtFirstItem && Item is not null)
        {
            Finish();
            return;
        }

        while (true)
        {
            var best = Best();
            var waiting = best.Any(c => c.State is CandidateState.InFlight or CandidateState.Stalled);
            var next = best.FirstOrDefault(c => c.State == CandidateState.New);
            if (next is null)
            {
                // Done once the k closest have all answered and the bootstrap seeds are in; with
                // fewer than k, not while the sibling may still name nodes of this family.
                _idle = !waiting && _outstanding == 0;
                if (_idle && Sibling is not { _finished: false, _idle: false })
                {
                    Finish();
                }
                else if (!waiting && best.Count >= _options.BucketSize)
                {
                    Finish();
                }

                return;
            }

            _idle = false;

            if (_active >= _options.Parallelism)
            {
                return;
            }

            if (!Send(next, next.Contact.EndPoint))
            {
                // The node has too many queries out; the next answer or timeout steps again.
                if (_outstanding == 0)
                {
                    Finish();
                }

                return;
            }
        }
    }

    private List<Candidate> Best()
    {
        var best = new List<Candidate>(_options.BucketSize);
        foreach (var candidate in _candidates)
        {
            if (candidate.State == CandidateState.Failed)
            {
                continue;
            }

            best.Add(candidate);
            if (best.Count == _options.BucketSize)
            {
                break;
            }
        }

        return best;
    }

    private bool Send(Candidate? candidate, IPEndPoint endPoint)
    {
        var arguments = new BDictionary();
        var method = Kind switch
        {
            LookupKind.FindNode => "find_node",
            LookupKind.GetPeers => "get_peers",
            _ => "get",
        };
        arguments.Set(Kind switch { LookupKind.GetPeers => "info_hash", _ => "target" }, Target.ToArray());

        // BEP 32: a node in both DHTs asks for both kinds of nodes, and hands the other kind to the
        // sibling lookup; a node in one asks for its own kind, which is the default.
        if (_node.Options.Families == DhtFamilies.Both)
        {
            arguments.Set("want", new BList([BString.Of("n4"), BString.Of("n6")]));
        }
        var sent = _node.SendQuery(
            endPoint,
            candidate?.Contact.Id,
            method,
            arguments,
            response => OnAnswer(candidate, endPoint, response),
            () => OnStall(candidate));
        if (!sent)
        {
            return false;
        }

        _queries++;
        _outstanding++;
        if (candidate is not null)
        {
            candidate.State = CandidateState.InFlight;
            _active++;
        }

        return true;
    }

    private void OnStall(Candidate? candidate)
    {
        if (candidate is { State: CandidateState.InFlight })
        {
            candidate.State = CandidateState.Stalled;
            _active--;
            Step();
        }
    }

    private void OnAnswer(Candidate? candidate, IPEndPoint endPoint, KrpcMessage? response)
    {
        _outstanding--;
        if (candidate is not null)
        {
            if (candidate.State == CandidateState.InFlight)
            {
                _active--;
            }

            candidate.State = response is { Kind: KrpcKind.Response } ? CandidateState.Responded : CandidateState.Failed;
        }

        if (_finished || response is not { Kind: KrpcKind.Response } answer)
        {
            Step();
            return;
        }

        var depth = (candidate?.Depth ?? -1) + 1;
        if (candidate is not null)
        {
            candidate.Token = answer.Body.Bytes("token") is { Length: > 0 and <= DhtNode.MaxTokenSize } token ? token : null;
        }
        else
        {
            // A bootstrap seed answered: it is a candidate like any other from now on.
            var seed = new Candidate(new NodeContact(answer.SenderId, endPoint), 0) { State = CandidateState.Responded };
            seed.Token = answer.Body.Bytes("token") is { Length: > 0 and <= DhtNode.MaxTokenSize } t ? t : null;
            var index = _candidates.BinarySearch(seed, Comparer<Candidate>.Create((a, b) => Target.CompareDistance(a.Contact.Id, b.Contact.Id)));
            _candidates.Insert(index < 0 ? ~index : index, seed);
            candidate = seed;
        }

        StoreEarly(candidate);

        foreach (var node in DhtNode.NodesOf(answer, Family))
        {
            Add(node, depth);
        }

        Sibling?.Offer(DhtNode.NodesOf(answer, Sibling.Family), depth);

        // BEP 32: "values" may mix IPv4 and IPv6 peers; anything else in it is dropped.
        if (Kind == LookupKind.GetPeers && answer.Body.List("values") is { } values)
        {
            foreach (var value in values.Items.Take(200))
            {
                if (value is BString s && Compact.DecodePeer(s.Value) is { } peer && Compact.IsNodeAddress(peer.Address) && _peerSet.Add(peer) && _peers.Count < 1000)
                {
                    _peers.Add(peer);
                }
            }
        }

        // Only an answer that could replace the item held is checked (a signature check each):
        // the first, or one that offers a higher sequence number. An immutable item needs one.
        if (Kind == LookupKind.GetItem
            && (Item is null || (answer.Body.Integer("seq") is { } offered && offered > Item.Sequence))
            && ReadItem?.Invoke(answer) is { } item
            && (Item is null || item.Sequence > Item.Sequence))
        {
            Item = item;
        }

        Step();
    }

    private void StoreEarly(Candidate answered)
    {
        if (EarlyStore is null || answered.Token is null || _earlyStores >= 2 * _options.BucketSize)
        {
            return;
        }

        var closer = 0;
        foreach (var candidate in _candidates)
        {
            if (candidate == answered)
            {
                break;
            }

            if (candidate.State == CandidateState.Responded && ++closer >= _options.BucketSize)
            {
                return;
            }
        }

        _earlyStores++;
        EarlyStore(new LookupNode(answered.Contact, answered.Token, answered.Depth));
    }

    private void Finish()
    {
        if (_finished)
        {
            return;
        }

        _finished = true;
        var closest = _candidates
            .Where(c => c.State == CandidateState.Responded)
            .Take(_options.BucketSize)
            .Select(c => new LookupNode(c.Contact, c.Token, c.Depth))
            .ToList();
        var hops = closest.Count > 0 ? closest[0].Depth + 1 : 0;
        _done(new LookupResult(Target, closest, _peers, Item, _queries, hops));
        Sibling?.SiblingFinished();
    }

    private enum CandidateState
    {
        New,
        InFlight,
        Stalled,
        Responded,
        Failed,
    }

    private sealed class Candidate(NodeContact contact, int depth)
    {
        public NodeContact Contact { get; } = contact;

        public int Depth { get; } = depth;

        public CandidateState State { get; set; }

        public byte[]? Token { get; set; }
    }
}

/// <summary>
/// One lookup of a target in each DHT the node is in (BEP 32: the IPv4 and the IPv6 DHT are
/// separate networks, and an item put by an IPv4-only node lives on IPv4 nodes only), ended
/// together: the result holds the closest nodes of both, the peers of both and the newest item.
/// An item-stopping lookup that finds its item ends the other at once. Early stores
/// (<see cref="Lookup.EarlyStore"/>) are made and bounded in each family's lookup on its own, as
/// each family's k closest are where a reader in that DHT looks.
/// </summary>
internal sealed class LookupGroup
{
    private readonly List<Lookup> _lookups = [];
    private readonly List<LookupResult> _results = [];
    private readonly Action<LookupResult> _done;
    private readonly NodeId _target;
    private readonly bool _stopAtFirstItem;
    private bool _finished;

    public LookupGroup(DhtNode node, IReadOnlyList<AddressFamily> families, NodeId target, LookupKind kind, Func<KrpcMessage, DhtItem?>? readItem, bool stopAtFirstItem, Action<LookupResult> done, Action<LookupNode>? earlyStore = null)
    {
        _target = target;
        _stopAtFirstItem = stopAtFirstItem;
        _done = done;
        foreach (var family in families)
        {
            _lookups.Add(new Lookup(node, family, target, kind, readItem, stopAtFirstItem, Finished) { EarlyStore = earlyStore });
        }

        if (_lookups.Count == 2)
        {
            (_lookups[0].Sibling, _lookups[1].Sibling) = (_lookups[1], _lookups[0]);
        }
    }

    /// <summary>Starts each family's lookup from that family's table and seeds.</summary>
    public void Start(Func<AddressFamily, IEnumerable<NodeContact>> known, Func<AddressFamily, IEnumerable<IPEndPoint>> seeds)
    {
        if (_lookups.Count == 0)
        {
            Finished(new LookupResult(_target, [], [], null, 0, 0));
            return;
        }

        foreach (var lookup in _lookups)
        {
            if (!lookup.Finished)
            {
                lookup.Start(known(lookup.Family), seeds(lookup.Family));
            }
        }
    }

    public void Abandon()
    {
        foreach (var lookup in _lookups)
        {
            lookup.Abandon();
        }
    }

    private void Finished(LookupResult result)
    {
        if (_finished)
        {
            return;
        }

        _results.Add(result);
        if (_stopAtFirstItem && result.Item is not null)
        {
            _finished = true;
            foreach (var lookup in _lookups)
            {
                lookup.Abandon();
            }

            _done(result);
            return;
        }

        if (_results.Count < Math.Max(1, _lookups.Count))
        {
            return;
        }

        _finished = true;
        _done(Merge());
    }

    private LookupResult Merge()
    {
        if (_results.Count == 1)
        {
            return _results[0];
        }

        var closest = _results.SelectMany(r => r.Closest).ToList();
        closest.Sort((a, b) => _target.CompareDistance(a.Contact.Id, b.Contact.Id));
        var peers = _results.SelectMany(r => r.Peers).Distinct().ToList();
        var item = _results.Select(r => r.Item).OfType<DhtItem>().MaxBy(i => i.Sequence);
        var hops = closest.Count > 0 ? closest[0].Depth + 1 : 0;
        return new LookupResult(_target, closest, peers, item, _results.Sum(r => r.Queries), hops);
    }
}
