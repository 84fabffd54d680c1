using CsCheck;
using System.Buffers;
using SecureChat.Protocol.Channel;

namespace SecureChat.Protocol.Tests.Channel;

public sealed class FrameReaderTests
{
    [Fact]
    public void WriteFrame_Message_WritesBigEndianLengthThenBytes()
    {
        var output = new ArrayBufferWriter<byte>();

        FrameReader.WriteFrame(output, new byte[] { 0xAA, 0xBB, 0xCC });

        Assert.Equal(new byte[] { 0x00, 0x03, 0xAA, 0xBB, 0xCC }, output.WrittenSpan.ToArray());
    }

    [Fact]
    public void WriteFrame_LargestFrame_UsesTheWholeLengthField()
    {
        var output = new ArrayBufferWriter<byte>();

        FrameReader.WriteFrame(output, new byte[65535]);

        Assert.Equal(new byte[] { 0xFF, 0xFF }, output.WrittenSpan[..2].ToArray());
        Assert.Throws<ArgumentException>(() => FrameReader.WriteFrame(output, new byte[65536]));
    }

    [Fact]
    public void TryReadFrame_PartialInput_NeedsMoreAndConsumesNothing()
    {
        byte[] bytes = [0x00, 0x03, 0xAA, 0xBB, 0xCC];
        for (var length = 0; length < bytes.Length; length++)
        {
            var buffer = new ReadOnlySequence<byte>(bytes, 0, length);

            Assert.Equal(FrameStatus.NeedMore, FrameReader.TryReadFrame(ref buffer, 100, out _));
            Assert.Equal(length, buffer.Length);
        }
    }

    [Fact]
    public void TryReadFrame_TwoFramesAcrossSegments_ReadsBothInOrder()
    {
        var buffer = Sequences.Of([0x00], [0x02, 0x01], [0x02, 0x00, 0x01, 0x03]);

        Assert.Equal(FrameStatus.Frame, FrameReader.TryReadFrame(ref buffer, 100, out var first));
        Assert.Equal(new byte[] { 0x01, 0x02 }, first.ToArray());
        Assert.Equal(FrameStatus.Frame, FrameReader.TryReadFrame(ref buffer, 100, out var second));
        Assert.Equal(new byte[] { 0x03 }, second.ToArray());
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void TryReadFrame_LengthAboveTheMaximum_IsTooLargeBeforeTheBodyArrives()
    {
        var buffer = new ReadOnlySequence<byte>(new byte[] { 0x04, 0x01 });

        Assert.Equal(FrameStatus.TooLarge, FrameReader.TryReadFrame(ref buffer, 1024, out _));
    }

    [Fact]
    public void TryReadFrame_RandomInput_NeverThrows()
    {
        Gen.Byte.Array[0, 300].Sample(bytes =>
        {
            var buffer = new ReadOnlySequence<byte>(bytes);
            while (FrameReader.TryReadFrame(ref buffer, 200, out _) == FrameStatus.Frame)
            {
            }
        });
    }
}
