using System.Buffers.Binary;
using System.Security.Cryptography;
using SecureChat.Protocol.Identity;

namespace SecureChat.Protocol.Discovery;

/// <summary>
/// A LAN beacon: a UDP multicast datagram that says "a contact of yours accepts peers on this
/// port" in a way only the contacts can read. Layout:
/// <code>
/// +-------+----------+-------------------+-----------+-------+-----------------------+
/// | "SCL1"| nonce 16 | sent at, u64 BE s | port u16  | n u8  | n × tag, 16 bytes     |
/// +-------+----------+-------------------+-----------+-------+-----------------------+
/// </code>
/// Each tag is HMAC-SHA256 (16 bytes kept) under a key derived from the pair secret of the
/// sender and one contact, over everything before the tags. A receiver computes, for each of its
/// contacts, the tag that contact would have made, and looks for it. The tag list is padded with
/// random tags to a multiple of eight; a sender with many contacts sends several beacons.
/// Beacons more than two minutes from the receiver's clock are ignored, which bounds replays;
/// a replay can at worst make a contact dial an address where the handshake then fails.
/// </summary>
public static class LanBeacon
{
    public const int TagSize = 16;
    public const int MaxTags = 64;
    public const int HeaderSize = 4 + 16 + 8 + 2 + 1;
    public static readonly TimeSpan MaxSkew = TimeSpan.FromMinutes(2);
    private static ReadOnlySpan<byte> Magic => "SCL1"u8;
    private static ReadOnlySpan<byte> Label => "SecureChat LAN beacon v1"u8;

    /// <summary>The tag key for beacons <paramref name="sender"/> sends to <paramref name="receiver"/>.</summary>
    public static byte[] TagKey(ReadOnlySpan<byte> pairSecret, AccountId sender, AccountId receiver) =>
        PairSecret.Expand(pairSecret, Label, [], sender, receiver, 32);

    /// <summary>Beacons announcing <paramref name="port"/> to the contacts whose tag keys are given, up to 64 a datagram.</summary>
    public static List<byte[]> Build(IReadOnlyList<byte[]> tagKeys, int port, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(tagKeys);
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        var beacons = new List<byte[]>();
        foreach (var chunk in tagKeys.Chunk(MaxTags))
        {
            var count = Math.Min(MaxTags, (chunk.Length + 7) / 8 * 8);
            var beacon = new byte[HeaderSize + (count * TagSize)];
            Magic.CopyTo(beacon);
            RandomNumberGenerator.Fill(beacon.AsSpan(4, 16));
            BinaryPrimitives.WriteInt64BigEndian(beacon.AsSpan(20), now.ToUnixTimeSeconds());
            BinaryPrimitives.WriteUInt16BigEndian(beacon.AsSpan(28), (ushort)port);
            beacon[30] = (byte)count;
            var order = chunk.OrderBy(_ => RandomNumberGenerator.GetInt32(int.MaxValue)).ToList();
            for (var i = 0; i < count; i++)
            {
                var tag = beacon.AsSpan(HeaderSize + (i * TagSize), TagSize);
                if (i < order.Count)
                {
                    Tag(order[i], beacon.AsSpan(0, HeaderSize), tag);
                }
                else
                {
                    RandomNumberGenerator.Fill(tag);
                }
            }

            beacons.Add(beacon);
        }

        return beacons;
    }

    /// <summary>
    /// Reads a beacon: the indexes of the <paramref name="tagKeys"/> whose tag it carries, and the
    /// announced port. Empty for anything malformed, stale or meant for others.
    /// </summary>
    public static (List<int> Senders, int Port) Recognise(ReadOnlySpan<byte> beacon, IReadOnlyList<byte[]> tagKeys, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(tagKeys);
        var found = new List<int>();
        if (beacon.Length < HeaderSize || !beacon.StartsWith(Magic))
        {
            return (found, 0);
        }

        var count = beacon[30];
        var port = BinaryPrimitives.ReadUInt16BigEndian(beacon[28..]);
        var sentAt = BinaryPrimitives.ReadInt64BigEndian(beacon[20..]);

        // Compared as a window around now: now - sentAt overflows for a hostile sentAt.
        var nowSeconds = now.ToUnixTimeSeconds();
        var skew = (long)MaxSkew.TotalSeconds;
        if (count is 0 or > MaxTags || beacon.Length != HeaderSize + (count * TagSize) || port == 0
            || sentAt < nowSeconds - skew || sentAt > nowSeconds + skew)
        {
            return (found, 0);
        }

        var header = beacon[..HeaderSize];
        var tags = beacon[HeaderSize..];
        Span<byte> expected = stackalloc byte[TagSize];
        for (var k = 0; k < tagKeys.Count; k++)
        {
            Tag(tagKeys[k], header, expected);
            for (var i = 0; i < count; i++)
            {
                if (CryptographicOperations.FixedTimeEquals(tags.Slice(i * TagSize, TagSize), expected))
                {
                    found.Add(k);
                    break;
                }
            }
        }

        return (found, port);
    }

    private static void Tag(byte[] key, ReadOnlySpan<byte> header, Span<byte> tag)
    {
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(key, header, mac);
        mac[..TagSize].CopyTo(tag);
    }
}
