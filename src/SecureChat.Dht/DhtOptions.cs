namespace SecureChat.Dht;

/// <summary>The address families a DHT node speaks (BEP 32: the IPv4 DHT and the IPv6 DHT are two networks).</summary>
[Flags]
public enum DhtFamilies
{
    None = 0,
    IPv4 = 1,
    IPv6 = 2,
    Both = IPv4 | IPv6,
}

/// <summary>How a <see cref="DhtNode"/> paces and bounds itself. The defaults follow BEP 5 and common practice on the Mainline DHT.</summary>
public sealed record DhtOptions
{
    /// <summary>
    /// The families this node can send on: its host sets what its socket reaches. A node on both
    /// keeps a routing table for each, runs every lookup in both DHTs, and asks for both kinds of
    /// nodes ("want": n4 and n6); a node on one family never queries the other.
    /// </summary>
    public DhtFamilies Families { get; init; } = DhtFamilies.Both;

    /// <summary>Kademlia's k: nodes per bucket, and how many closest nodes a lookup settles on.</summary>
    public int BucketSize { get; init; } = 8;

    /// <summary>Kademlia's α: queries a lookup keeps in flight.</summary>
    public int Parallelism { get; init; } = 4;

    /// <summary>How long to wait for an answer before a query counts as failed.</summary>
    public TimeSpan QueryTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>After this long without an answer a lookup stops waiting for the query and sends another in its place (it may still answer).</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromMilliseconds(800);

    /// <summary>BEP 5: a bucket untouched this long is refreshed with a lookup of a random ID in its range.</summary>
    public TimeSpan BucketRefresh { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>BEP 5: a node not heard from this long is questionable and gets pinged.</summary>
    public TimeSpan NodeQuestionable { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>BEP 43: send queries marked read-only and answer none, always; for short-lived nodes such as the CLI's.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>
    /// BEP 43 when unreachable: a node that has had nodes in its table this long without one
    /// unsolicited query (from a node not in its table) concludes that others cannot reach it (a NAT
    /// or a firewall) and goes read-only; every <see cref="ReachabilityProbe"/> it answers again
    /// for as long, to find out whether that changed. Null: never.
    /// </summary>
    public TimeSpan? UnreachableAfter { get; init; }

    public TimeSpan ReachabilityProbe { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>The queries sent and not yet answered, at most; more are refused until some finish.</summary>
    public int MaxPendingQueries { get; init; } = 512;

    /// <summary>Queries answered per second per source address (a token bucket with twice this as its burst).</summary>
    public int QueriesPerSecondPerAddress { get; init; } = 50;

    /// <summary>Queries answered per second in all.</summary>
    public int QueriesPerSecond { get; init; } = 2000;

    /// <summary>Source addresses tracked for rate limiting, at most.</summary>
    public int MaxTrackedAddresses { get; init; } = 4096;

    /// <summary>BEP 44 items stored for others, at most.</summary>
    public int MaxItems { get; init; } = 2000;

    /// <summary>BEP 44 suggests items live about two hours unless put again.</summary>
    public TimeSpan ItemLifetime { get; init; } = TimeSpan.FromHours(2);

    public int MaxSwarms { get; init; } = 2000;

    public int MaxPeersPerSwarm { get; init; } = 100;

    public TimeSpan PeerLifetime { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>Candidates a lookup remembers, closest first; farther ones are dropped.</summary>
    public int LookupCandidates { get; init; } = 64;

    /// <summary>A lookup gives up after this long whatever its state.</summary>
    public TimeSpan LookupTimeout { get; init; } = TimeSpan.FromSeconds(30);
}
