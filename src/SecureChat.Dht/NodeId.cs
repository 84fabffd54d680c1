using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Numerics;
using System.Security.Cryptography;

namespace SecureChat.Dht;

/// <summary>
/// A 160-bit Kademlia ID (BEP 5): node IDs, info-hashes and BEP 44 targets share the space, and
/// closeness is the XOR of two IDs read as a big-endian unsigned integer.
/// </summary>
public readonly record struct NodeId : IComparable<NodeId>
{
    public const int Size = 20;

    private readonly ulong _high;
    private readonly ulong _middle;
    private readonly uint _low;

    private NodeId(ulong high, ulong middle, uint low)
    {
        _high = high;
        _middle = middle;
        _low = low;
    }

    public static NodeId FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
        {
            throw new ArgumentException($"A DHT ID is {Size} bytes.", nameof(bytes));
        }

        return new NodeId(
            BinaryPrimitives.ReadUInt64BigEndian(bytes),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]),
            BinaryPrimitives.ReadUInt32BigEndian(bytes[16..]));
    }

    public static bool TryFromBytes(ReadOnlySpan<byte> bytes, out NodeId id)
    {
        id = default;
        if (bytes.Length != Size)
        {
            return false;
        }

        id = FromBytes(bytes);
        return true;
    }

    public static NodeId Random()
    {
        Span<byte> bytes = stackalloc byte[Size];
        RandomNumberGenerator.Fill(bytes);
        return FromBytes(bytes);
    }

    /// <summary>
    /// A fresh ID that conforms to BEP 42 for <paramref name="address"/>: its first 21 bits come
    /// from CRC-32C of the masked address and a random r (0–7) kept in the last byte; the rest is
    /// random. Each call gives a different ID for the same address.
    /// </summary>
    public static NodeId ForAddress(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        Span<byte> random = stackalloc byte[Size];
        RandomNumberGenerator.Fill(random);
        return ForAddress(address, random);
    }

    /// <summary>
    /// BEP 42's derivation with the randomness given: <paramref name="random"/>[19] is the "rand"
    /// byte (its low 3 bits are r), bytes 2 (low 3 bits) and 3–18 fill the free bits.
    /// </summary>
    public static NodeId ForAddress(IPAddress address, ReadOnlySpan<byte> random)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (random.Length != Size)
        {
            throw new ArgumentException($"BEP 42 needs {Size} random bytes.", nameof(random));
        }

        var crc = AddressCrc(address, random[^1] & 7);
        Span<byte> id = stackalloc byte[Size];
        random.CopyTo(id);
        id[0] = (byte)(crc >> 24);
        id[1] = (byte)(crc >> 16);
        id[2] = (byte)(((crc >> 8) & 0xf8) | (uint)(random[2] & 7));
        return FromBytes(id);
    }

    /// <summary>True when this ID's first 21 bits match what BEP 42 derives from <paramref name="address"/> with the r in its last byte.</summary>
    public bool ConformsTo(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        Span<byte> id = stackalloc byte[Size];
        WriteTo(id);
        var crc = AddressCrc(address, id[^1] & 7);
        return id[0] == (byte)(crc >> 24) && id[1] == (byte)(crc >> 16) && (id[2] & 0xf8) == ((crc >> 8) & 0xf8);
    }

    /// <summary>BEP 42: CRC-32C of the address masked (IPv4: 0x030f3fff; IPv6: the first 8 bytes, 0x0103070f1f3f7fff) with r in its top bits.</summary>
    private static uint AddressCrc(IPAddress address, int r)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        Span<byte> bytes = stackalloc byte[16];
        ReadOnlySpan<byte> mask;
        int length;
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            mask = [0x03, 0x0f, 0x3f, 0xff];
            length = 4;
        }
        else if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            mask = [0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff];
            length = 8;
        }
        else
        {
            throw new ArgumentException("BEP 42 derives IDs from IPv4 and IPv6 addresses only.", nameof(address));
        }

        address.TryWriteBytes(bytes, out _);
        for (var i = 0; i < length; i++)
        {
            bytes[i] &= mask[i];
        }

        bytes[0] |= (byte)(r << 5);
        var crc = uint.MaxValue;
        foreach (var b in bytes[..length])
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return ~crc;
    }

    /// <summary>SHA-1 of the bytes: an info-hash or a BEP 44 target.</summary>
    public static NodeId Sha1(ReadOnlySpan<byte> data)
    {
        Span<byte> digest = stackalloc byte[Size];
        SHA1.HashData(data, digest);
        return FromBytes(digest);
    }

    public static bool TryParseHex(string? text, out NodeId id)
    {
        id = default;
        if (text is null || text.Length != Size * 2)
        {
            return false;
        }

        try
        {
            id = FromBytes(Convert.FromHexString(text));
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    public byte[] ToArray()
    {
        var bytes = new byte[Size];
        WriteTo(bytes);
        return bytes;
    }

    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, _high);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _middle);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], _low);
    }

    public NodeId Xor(NodeId other) => new(_high ^ other._high, _middle ^ other._middle, _low ^ other._low);

    /// <summary>The number of leading bits the two IDs share (160 when equal).</summary>
    public int CommonPrefixLength(NodeId other)
    {
        var d = Xor(other);
        if (d._high != 0)
        {
            return BitOperations.LeadingZeroCount(d._high);
        }

        if (d._middle != 0)
        {
            return 64 + BitOperations.LeadingZeroCount(d._middle);
        }

        return d._low != 0 ? 128 + BitOperations.LeadingZeroCount(d._low) : 160;
    }

    /// <summary>Which of <paramref name="a"/> and <paramref name="b"/> is closer to this ID: negative for a, positive for b.</summary>
    public int CompareDistance(NodeId a, NodeId b) => Xor(a).CompareTo(Xor(b));

    /// <summary>An ID that shares exactly <paramref name="prefixLength"/> leading bits with this one, the rest random.</summary>
    public NodeId RandomWithPrefix(int prefixLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(prefixLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(prefixLength, 159);
        Span<byte> mine = stackalloc byte[Size];
        Span<byte> result = stackalloc byte[Size];
        WriteTo(mine);
        RandomNumberGenerator.Fill(result);
        for (var bit = 0; bit <= prefixLength; bit++)
        {
            var mask = (byte)(0x80 >> (bit % 8));
            var want = (mine[bit / 8] & mask) != 0;
            if (bit == prefixLength)
            {
                want = !want;
            }

            result[bit / 8] = (byte)(want ? result[bit / 8] | mask : result[bit / 8] & ~mask);
        }

        return FromBytes(result);
    }

    public int CompareTo(NodeId other)
    {
        var c = _high.CompareTo(other._high);
        if (c != 0)
        {
            return c;
        }

        c = _middle.CompareTo(other._middle);
        return c != 0 ? c : _low.CompareTo(other._low);
    }

    public override string ToString() => Convert.ToHexStringLower(ToArray());

    public static bool operator <(NodeId left, NodeId right) => left.CompareTo(right) < 0;

    public static bool operator >(NodeId left, NodeId right) => left.CompareTo(right) > 0;

    public static bool operator <=(NodeId left, NodeId right) => left.CompareTo(right) <= 0;

    public static bool operator >=(NodeId left, NodeId right) => left.CompareTo(right) >= 0;
}
