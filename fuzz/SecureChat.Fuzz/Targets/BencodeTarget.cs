using System.Net.Sockets;
using SecureChat.Dht;

namespace SecureChat.Fuzz.Targets;

/// <summary>
/// Bencode (BEP 3) with its limits, the compact peer and node formats (BEP 5), and the KRPC
/// envelope checks of <see cref="KrpcMessage.TryParse"/>, each on the raw input.
/// </summary>
internal sealed class BencodeTarget : IFuzzTarget
{
    public string Name => "bencode";

    public bool Run(byte[] input)
    {
        var decoded = Bencode.TryDecode(input, out var value, out var error);
        FuzzInvariantException.Check(decoded == (error == BencodeError.None) && decoded == (value is not null), "Bencode's result, value and error disagree.");
        if (value is not null)
        {
            FuzzInvariantException.Check(value.Encode().AsSpan().SequenceEqual(input), "A decoded value does not encode back to its bytes.");
        }

        var accepted = decoded;
        if (Compact.DecodePeer(input) is { } peer)
        {
            // An IPv4-mapped IPv6 address comes back as the 6-byte IPv4 form, on purpose.
            FuzzInvariantException.Check(Equals(Compact.DecodePeer(Compact.EncodePeer(peer)), Compact.Normalize(peer)), "A compact peer does not survive its own encoding.");
            accepted = true;
        }

        foreach (var family in (ReadOnlySpan<AddressFamily>)[AddressFamily.InterNetwork, AddressFamily.InterNetworkV6])
        {
            var nodes = Compact.DecodeNodes(input, family);
            FuzzInvariantException.Check(nodes.Count <= input.Length / 26, "More compact nodes than the bytes can hold.");
            accepted |= nodes.Count > 0;
        }

        if (KrpcMessage.TryParse(input, out var problem) is { } message)
        {
            FuzzInvariantException.Check(problem.Length == 0 && message.TransactionId.Length is > 0 and <= KrpcMessage.MaxTransactionId, "A KRPC message with a bad transaction ID or a problem.");
        }
        else
        {
            FuzzInvariantException.Check(problem.Length > 0, "A rejected datagram without a reason.");
        }

        return accepted;
    }

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        yield return ("nested", "d4:listl1:ai-42ee3:numi7e6:string5:hello4:dictd1:xi0eee"u8.ToArray());
        yield return ("ping-query", KrpcMessage.Query([1, 2, 3, 4], "ping", new BDictionary().Set("id", DhtFuzzNode.PeerId.ToArray()), readOnly: false));
        yield return ("error", KrpcMessage.Error([9, 9], KrpcErrorCode.Protocol, "Protocol Error"));
        yield return ("compact-peer", Compact.EncodePeer(DhtFuzzNode.PeerEndPoint));
        yield return ("compact-nodes", Compact.EncodeNodes([new NodeContact(DhtFuzzNode.PeerId, DhtFuzzNode.PeerEndPoint)], AddressFamily.InterNetwork));
    }
}
