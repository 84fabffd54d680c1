namespace SecureChat.Protocol.Messages;

/// <summary>
/// Size buckets that hide how long a message is, on the wire (docs/protocol.md 6.3) and at rest
/// (Appendix A.4). A length is rounded up to the next of 64, 256, 1,024, 4,096 and 16,384 bytes,
/// and beyond that to a multiple of 16,384.
/// </summary>
/// <remarks>
/// Why powers of four: most chat texts are short, and one 64-byte bucket (or, on the wire, one
/// 256-byte envelope) holds nearly all of them, so an observer learns only which of five size
/// classes a text is in (about 2.3 bits), at the cost of at most four times the bytes, a few
/// kilobytes at worst for a chat message. Powers of two would halve the overhead and double the
/// classes; Padmé (Nikitin et al., PETS 2019) spends under 12% but tells short lengths apart
/// almost byte by byte, and short lengths are what chat is made of. The largest text
/// (<see cref="NodeWire.MaxTextBytes"/>, 16,000 bytes) fits the 16,384 bucket with room for the
/// envelope around it.
/// </remarks>
public static class Padding
{
    /// <summary>The buckets below which lengths are rounded to a power of four; above the last, to a multiple of it.</summary>
    public static ReadOnlySpan<int> Buckets => [64, 256, 1024, 4096, 16384];

    /// <summary>The marker that ends the content in <see cref="Pad"/>'s format (ISO/IEC 7816-4).</summary>
    private const byte Marker = 0x80;

    /// <summary>The smallest bucket that holds <paramref name="length"/> bytes.</summary>
    public static int BucketFor(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        foreach (var bucket in Buckets)
        {
            if (length <= bucket)
            {
                return bucket;
            }
        }

        var largest = Buckets[^1];
        return checked((length + largest - 1) / largest * largest);
    }

    /// <summary>
    /// The content, then one 0x80 byte, then zeros up to the bucket of content + 1 (ISO/IEC
    /// 7816-4 padding): any content, ending in any byte, comes back exactly from <see cref="TryUnpad"/>.
    /// </summary>
    public static byte[] Pad(ReadOnlySpan<byte> content)
    {
        var padded = new byte[BucketFor(content.Length + 1)];
        content.CopyTo(padded);
        padded[content.Length] = Marker;
        return padded;
    }

    /// <summary>The length of the content in <paramref name="padded"/>; false when it does not end in 0x80 and zeros.</summary>
    public static bool TryUnpad(ReadOnlySpan<byte> padded, out int contentLength)
    {
        var end = padded.LastIndexOfAnyExcept((byte)0);
        contentLength = end < 0 || padded[end] != Marker ? 0 : end;
        return end >= 0 && padded[end] == Marker;
    }

    /// <summary>
    /// The bytes to append to an encoded envelope of <paramref name="encodedLength"/> bytes so that
    /// it fills its bucket exactly: one <c>padding</c> field (number 20) of zeros, or, for the two
    /// sizes one field cannot fill exactly, an empty padding field before it (a singular protobuf
    /// field that appears twice keeps its last value). At least 3 bytes are always added.
    /// </summary>
    public static byte[] EnvelopePadding(int encodedLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(encodedLength);
        var room = BucketFor(encodedLength + MinFieldSize) - encodedLength;
        var result = new byte[room];
        var at = 0;
        if (FieldContentFor(room) is not { } content)
        {
            at = WriteField(result, 0, 0);
            content = FieldContentFor(room - at)!.Value;
        }

        WriteField(result, at, content);
        return result;
    }

    /// <summary>Field 20, wire type 2 (length-delimited): the tag 0xA2 0x01.</summary>
    private static ReadOnlySpan<byte> FieldTag => [0xA2, 0x01];

    /// <summary>The tag and a zero length: the smallest padding field.</summary>
    private const int MinFieldSize = 3;

    /// <summary>How many content bytes make one padding field exactly <paramref name="size"/> bytes, or null when none does.</summary>
    private static int? FieldContentFor(int size)
    {
        for (var lengthSize = 1; lengthSize <= 3; lengthSize++)
        {
            var content = size - FieldTag.Length - lengthSize;
            if (content >= 0 && VarintSize(content) == lengthSize)
            {
                return content;
            }
        }

        return null;
    }

    private static int WriteField(Span<byte> destination, int at, int contentLength)
    {
        FieldTag.CopyTo(destination[at..]);
        at += FieldTag.Length;
        var value = (uint)contentLength;
        while (value >= 0x80)
        {
            destination[at++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[at++] = (byte)value;
        return at + contentLength;
    }

    private static int VarintSize(int value) => value < 0x80 ? 1 : value < 0x4000 ? 2 : 3;
}
