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

    /// <summary>
    /// Decodes a "nodes" (26-byte entries) or, for IPv6, a "nodes6" (38-byte entries, BEP 32)
    /// string. Entries that no one could send to are skipped: port 0, and addresses that are not
    /// a node's (<see cref="IsNodeAddress"/>), an IPv4-mapped address in "nodes6" among them. A
    /// length that is not a whole number of entries yields nothing: the string is not what it claims.
    /// </summary>
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
            if (DecodePeer(entry[NodeId.Size..]) is { } endPoint && IsNodeAddress(endPoint.Address))
            {
                nodes.Add(new NodeContact(NodeId.FromBytes(entry[..NodeId.Size]), endPoint));
            }
        }

        return nodes;
    }

    /// <summary>
    /// Whether a DHT node could be at this address: not unspecified, multicast or broadcast, and
    /// for IPv6 neither IPv4-mapped (BEP 32 keeps the families apart: an IPv4 node goes in "nodes")
    /// nor link-local (meaningless without the interface it belongs to).
    /// </summary>
    public static bool IsNodeAddress(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            Span<byte> bytes = stackalloc byte[4];
            address.TryWriteBytes(bytes, out _);
            return !address.Equals(IPAddress.Any) && !address.Equals(IPAddress.Broadcast) && bytes[0] is < 224 or > 239;
        }

        return address.AddressFamily == AddressFamily.InterNetworkV6
            && !address.Equals(IPAddress.IPv6Any)
            && !address.IsIPv4MappedToIPv6
            && !address.IsIPv6Multicast
            && !address.IsIPv6LinkLocal;
    }

    /// <summary>The address family of an endpoint, an IPv4-mapped IPv6 address counting as IPv4.</summary>
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
