using System.Buffers;
using System.Buffers.Binary;
using SecureChat.Protocol.Channel;

namespace SecureChat.Fuzz.Targets;

/// <summary>
/// <see cref="FrameReader.TryReadFrame"/> over a byte stream as it arrives: the input cut into
/// segments (their size chosen by the first byte), read frame after frame to the end.
/// </summary>
internal sealed class FrameTarget : IFuzzTarget
{
    public string Name => "frame";

    public bool Run(byte[] input)
    {
        var segmentSize = input.Length == 0 ? 1 : (input[0] % 16) + 1;
        var maxFrameSize = input.Length > 1 && (input[1] & 0x80) != 0 ? 1024 : FrameReader.MaxFrameSize;
        var buffer = Segments(input, segmentSize);
        var offset = 0;
        var frames = 0;
        while (true)
        {
            var before = buffer.Length;
            var status = FrameReader.TryReadFrame(ref buffer, maxFrameSize, out var frame);
            if (status != FrameStatus.Frame)
            {
                FuzzInvariantException.Check(buffer.Length == before, "A frame reader that found no frame consumed bytes.");
                FuzzInvariantException.Check(status is FrameStatus.NeedMore or FrameStatus.TooLarge, "Unknown frame status.");
                var announced = before >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(input.AsSpan(offset)) : -1;
                FuzzInvariantException.Check(
                    status == FrameStatus.TooLarge ? announced > maxFrameSize : announced <= maxFrameSize,
                    "TooLarge does not match the announced length.");
                return frames > 0;
            }

            var length = BinaryPrimitives.ReadUInt16BigEndian(input.AsSpan(offset));
            FuzzInvariantException.Check(frame.Length == length && length <= maxFrameSize, "A frame's length is not its prefix.");
            FuzzInvariantException.Check(before - buffer.Length == FrameReader.HeaderSize + length, "A frame consumed other than its bytes.");
            FuzzInvariantException.Check(frame.ToArray().AsSpan().SequenceEqual(input.AsSpan(offset + FrameReader.HeaderSize, length)), "A frame's bytes are not the input's.");
            offset += FrameReader.HeaderSize + length;
            frames++;
        }
    }

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        var writer = new ArrayBufferWriter<byte>();
        FrameReader.WriteFrame(writer, "hello"u8);
        yield return ("one-frame", writer.WrittenSpan.ToArray());
        FrameReader.WriteFrame(writer, []);
        FrameReader.WriteFrame(writer, new byte[300]);
        FrameReader.WriteFrame(writer, "tail"u8);
        yield return ("several-frames", writer.WrittenSpan.ToArray());
        yield return ("cut-frame", writer.WrittenSpan[..^2].ToArray());
        yield return ("then-too-large", [0, 1, 42, 0xff, 0xff, 0x80, 1, 2, 3]);
    }

    private static ReadOnlySequence<byte> Segments(byte[] input, int size)
    {
        if (input.Length <= size)
        {
            return new ReadOnlySequence<byte>(input);
        }

        var first = new Segment(input.AsMemory(0, size), 0);
        var last = first;
        for (var at = size; at < input.Length; at += size)
        {
            last = last.Append(input.AsMemory(at, Math.Min(size, input.Length - at)));
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
