using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace SecureChat.Dht;

/// <summary>A DHT node as other nodes describe it: its ID and UDP endpoint.</summary>
public readonly record struct NodeContact(NodeId Id, IPEndPoint EndPoint);

/// <summary>
/// The compact encodings of BEP 5: a peer is 6 bytes (IPv4 address, port, both network order),
/// a node 26 (its ID, then the peer encoding); BEP 32's IPv6 forms are 18 and 38 bytes.
/// </summary>
public static class Compact
{
    public const int PeerV4 = 6;
    public const int PeerV6 = 18;
    public const int NodeV4 = NodeId.Size + PeerV4;
    public const int NodeV6 = NodeId.Size + PeerV6;

    public static byte[] EncodePeer(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        var address = endPoint.Address.IsIPv4MappedToIPv6 ? endPoint.Address.MapToIPv4() : endPoint.Address;
        var ip = address.GetAddressBytes();
        var bytes = new byte[ip.Length + 2];
        ip.CopyTo(bytes, 0);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(ip.Length), (ushort)endPoint.Port);
        return bytes;
    }

    /// <summary>Null unless the bytes are exactly one compact peer with a port other than 0.</summary>
    public static IPEndPoint? DecodePeer(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length is not (PeerV4 or PeerV6))
        {
            return null;
        }

        var port = BinaryPrimitives.ReadUInt16BigEndian(bytes[^2..]);
        return port == 0 ? null : new IPEndPoint(new IPAddress(bytes[..^2]), port);
    }

    public static byte[] EncodeNodes(IEnumerable<NodeContact> nodes, AddressFamily family)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        var output = new List<byte>();
        Span<byte> id = stackalloc byte[NodeId.Size];
        foreach (var node in nodes)
        {
            if (Family(node.EndPoint) != family)
            {
                continue;
            }

            node.Id.WriteTo(id);
            output.AddRange(id);
            output.AddRange(EncodePeer(node.EndPoint));
        }

        return [.. output];
    }

    /// <summary>Decodes a "nodes" (or "nodes6") string; entries with port 0 are skipped, a ragged length yields nothing.</summary>
    public static List<NodeContact> DecodeNodes(ReadOnlySpan<byte> bytes, AddressFamily family)
    {
        var size = family == AddressFamily.InterNetworkV6 ? NodeV6 : NodeV4;
        var nodes = new List<NodeContact>();
        if (bytes.Length % size != 0)
        {
            return nodes;
        }

        for (var offset = 0; offset < bytes.Length; offset += size)
        {
            var entry = bytes.Slice(offset, size);
            if (DecodePeer(entry[NodeId.Size..]) is { } endPoint)
            {
                nodes.Add(new NodeContact(NodeId.FromBytes(entry[..NodeId.Size]), endPoint));
            }
        }

        return nodes;
    }

    public static AddressFamily Family(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        return endPoint.Address.IsIPv4MappedToIPv6 ? AddressFamily.InterNetwork : endPoint.Address.AddressFamily;
    }

    /// <summary>The endpoint with an IPv4-mapped IPv6 address turned back into IPv4.</summary>
    public static IPEndPoint Normalize(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        return endPoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endPoint.Address.MapToIPv4(), endPoint.Port) : endPoint;
    }
}
