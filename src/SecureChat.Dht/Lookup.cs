using System.Net;

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
/// Kademlia's iterative lookup (BEP 5): keep the candidates sorted by distance to the target, keep
/// α queries in flight to the closest not yet asked, learn closer nodes from every answer, and
/// stop when the k closest known nodes have all answered. A query that has not answered within the
/// stall timeout stops counting against α so that one slow node cannot hold a lookup up; it is
/// still waited for until the query timeout. Driven by the node that owns it; not thread-safe.
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
    private bool _finished;

    public Lookup(DhtNode node, NodeId target, LookupKind kind, Func<KrpcMessage, DhtItem?>? readItem, bool stopAtFirstItem, Action<LookupResult> done)
    {
        _node = node;
        _options = node.Options;
        Target = target;
        Kind = kind;
        ReadItem = readItem;
        StopAtFirstItem = stopAtFirstItem;
        _done = done;
    }

    public NodeId Target { get; }

    public LookupKind Kind { get; }

    public DateTimeOffset StartedAt { get; set; }

    public DhtItem? Item { get; private set; }

    private Func<KrpcMessage, DhtItem?>? ReadItem { get; }

    private bool StopAtFirstItem { get; }

    /// <summary>Starts from the node's own table, and from seed addresses whose IDs are unknown (bootstrap nodes).</summary>
    public void Start(IEnumerable<NodeContact> known, IEnumerable<IPEndPoint> seeds)
    {
        foreach (var contact in known)
        {
            Add(contact, 0);
        }

        foreach (var seed in seeds)
        {
            if (_seen.Add(seed))
            {
                Send(null, seed);
            }
        }

        Step();
    }

    /// <summary>Gives up (the lookup timeout passed or the node stops).</summary>
    public void Abandon() => Finish();

    private void Add(NodeContact contact, int depth)
    {
        if (contact.Id == _node.Id || !_seen.Add(contact.EndPoint))
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
                // Done once the k closest have all answered and the bootstrap seeds are in.
                if (!waiting && _outstanding == 0)
                {
                    Finish();
                }
                else if (!waiting && best.Count >= _options.BucketSize)
                {
                    Finish();
                }

                return;
            }

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
        }

        foreach (var node in DhtNode.NodesOf(answer))
        {
            Add(node, depth);
        }

        if (Kind == LookupKind.GetPeers && answer.Body.List("values") is { } values)
        {
            foreach (var value in values.Items.Take(200))
            {
                if (value is BString s && Compact.DecodePeer(s.Value) is { } peer && _peerSet.Add(peer) && _peers.Count < 1000)
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
