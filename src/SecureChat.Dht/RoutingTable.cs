using System.Net;

namespace SecureChat.Dht;

/// <summary>A node in the routing table and what this node knows of its liveness.</summary>
public sealed class RoutingEntry(NodeContact contact, DateTimeOffset lastResponse)
{
    public NodeContact Contact { get; } = contact;

    public NodeId Id => Contact.Id;

    public IPEndPoint EndPoint => Contact.EndPoint;

    /// <summary>When the node last answered a query of ours.</summary>
    public DateTimeOffset LastResponse { get; internal set; } = lastResponse;

    /// <summary>Queries in a row that went unanswered.</summary>
    public int Failures { get; internal set; }

    /// <summary>BEP 5: a node that failed to answer twice in a row is bad and may be replaced.</summary>
    public bool IsBad => Failures >= 2;
}

/// <summary>
/// BEP 5's Kademlia routing table, k nodes per bucket. Buckets are indexed by how many leading
/// bits a node's ID shares with this node's (the tree of split buckets that BEP 5 describes, with
/// every split done up front: only the buckets along this node's own ID ever fill). Only nodes
/// that answered one of this node's queries enter it; a full bucket keeps a short list of
/// replacements for when a node goes bad. Pure: no clock, no I/O.
/// </summary>
public sealed class RoutingTable
{
    public const int BucketCount = NodeId.Size * 8;

    private readonly Bucket[] _buckets;

    public RoutingTable(NodeId self, int bucketSize = 8)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketSize, 1);
        Self = self;
        BucketSize = bucketSize;
        _buckets = new Bucket[BucketCount];
        for (var i = 0; i < _buckets.Length; i++)
        {
            _buckets[i] = new Bucket();
        }
    }

    public NodeId Self { get; private set; }

    public int BucketSize { get; }

    public int Count => _buckets.Sum(b => b.Nodes.Count);

    public IEnumerable<RoutingEntry> All => _buckets.SelectMany(b => b.Nodes);

    /// <summary>
    /// Records a node that answered a query: refreshes it if known, adds it if its bucket has room
    /// or holds a bad node, else keeps it as a replacement. False when it was not added.
    /// A known ID at a new address is ignored while the old address still answers: it may be
    /// someone trying to take the ID's place.
    /// </summary>
    public bool Responded(NodeContact contact, DateTimeOffset now)
    {
        if (contact.Id == Self)
        {
            return false;
        }

        var bucket = BucketOf(contact.Id);
        bucket.LastChanged = now;
        var known = bucket.Find(contact.Id);
        if (known is not null)
        {
            if (!known.EndPoint.Equals(contact.EndPoint))
            {
                if (!known.IsBad)
                {
                    return false;
                }

                bucket.Nodes.Remove(known);
                known = null;
            }
            else
            {
                known.LastResponse = now;
                known.Failures = 0;
                return true;
            }
        }

        var entry = new RoutingEntry(contact, now);
        if (bucket.Nodes.Count < BucketSize)
        {
            bucket.Nodes.Add(entry);
            return true;
        }

        var bad = bucket.Nodes.Find(n => n.IsBad);
        if (bad is not null)
        {
            bucket.Nodes.Remove(bad);
            bucket.Nodes.Add(entry);
            return true;
        }

        bucket.Replacements.RemoveAll(r => r.Id == contact.Id);
        bucket.Replacements.Add(entry);
        if (bucket.Replacements.Count > BucketSize)
        {
            bucket.Replacements.RemoveAt(0);
        }

        return false;
    }

    /// <summary>Records a query to the node that went unanswered; a bad node gives way to the newest replacement.</summary>
    public void Failed(NodeId id)
    {
        var bucket = BucketOf(id);
        var known = bucket.Find(id);
        if (known is null)
        {
            bucket.Replacements.RemoveAll(r => r.Id == id);
            return;
        }

        known.Failures++;
        if (known.IsBad && bucket.Replacements.Count > 0)
        {
            bucket.Nodes.Remove(known);
            bucket.Nodes.Add(bucket.Replacements[^1]);
            bucket.Replacements.RemoveAt(bucket.Replacements.Count - 1);
        }
    }

    /// <summary>True when the node is in the table (not merely a replacement).</summary>
    public bool Contains(NodeId id) => BucketOf(id).Find(id) is not null;

    /// <summary>Whether a node with this ID would enter the table now, without displacing anyone good.</summary>
    public bool HasRoomFor(NodeId id)
    {
        if (id == Self)
        {
            return false;
        }

        var bucket = BucketOf(id);
        return bucket.Find(id) is null && (bucket.Nodes.Count < BucketSize || bucket.Nodes.Exists(n => n.IsBad));
    }

    /// <summary>The <paramref name="count"/> good nodes closest to a target, closest first.</summary>
    public List<NodeContact> Closest(NodeId target, int count)
    {
        var result = new List<NodeContact>(count + BucketSize);

        // The target's own bucket holds the closest nodes; then the nearer buckets (longer shared
        // prefix with this node) and the farther ones, in the order XOR distance ranks them.
        foreach (var bucket in _buckets)
        {
            foreach (var node in bucket.Nodes)
            {
                if (!node.IsBad)
                {
                    result.Add(node.Contact);
                }
            }
        }

        result.Sort((a, b) => target.CompareDistance(a.Id, b.Id));
        if (result.Count > count)
        {
            result.RemoveRange(count, result.Count - count);
        }

        return result;
    }

    /// <summary>Bucket indexes not changed since <paramref name="before"/>, among those that can hold nodes.</summary>
    public IEnumerable<int> StaleBuckets(DateTimeOffset before)
    {
        // Only buckets up to the deepest non-empty one can hold nodes; deeper ones are empty by nature.
        var deepest = Array.FindLastIndex(_buckets, b => b.Nodes.Count > 0);
        for (var i = 0; i <= Math.Min(deepest + 1, BucketCount - 1); i++)
        {
            if (_buckets[i].LastChanged < before)
            {
                yield return i;
            }
        }
    }

    /// <summary>Marks a bucket refreshed (a lookup into its range was started).</summary>
    public void Touch(int bucket, DateTimeOffset now) => _buckets[bucket].LastChanged = now;

    /// <summary>Nodes not heard from since <paramref name="before"/>: BEP 5's questionable nodes, to be pinged.</summary>
    public IEnumerable<RoutingEntry> Questionable(DateTimeOffset before) =>
        _buckets.SelectMany(b => b.Nodes).Where(n => n.LastResponse < before);

    /// <summary>
    /// Takes a new own ID (the node's address moved): every node and replacement is sorted into the
    /// bucket it belongs to under the new ID, keeping what is known of its liveness; a node whose
    /// new bucket is full becomes a replacement there.
    /// </summary>
    public void Rebase(NodeId self)
    {
        var nodes = _buckets.SelectMany(b => b.Nodes).ToList();
        var replacements = _buckets.SelectMany(b => b.Replacements).ToList();
        Self = self;
        foreach (var bucket in _buckets)
        {
            bucket.Nodes.Clear();
            bucket.Replacements.Clear();
            bucket.LastChanged = DateTimeOffset.MinValue;
        }

        foreach (var entry in nodes.Concat(replacements).Where(e => e.Id != self))
        {
            var bucket = BucketOf(entry.Id);
            var list = entry.IsBad || bucket.Nodes.Count >= BucketSize ? bucket.Replacements : bucket.Nodes;
            list.Add(entry);
            if (bucket.Replacements.Count > BucketSize)
            {
                bucket.Replacements.RemoveAt(0);
            }
        }
    }

    public void Remove(NodeId id)
    {
        var bucket = BucketOf(id);
        bucket.Nodes.RemoveAll(n => n.Id == id);
        bucket.Replacements.RemoveAll(n => n.Id == id);
    }

    private Bucket BucketOf(NodeId id) => _buckets[Math.Min(Self.CommonPrefixLength(id), BucketCount - 1)];

    private sealed class Bucket
    {
        public List<RoutingEntry> Nodes { get; } = [];

        public List<RoutingEntry> Replacements { get; } = [];

        public DateTimeOffset LastChanged { get; set; } = DateTimeOffset.MinValue;

        public RoutingEntry? Find(NodeId id) => Nodes.Find(n => n.Id == id);
    }
}
