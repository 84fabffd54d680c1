using SecureChat.Dht;

namespace SecureChat.Fuzz.Targets;

/// <summary>
/// BEP 44 items as a node stores them: the input is one put query (its write token the
/// <see cref="DhtFuzzNode.TokenPlaceholder"/>). When the node accepts the item, a get for its
/// target must give back exactly the value put, with a signature that verifies.
/// </summary>
internal sealed class Bep44Target : IFuzzTarget
{
    public string Name => "bep44";

    public bool Run(byte[] input)
    {
        var node = new DhtFuzzNode();

        // What the node stored is the datagram as delivered: a placeholder may sit inside the value too.
        var delivered = node.Deliver(input);
        if (node.Sent.Count == 0 || node.LastReply() is not { Kind: KrpcKind.Response } stored
            || KrpcMessage.TryParse(delivered, out _) is not { Kind: KrpcKind.Query, Method: "put" } put)
        {
            return false;
        }

        var a = put.Body;
        var value = a["v"]!.Raw.ToArray();
        var key = a.Bytes("k");
        var target = key is null ? NodeId.Sha1(value) : DhtItem.MutableTarget(key, a.Bytes("salt") ?? []);
        _ = node.Deliver(KrpcMessage.Query([8, 8], "get", new BDictionary().Set("id", DhtFuzzNode.PeerId.ToArray()).Set("target", target.ToArray()), readOnly: true));
        var got = node.LastReply();
        FuzzInvariantException.Check(got.Kind == KrpcKind.Response && got.Body["v"] is { } v && v.Raw.Span.SequenceEqual(value), $"An accepted put ({stored.Kind}) is not what get returns.");
        if (key is not null)
        {
            FuzzInvariantException.Check(
                DhtItem.TryMutable(value, got.Body.Bytes("k")!, a.Bytes("salt") ?? [], got.Body.Integer("seq") ?? -1, got.Body.Bytes("sig") ?? []) is not null,
                "A stored mutable item does not verify.");
        }

        return true;
    }

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        var id = DhtFuzzNode.PeerId.ToArray();
        byte[] Put(BDictionary arguments) => KrpcMessage.Query([5, 5], "put", arguments.Set("id", id).Set("token", DhtFuzzNode.TokenPlaceholder), readOnly: false);
        yield return ("immutable", Put(new BDictionary().Set("v", Bencode.TryDecode("l4:spami42ee"u8.ToArray())!)));
        var salted = DhtItem.Sign(DhtFuzzNode.ItemSeed, "d1:ai1ee"u8.ToArray(), DhtFuzzNode.ItemSalt, 7);
        yield return ("mutable-salt", Put(new BDictionary().Set("v", Bencode.TryDecode(salted.Value)!).Set("k", salted.PublicKey!).Set("salt", salted.Salt).Set("seq", salted.Sequence).Set("sig", salted.Signature!)));
        var plain = DhtItem.Sign(DhtFuzzNode.ItemSeed, "12:Hello World!"u8.ToArray(), [], 1);
        yield return ("mutable-cas", Put(new BDictionary().Set("v", Bencode.TryDecode(plain.Value)!).Set("k", plain.PublicKey!).Set("seq", plain.Sequence).Set("sig", plain.Signature!).Set("cas", 0)));
    }
}
