using SecureChat.Dht;

namespace SecureChat.Fuzz.Targets;

/// <summary>
/// KRPC (BEP 5, 32, 42, 43, 44) as a node receives it: each datagram of the input (behind 2-byte
/// lengths) goes to <see cref="DhtNode.Receive"/> from one peer, which answers queries and feeds
/// responses to its pending lookups (<see cref="DhtFuzzNode"/> for the placeholders).
/// </summary>
internal sealed class KrpcTarget : IFuzzTarget
{
    public string Name => "krpc";

    public bool Run(byte[] input)
    {
        var node = new DhtFuzzNode();
        foreach (var datagram in Frames.Split(input, max: 16))
        {
            _ = node.Deliver(datagram);
        }

        node.Node.Tick();
        var counters = node.Node.Counters;
        return counters.QueriesAnswered + counters.ErrorsSent + counters.ResponsesMatched > 0;
    }

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        var id = DhtFuzzNode.PeerId.ToArray();
        var target = DhtFuzzNode.OwnId.ToArray();
        byte[] Query(string method, BDictionary arguments) => KrpcMessage.Query([7, 7], method, arguments.Set("id", id), readOnly: false);
        byte[] Response(byte[] transaction, BDictionary values) => KrpcMessage.Response(transaction, values.Set("id", id), DhtFuzzNode.PeerEndPoint);
        var nodes = Compact.EncodeNodes([new NodeContact(NodeId.Sha1("other"u8), new System.Net.IPEndPoint(System.Net.IPAddress.Parse("203.0.113.9"), 4000))], System.Net.Sockets.AddressFamily.InterNetwork);
        yield return ("queries", Frames.Join(
            Query("ping", new BDictionary()),
            Query("find_node", new BDictionary().Set("target", target)),
            Query("get_peers", new BDictionary().Set("info_hash", target))));
        yield return ("announce-then-get-peers", Frames.Join(
            Query("announce_peer", new BDictionary().Set("info_hash", target).Set("port", 7000).Set("token", DhtFuzzNode.TokenPlaceholder)),
            Query("get_peers", new BDictionary().Set("info_hash", target))));
        var item = DhtItem.Sign(DhtFuzzNode.ItemSeed, "5:hello"u8.ToArray(), DhtFuzzNode.ItemSalt, 3);
        yield return ("responses", Frames.Join(
            Response(DhtFuzzNode.FindNodePlaceholder, new BDictionary().Set("nodes", nodes)),
            Response(DhtFuzzNode.GetPlaceholder, new BDictionary().Set("nodes", nodes).Set("token", [1, 2, 3, 4]).Set("k", item.PublicKey!).Set("seq", item.Sequence).Set("sig", item.Signature!).Set("v", Bencode.TryDecode(item.Value)!))));
        yield return ("error-reply", Frames.Join(KrpcMessage.Error(DhtFuzzNode.GetPlaceholder, KrpcErrorCode.Generic, "A Generic Error Ocurred")));
        yield return ("unknown-method", Frames.Join(Query("vote", new BDictionary().Set("target", target))));

        // BEP 32: "want" in queries, "nodes6" (38-byte entries) and an 18-byte "ip" in answers.
        var both = new BList([BString.Of("n4"), BString.Of("n6")]);
        yield return ("want", Frames.Join(
            Query("find_node", new BDictionary().Set("target", target).Set("want", both)),
            Query("get_peers", new BDictionary().Set("info_hash", target).Set("want", new BList([BString.Of("n6")]))),
            Query("get", new BDictionary().Set("target", target).Set("want", both))));
        var nodes6 = Compact.EncodeNodes([new NodeContact(NodeId.Sha1("six"u8), new System.Net.IPEndPoint(System.Net.IPAddress.Parse("2001:db8::9"), 4000))], System.Net.Sockets.AddressFamily.InterNetworkV6);
        var answer6 = new BDictionary().Set("t", DhtFuzzNode.FindNodePlaceholder).Set("y", "r")
            .Set("r", new BDictionary().Set("id", id).Set("nodes", nodes).Set("nodes6", nodes6))
            .Set("ip", Compact.EncodePeer(new System.Net.IPEndPoint(System.Net.IPAddress.Parse("2001:db8::7"), 6881)));
        yield return ("nodes6", Frames.Join(answer6.Encode()));
    }
}
