using System.Net;
using System.Net.Sockets;

namespace SecureChat.Dht;

/// <summary>The queries this node answers for others (BEP 5, BEP 32 and BEP 44), each argument checked.</summary>
public sealed partial class DhtNode
{
    private void Answer(KrpcMessage query, IPEndPoint from)
    {
        var now = Now;
        var a = query.Body;
        BDictionary? reply;
        var error = 0;
        var text = string.Empty;
        switch (query.Method)
        {
            case "ping":
                reply = Reply();
                break;
            case "find_node":
                reply = TargetOf(a, "target") is { } target ? WithNodes(Reply(), target, a, from) : null;
                break;
            case "get_peers":
                if (TargetOf(a, "info_hash") is not { } infoHash)
                {
                    reply = null;
                    break;
                }

                reply = WithNodes(Reply(), infoHash, a, from).Set("token", _tokens.Issue(from.Address, now));

                // BEP 32: the peers of the querier's own family (it asked over the family it can use).
                var peers = Storage.Peers(infoHash, 50, now, from.AddressFamily);
                if (peers.Count > 0)
                {
                    reply.Set("values", new BList([.. peers.Select(p => new BString(Compact.EncodePeer(p)))]));
                }

                break;
            case "announce_peer":
                (reply, error, text) = AnnouncePeer(a, from, now);
                break;
            case "get":
                reply = TargetOf(a, "target") is { } itemTarget ? GetItem(a, itemTarget, from, now) : null;
                break;
            case "put":
                (reply, error, text) = PutItem(a, from, now);
                break;
            default:
                error = KrpcErrorCode.MethodUnknown;
                text = "Method Unknown";
                reply = null;
                break;
        }

        if (reply is null && error == 0)
        {
            (error, text) = (KrpcErrorCode.Protocol, "Protocol Error");
        }

        // A querier that could enter the table is pinged first: only nodes that answer get in.
        if (!query.ReadOnly && TableOf(from).HasRoomFor(query.SenderId) && _pending.Count < Options.MaxPendingQueries / 2)
        {
            SendQuery(from, query.SenderId, "ping", new BDictionary(), _ => { }, null);
        }

        if (error != 0)
        {
            Counters.ErrorsSent++;
            _send(KrpcMessage.Error(query.TransactionId, error, text), from);
            return;
        }

        Counters.QueriesAnswered++;
        _send(KrpcMessage.Response(query.TransactionId, reply!, from), from);
    }

    private BDictionary Reply() => new BDictionary().Set("id", Id.ToArray());

    /// <summary>
    /// The closest nodes this node knows, of the families the querier wants (BEP 32): "nodes" from
    /// the IPv4 table, "nodes6" from the IPv6 one. Without a "want" (or with none this node can
    /// give) the querier gets its own family's, as BEP 5 nodes always did.
    /// </summary>
    private BDictionary WithNodes(BDictionary reply, NodeId target, BDictionary arguments, IPEndPoint from)
    {
        var (v4, v6) = Wanted(arguments);
        v4 &= Speaks(AddressFamily.InterNetwork);
        v6 &= Speaks(AddressFamily.InterNetworkV6);
        if (!v4 && !v6)
        {
            (v4, v6) = (from.AddressFamily == AddressFamily.InterNetwork, from.AddressFamily == AddressFamily.InterNetworkV6);
        }

        if (v4)
        {
            reply.Set("nodes", Compact.EncodeNodes(Routing.Closest(target, Options.BucketSize), AddressFamily.InterNetwork));
        }

        if (v6)
        {
            reply.Set("nodes6", Compact.EncodeNodes(Routing6.Closest(target, Options.BucketSize), AddressFamily.InterNetworkV6));
        }

        return reply;
    }

    /// <summary>BEP 32's "want": a list holding "n4", "n6" or both. Anything else in it (or a "want" that is no list) asks for nothing.</summary>
    private static (bool V4, bool V6) Wanted(BDictionary arguments)
    {
        var (v4, v6) = (false, false);
        if (arguments.List("want") is { } want)
        {
            foreach (var item in want.Items.Take(8))
            {
                if (item is BString { Value: var value })
                {
                    v4 |= value.AsSpan().SequenceEqual("n4"u8);
                    v6 |= value.AsSpan().SequenceEqual("n6"u8);
                }
            }
        }

        return (v4, v6);
    }

    private static NodeId? TargetOf(BDictionary arguments, string key) =>
        arguments.Bytes(key) is { } bytes && NodeId.TryFromBytes(bytes, out var id) ? id : null;

    private (BDictionary? Reply, int Error, string Text) AnnouncePeer(BDictionary a, IPEndPoint from, DateTimeOffset now)
    {
        if (TargetOf(a, "info_hash") is not { } infoHash || a.Bytes("token") is not { } token)
        {
            return (null, 0, string.Empty);
        }

        var implied = a.Integer("implied_port") == 1;
        var port = implied ? from.Port : a.Integer("port") ?? 0;
        if (port is < 1 or > 65535)
        {
            return (null, 0, string.Empty);
        }

        if (!_tokens.Check(token, from.Address, now))
        {
            return (null, KrpcErrorCode.Protocol, "bad token");
        }

        Storage.Announce(infoHash, new IPEndPoint(from.Address, (int)port), now);
        return (Reply(), 0, string.Empty);
    }

    private BDictionary GetItem(BDictionary a, NodeId target, IPEndPoint from, DateTimeOffset now)
    {
        var reply = WithNodes(Reply(), target, a, from).Set("token", _tokens.Issue(from.Address, now));
        if (Storage.Item(target, now) is not { } item)
        {
            return reply;
        }

        if (item.IsMutable)
        {
            reply.Set("seq", item.Sequence);

            // BEP 44: a querier that already has this sequence number (or a newer one) gets no value.
            if (a.Integer("seq") is { } known && known >= item.Sequence)
            {
                return reply;
            }

            reply.Set("k", item.PublicKey!).Set("sig", item.Signature!);
        }

        return reply.Set("v", Bencode.TryDecode(item.Value)!);
    }

    private (BDictionary? Reply, int Error, string Text) PutItem(BDictionary a, IPEndPoint from, DateTimeOffset now)
    {
        if (a.Bytes("token") is not { } token || a["v"] is not { } v)
        {
            return (null, 0, string.Empty);
        }

        var value = v.Raw.ToArray();
        if (value.Length > DhtItem.MaxValueSize)
        {
            return (null, KrpcErrorCode.ValueTooBig, "Message (v field) too big.");
        }

        if (!_tokens.Check(token, from.Address, now))
        {
            return (null, KrpcErrorCode.Protocol, "bad token");
        }

        DhtItem? item;
        long? cas = null;
        if (a["k"] is null)
        {
            item = DhtItem.Immutable(value);
        }
        else
        {
            if (a["salt"] is { } saltValue && saltValue is not BString)
            {
                return (null, 0, string.Empty);
            }

            var salt = a.Bytes("salt") ?? [];
            if (salt.Length > DhtItem.MaxSaltSize)
            {
                return (null, KrpcErrorCode.SaltTooBig, "salt (salt field) too big.");
            }

            if (a.Bytes("k") is not { Length: 32 } k || a.Bytes("sig") is not { Length: 64 } sig || a.Integer("seq") is not { } seq || seq < 0
                || (a["cas"] is { } casValue && casValue is not BInteger))
            {
                return (null, 0, string.Empty);
            }

            cas = a.Integer("cas");
            item = DhtItem.TryMutable(value, k, salt, seq, sig);
            if (item is null)
            {
                return (null, KrpcErrorCode.InvalidSignature, "invalid signature");
            }
        }

        if (item is null)
        {
            return (null, 0, string.Empty);
        }

        var stored = Storage.Store(item, cas, now);
        return stored switch
        {
            0 => (Reply(), 0, string.Empty),
            KrpcErrorCode.CasMismatch => (null, stored, "CAS mismatch, re-read value and try again."),
            _ => (null, stored, "Sequence number less than current."),
        };
    }
}

/// <summary>Token buckets per source address and in total, bounded in how many addresses they track.</summary>
internal sealed class RateLimiter(DhtOptions options)
{
    private readonly Dictionary<IPAddress, (double Tokens, DateTimeOffset At)> _buckets = [];
    private (double Tokens, DateTimeOffset At) _total = (options.QueriesPerSecond, DateTimeOffset.MinValue);

    public bool Allow(IPAddress address, DateTimeOffset now)
    {
        address = Source(address);
        if (!_buckets.TryGetValue(address, out var bucket))
        {
            if (_buckets.Count >= options.MaxTrackedAddresses)
            {
                Expire(now);
                if (_buckets.Count >= options.MaxTrackedAddresses)
                {
                    return false;
                }
            }

            bucket = (options.QueriesPerSecondPerAddress * 2, now);
        }

        var allowed = Take(ref bucket, options.QueriesPerSecondPerAddress, now);
        _buckets[address] = bucket;

        // Only a query within its address's budget draws on the total: else one noisy address would use up everyone's share.
        return allowed && Take(ref _total, options.QueriesPerSecond, now);
    }

    /// <summary>
    /// The source a bucket belongs to: the IPv4 address, or the /64 of an IPv6 one. One IPv6 host
    /// usually holds a whole /64 and could otherwise send from a new address each query, getting a
    /// fresh budget each time and filling the tracked addresses.
    /// </summary>
    internal static IPAddress Source(IPAddress address)
    {
        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6 || address.IsIPv4MappedToIPv6)
        {
            return address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes);
    }

    /// <summary>Forgets addresses whose bucket has refilled: they cost nothing to recreate.</summary>
    public void Expire(DateTimeOffset now)
    {
        var full = options.QueriesPerSecondPerAddress * 2;
        foreach (var address in _buckets.Where(b => b.Value.Tokens + ((now - b.Value.At).TotalSeconds * options.QueriesPerSecondPerAddress) >= full).Select(b => b.Key).ToList())
        {
            _buckets.Remove(address);
        }
    }

    private static bool Take(ref (double Tokens, DateTimeOffset At) bucket, int rate, DateTimeOffset now)
    {
        var elapsed = bucket.At == DateTimeOffset.MinValue ? 0 : Math.Max(0, (now - bucket.At).TotalSeconds);
        var tokens = Math.Min(rate * 2, bucket.Tokens + (elapsed * rate));
        bucket = (tokens, now);
        if (tokens < 1)
        {
            return false;
        }

        bucket.Tokens = tokens - 1;
        return true;
    }
}
