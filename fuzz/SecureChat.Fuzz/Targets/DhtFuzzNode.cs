using System.Net;
using SecureChat.Dht;

namespace SecureChat.Fuzz.Targets;

/// <summary>
/// A real <see cref="DhtNode"/> to hand datagrams to, with a fixed clock and its sends captured.
/// Inputs name what the node makes up at random with placeholders that are swapped in before the
/// datagram is delivered: <see cref="TokenPlaceholder"/> for a write token the node issued to the
/// sender, and <see cref="GetPlaceholder"/> / <see cref="FindNodePlaceholder"/> for the transaction
/// IDs of the node's own get and find_node queries to the sender. So put and announce_peer get past
/// the token check, and responses reach the lookups that wait for them.
/// </summary>
internal sealed class DhtFuzzNode
{
    public static readonly byte[] TokenPlaceholder = "TOKENTOK"u8.ToArray();
    public static readonly byte[] GetPlaceholder = "TXGT"u8.ToArray();
    public static readonly byte[] FindNodePlaceholder = "TXFN"u8.ToArray();

    public static readonly IPEndPoint PeerEndPoint = new(IPAddress.Parse("198.51.100.7"), 6881);
    public static readonly NodeId PeerId = NodeId.Sha1("fuzz peer"u8);
    public static readonly NodeId OwnId = NodeId.Sha1("fuzz node"u8);

    /// <summary>The BEP 44 key the node's own lookup asks for (the seeds sign items with it).</summary>
    public static readonly byte[] ItemSeed = FuzzKeys.Key("dht item");
    public static readonly byte[] ItemSalt = "fuzz salt"u8.ToArray();

    private readonly List<(byte[] Datagram, IPEndPoint To)> _sent = [];
    private readonly byte[] _token;
    private readonly byte[] _getTransaction;
    private readonly byte[] _findNodeTransaction;

    public DhtFuzzNode()
    {
        Node = new DhtNode(OwnId, new DhtOptions { QueriesPerSecondPerAddress = 100_000, QueriesPerSecond = 100_000 }, FixedTime.Instance, (datagram, to) => _sent.Add((datagram, to)));
        _ = Node.Bootstrap([PeerEndPoint]);
        _findNodeTransaction = LastQueryTransaction("find_node");
        _ = Node.GetMutable(ItemPublicKey, ItemSalt);
        _getTransaction = LastQueryTransaction("get");
        Node.Receive(KrpcMessage.Query([0, 1], "get_peers", new BDictionary().Set("id", PeerId.ToArray()).Set("info_hash", PeerId.ToArray()), readOnly: true), PeerEndPoint);
        _token = LastReply().Body.Bytes("token") ?? throw new InvalidOperationException("get_peers gave no token.");
        _sent.Clear();
    }

    public static byte[] ItemPublicKey { get; } = PublicKeyOf(ItemSeed);

    public DhtNode Node { get; }

    public IReadOnlyList<(byte[] Datagram, IPEndPoint To)> Sent => _sent;

    /// <summary>
    /// Delivers one datagram from the peer, placeholders swapped, and returns it as delivered;
    /// every datagram the node sends in turn must be KRPC.
    /// </summary>
    public byte[] Deliver(byte[] datagram)
    {
        var from = _sent.Count;
        var delivered = Substitute(datagram);
        Node.Receive(delivered, PeerEndPoint);
        for (var i = from; i < _sent.Count; i++)
        {
            FuzzInvariantException.Check(KrpcMessage.TryParse(_sent[i].Datagram, out var problem) is not null, $"The node sent a datagram that is not KRPC ({problem}).");
        }

        return delivered;
    }

    /// <summary>The node's last answer to the peer, parsed.</summary>
    public KrpcMessage LastReply() =>
        KrpcMessage.TryParse(_sent[^1].Datagram, out _) ?? throw new FuzzInvariantException("The node's reply is not KRPC.");

    public static byte[] PublicKeyOf(byte[] seed)
    {
        var publicKey = new byte[32];
        SecureChat.Crypto.Ed25519.DerivePublicKey(seed, publicKey);
        return publicKey;
    }

    private byte[] Substitute(byte[] datagram)
    {
        var copy = datagram.ToArray();
        Replace(copy, TokenPlaceholder, _token);
        Replace(copy, GetPlaceholder, _getTransaction);
        Replace(copy, FindNodePlaceholder, _findNodeTransaction);
        return copy;
    }

    private static void Replace(byte[] data, byte[] placeholder, byte[] value)
    {
        for (var from = 0; data.AsSpan(from).IndexOf(placeholder) is var at and >= 0; from += at + placeholder.Length)
        {
            value.CopyTo(data, from + at);
        }
    }

    private byte[] LastQueryTransaction(string method)
    {
        var query = KrpcMessage.TryParse(_sent[^1].Datagram, out _);
        return query is { Kind: KrpcKind.Query } && query.Method == method && query.TransactionId.Length == GetPlaceholder.Length
            ? query.TransactionId
            : throw new InvalidOperationException($"The node did not send its {method} query.");
    }
}
