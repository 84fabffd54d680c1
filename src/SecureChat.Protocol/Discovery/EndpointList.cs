using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace SecureChat.Protocol.Discovery;

/// <summary>
/// Where a node accepts peers, as discovery records carry it:
/// <code>
/// +---------+--------------------+-------+------------------------------------------+
/// | ver = 1 | published, u64 BE  | count | count × (family 4|6, address 4|16, port) |
/// |   1     | Unix seconds, 8    |   1   | 7 or 19 bytes each, port u16 BE          |
/// +---------+--------------------+-------+------------------------------------------+
/// </code>
/// At most <see cref="MaxEndpoints"/> endpoints. Decoding is total: anything else is null.
/// </summary>
public sealed record EndpointList(DateTimeOffset Published, IReadOnlyList<IPEndPoint> Endpoints)
{
    public const int MaxEndpoints = 8;
    private const byte Version = 1;

    /// <summary>The largest encoding: eight IPv6 endpoints.</summary>
    public const int MaxSize = 10 + (MaxEndpoints * 19);

    public byte[] Encode()
    {
        // An IPv4-mapped IPv6 address is written as the IPv4 address it stands for.
        var endpoints = Endpoints.Take(MaxEndpoints)
            .Select(e => e.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(e.Address.MapToIPv4(), e.Port) : e)
            .ToList();
        var output = new byte[10 + endpoints.Sum(e => e.AddressFamily == AddressFamily.InterNetwork ? 7 : 19)];
        output[0] = Version;
        BinaryPrimitives.WriteInt64BigEndian(output.AsSpan(1), Published.ToUnixTimeSeconds());
        output[9] = (byte)endpoints.Count;
        var offset = 10;
        foreach (var endpoint in endpoints)
        {
            var bytes = endpoint.Address.GetAddressBytes();
            output[offset++] = (byte)(bytes.Length == 4 ? 4 : 6);
            bytes.CopyTo(output, offset);
            offset += bytes.Length;
            BinaryPrimitives.WriteUInt16BigEndian(output.AsSpan(offset), (ushort)endpoint.Port);
            offset += 2;
        }

        return output;
    }

    /// <summary>Decodes a list; trailing zero bytes (padding) are allowed, anything else malformed gives null.</summary>
    public static EndpointList? TryDecode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 10 || bytes[0] != Version || bytes[9] > MaxEndpoints)
        {
            return null;
        }

        var seconds = BinaryPrimitives.ReadInt64BigEndian(bytes[1..]);
        if (seconds is < 0 or > 253402300799)
        {
            return null;
        }

        var endpoints = new List<IPEndPoint>(bytes[9]);
        var offset = 10;
        for (var i = 0; i < bytes[9]; i++)
        {
            var size = offset < bytes.Length ? bytes[offset] switch { 4 => 4, 6 => 16, _ => 0 } : 0;
            if (size == 0 || offset + 1 + size + 2 > bytes.Length)
            {
                return null;
            }

            var address = new IPAddress(bytes.Slice(offset + 1, size));
            var port = BinaryPrimitives.ReadUInt16BigEndian(bytes[(offset + 1 + size)..]);
            if (port == 0)
            {
                return null;
            }

            endpoints.Add(new IPEndPoint(address, port));
            offset += 1 + size + 2;
        }

        return bytes[offset..].ContainsAnyExcept((byte)0) ? null : new EndpointList(DateTimeOffset.FromUnixTimeSeconds(seconds), endpoints);
    }
}
