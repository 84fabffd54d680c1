using System.Buffers;

namespace SecureChat.Protocol.Tests.Channel;

/// <summary>Byte sequences made of several segments, as a pipe hands them to a reader.</summary>
internal static class Sequences
{
    /// <summary>One sequence of the parts, each its own segment.</summary>
    public static ReadOnlySequence<byte> Of(params byte[][] parts)
    {
        var first = new Segment(parts[0], 0);
        var last = first;
        foreach (var part in parts.Skip(1))
        {
            last = last.Append(part);
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] bytes, long runningIndex)
        {
            Memory = bytes;
            RunningIndex = runningIndex;
        }

        public Segment Append(byte[] bytes)
        {
            var next = new Segment(bytes, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
