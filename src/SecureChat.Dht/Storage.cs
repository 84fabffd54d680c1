using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace SecureChat.Dht;

/// <summary>
/// The announce tokens of BEP 5: a token is a MAC of the querier's IP address under a secret that
/// changes every five minutes, and tokens under the current or the previous secret are accepted.
/// Nothing is stored per querier.
/// </summary>
public sealed class TokenIssuer
{
    public const int TokenSize = 8;
    private static readonly TimeSpan Rotation = TimeSpan.FromMinutes(5);
    private byte[] _current = RandomNumberGenerator.GetBytes(32);
    private byte[] _previous = RandomNumberGenerator.GetBytes(32);
    private DateTimeOffset _rotatedAt = DateTimeOffset.MinValue;

    public byte[] Issue(IPAddress address, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(address);
        Rotate(now);
        return Mac(_current, address);
    }

    public bool Check(ReadOnlySpan<byte> token, IPAddress address, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(address);
        Rotate(now);
        return token.Length == TokenSize
            && (CryptographicOperations.FixedTimeEquals(token, Mac(_current, address))
                || CryptographicOperations.FixedTimeEquals(token, Mac(_previous, address)));
    }

    private void Rotate(DateTimeOffset now)
    {
        if (_rotatedAt == DateTimeOffset.MinValue)
        {
            _rotatedAt = now;
        }
        else if (now - _rotatedAt >= Rotation)
        {
            // Rotation happens only when tokens are issued or checked: after a quiet spell of two
            // periods or more, the current secret is too old to be kept as the previous one.
            _previous = now - _rotatedAt >= 2 * Rotation ? RandomNumberGenerator.GetBytes(32) : _current;
            _current = RandomNumberGenerator.GetBytes(32);
            _rotatedAt = now;
        }
    }

    private static byte[] Mac(byte[] secret, IPAddress address) =>
        HMACSHA256.HashData(secret, address.GetAddressBytes()).AsSpan(0, TokenSize).ToArray();
}

/// <summary>
/// What this node stores for others: BEP 44 items and BEP 5 peer announcements, each bounded in
/// count and expired after a while, so that no one can make it hold more than its limits.
/// </summary>
public sealed class DhtStorage(DhtOptions options)
{
    private readonly Dictionary<NodeId, (DhtItem Item, DateTimeOffset StoredAt)> _items = [];
    private readonly Dictionary<NodeId, Dictionary<IPEndPoint, DateTimeOffset>> _peers = [];
    private readonly DhtOptions _options = options;

    public int ItemCount => _items.Count;

    public int PeerCount => _peers.Values.Sum(p => p.Count);

    public int SwarmCount => _peers.Count;

    public DhtItem? Item(NodeId target, DateTimeOffset now)
    {
        if (!_items.TryGetValue(target, out var stored))
        {
            return null;
        }

        if (now - stored.StoredAt > _options.ItemLifetime)
        {
            _items.Remove(target);
            return null;
        }

        return stored.Item;
    }

    /// <summary>
    /// Stores an item, applying BEP 44's rules for mutable ones: a sequence number lower than the
    /// stored one, or equal to it with another value, is refused (302), and so is a compare-and-swap
    /// value that does not match (301); the same item again only renews its lifetime.
    /// Returns 0 when stored, else the KRPC error code.
    /// </summary>
    public int Store(DhtItem item, long? compareAndSwap, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(item);
        var current = Item(item.Target, now);
        if (item.IsMutable && current is not null)
        {
            if (compareAndSwap is { } cas && cas != current.Sequence)
            {
                return KrpcErrorCode.CasMismatch;
            }

            // BEP 44: "seq lower than (or equal to) what's already stored ... MUST reject", unless it is the same value again.
            if (item.Sequence < current.Sequence || (item.Sequence == current.Sequence && !item.Value.AsSpan().SequenceEqual(current.Value)))
            {
                return KrpcErrorCode.SequenceTooLow;
            }
        }

        if (current is null && _items.Count >= _options.MaxItems)
        {
            Evict(_items, (_, v) => v.StoredAt, now, _options.ItemLifetime);
        }

        _items[item.Target] = (item, now);
        return 0;
    }

    public void Announce(NodeId infoHash, IPEndPoint peer, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(peer);
        if (!_peers.TryGetValue(infoHash, out var swarm))
        {
            if (_peers.Count >= _options.MaxSwarms)
            {
                Evict(_peers, (_, s) => s.Values.DefaultIfEmpty(DateTimeOffset.MinValue).Max(), now, _options.PeerLifetime);
            }

            swarm = [];
            _peers[infoHash] = swarm;
        }

        if (!swarm.ContainsKey(peer) && swarm.Count >= _options.MaxPeersPerSwarm)
        {
            Evict(swarm, (_, at) => at, now, _options.PeerLifetime);
        }

        swarm[peer] = now;
    }

    /// <summary>Up to <paramref name="count"/> live peers of a swarm, of one address family when <paramref name="family"/> is given.</summary>
    public List<IPEndPoint> Peers(NodeId infoHash, int count, DateTimeOffset now, AddressFamily? family = null)
    {
        if (!_peers.TryGetValue(infoHash, out var swarm))
        {
            return [];
        }

        foreach (var stale in swarm.Where(p => now - p.Value > _options.PeerLifetime).Select(p => p.Key).ToList())
        {
            swarm.Remove(stale);
        }

        if (swarm.Count == 0)
        {
            _peers.Remove(infoHash);
        }

        return [.. swarm.Where(p => family is null || p.Key.AddressFamily == family).OrderByDescending(p => p.Value).Take(count).Select(p => p.Key)];
    }

    /// <summary>Drops everything past its lifetime.</summary>
    public void Expire(DateTimeOffset now)
    {
        foreach (var target in _items.Where(i => now - i.Value.StoredAt > _options.ItemLifetime).Select(i => i.Key).ToList())
        {
            _items.Remove(target);
        }

        foreach (var hash in _peers.Keys.ToList())
        {
            _ = Peers(hash, 0, now);
        }
    }

    /// <summary>Makes room for one entry: drops the expired ones, or else the oldest.</summary>
    private static void Evict<TKey, TValue>(Dictionary<TKey, TValue> map, Func<TKey, TValue, DateTimeOffset> age, DateTimeOffset now, TimeSpan lifetime)
        where TKey : notnull
    {
        var expired = map.Where(e => now - age(e.Key, e.Value) > lifetime).Select(e => e.Key).ToList();
        if (expired.Count == 0 && map.Count > 0)
        {
            expired.Add(map.MinBy(e => age(e.Key, e.Value)).Key);
        }

        foreach (var key in expired)
        {
            map.Remove(key);
        }
    }
}
