using System.Buffers;
using System.Buffers.Binary;

namespace SecureChat.Protocol.Channel;

/// <summary>The outcome of trying to read one frame from buffered bytes.</summary>
public enum FrameStatus
{
    /// <summary>A whole frame was read and consumed from the buffer.</summary>
    Frame,

    /// <summary>More bytes are needed; nothing was consumed.</summary>
    NeedMore,

    /// <summary>The length prefix exceeds the maximum frame size; the connection must close.</summary>
    TooLarge,
}

/// <summary>
/// SecureChat's framing over a byte stream: every Noise message travels as
/// <code>
///  0               2
///  +---------------+-------------------------------+
///  | length u16 BE | Noise message (length bytes)  |
///  +---------------+-------------------------------+
/// </code>
/// The Noise limit makes 65535 the largest possible frame; a node may set a lower maximum.
/// </summary>
public static class FrameReader
{
    public const int HeaderSize = 2;
    public const int MaxFrameSize = ushort.MaxValue;

    /// <summary>
    /// Reads one frame. On <see cref="FrameStatus.Frame"/>, <paramref name="frame"/> is the message
    /// and <paramref name="buffer"/> is advanced past it; otherwise the buffer is unchanged.
    /// </summary>
    public static FrameStatus TryReadFrame(ref ReadOnlySequence<byte> buffer, int maxFrameSize, out ReadOnlySequence<byte> frame)
    {
        frame = default;
        if (buffer.Length < HeaderSize)
        {
            return FrameStatus.NeedMore;
        }

        Span<byte> header = stackalloc byte[HeaderSize];
        buffer.Slice(0, HeaderSize).CopyTo(header);
        int length = BinaryPrimitives.ReadUInt16BigEndian(header);
        if (length > maxFrameSize)
        {
            return FrameStatus.TooLarge;
        }

        if (buffer.Length < HeaderSize + length)
        {
            return FrameStatus.NeedMore;
        }

        frame = buffer.Slice(HeaderSize, length);
        buffer = buffer.Slice(HeaderSize + length);
        return FrameStatus.Frame;
    }

    /// <summary>Writes a frame: the 2-byte length, then the message.</summary>
    public static void WriteFrame(IBufferWriter<byte> output, ReadOnlySpan<byte> message)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (message.Length > MaxFrameSize)
        {
            throw new ArgumentException($"A frame carries at most {MaxFrameSize} bytes.", nameof(message));
        }

        var span = output.GetSpan(HeaderSize + message.Length);
        BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)message.Length);
        message.CopyTo(span[HeaderSize..]);
        output.Advance(HeaderSize + message.Length);
    }
}
