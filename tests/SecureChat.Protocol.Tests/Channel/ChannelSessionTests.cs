using System.Buffers;
using Microsoft.Extensions.Time.Testing;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Noise;

namespace SecureChat.Protocol.Tests.Channel;

public sealed class ChannelSessionTests : IDisposable
{
    private readonly ChannelParties _parties = new();

    public void Dispose() => _parties.Dispose();

    [Theory]
    [InlineData(ChannelPattern.XX)]
    [InlineData(ChannelPattern.IK)]
    public void Read_MessagesBothWays_ArriveIntact(ChannelPattern pattern)
    {
        var (alice, bob) = _parties.Connect(pattern);
        using (alice)
        using (bob)
        {
            foreach (var size in new[] { 0, 1, 1000, ChannelSession.MaxMessageSize })
            {
                var data = Enumerable.Range(0, size).Select(i => (byte)i).ToArray();
                Assert.Equal(data, ReadOne(bob, Frames(alice, data)).Data);
                Assert.Equal(data, ReadOne(alice, Frames(bob, data)).Data);
            }
        }
    }

    [Fact]
    public void Read_ReplayedFrame_FailsAuthentication()
    {
        var (alice, bob) = _parties.Connect(ChannelPattern.XX);
        using (alice)
        using (bob)
        {
            var frame = Single(Frames(alice, "once"u8.ToArray()));
            Assert.Equal(ChannelReadKind.Message, bob.Read(frame).Kind);

            var replay = bob.Read(frame);

            Assert.Equal(ChannelReadKind.Failed, replay.Kind);
            Assert.Equal(ChannelError.AuthenticationFailed, replay.Error);
        }
    }

    [Fact]
    public void Read_ReorderedFrames_FailAuthentication()
    {
        var (alice, bob) = _parties.Connect(ChannelPattern.XX);
        using (alice)
        using (bob)
        {
            var first = Single(Frames(alice, "1"u8.ToArray()));
            var second = Single(Frames(alice, "2"u8.ToArray()));
            _ = first;

            Assert.Equal(ChannelError.AuthenticationFailed, bob.Read(second).Error);
        }
    }

    [Fact]
    public void Read_AnyBitFlippedOrTruncated_FailsAuthentication()
    {
        var (alice, bob) = _parties.Connect(ChannelPattern.XX);
        using (alice)
        using (bob)
        {
            var frame = Single(Frames(alice, "tamper with me"u8.ToArray()));
            for (var bit = 0; bit < frame.Length * 8; bit++)
            {
                var (a, b) = _parties.Connect(ChannelPattern.XX);
                using (a)
                using (b)
                {
                    var tampered = Single(Frames(a, "tamper with me"u8.ToArray()));
                    tampered[bit / 8] ^= (byte)(1 << (bit % 8));
                    Assert.Equal(ChannelError.AuthenticationFailed, b.Read(tampered).Error);
                }
            }

            for (var length = 0; length < frame.Length; length++)
            {
                var (a, b) = _parties.Connect(ChannelPattern.XX);
                using (a)
                using (b)
                {
                    var whole = Single(Frames(a, "tamper with me"u8.ToArray()));
                    Assert.Equal(ChannelError.AuthenticationFailed, b.Read(whole.AsSpan(0, length)).Error);
                }
            }
        }
    }

    [Fact]
    public void Read_AfterFailure_ThrowsInsteadOfDecrypting()
    {
        var (alice, bob) = _parties.Connect(ChannelPattern.XX);
        using (alice)
        using (bob)
        {
            Assert.Equal(ChannelReadKind.Failed, bob.Read(new byte[40]).Kind);

            Assert.Throws<InvalidOperationException>(() => bob.Read(Single(Frames(alice, "late"u8.ToArray()))));
        }
    }

    [Fact]
    public void WriteMessage_EveryNMessages_RekeysAndThePeerFollows()
    {
        var (alice, bob) = _parties.Connect(ChannelPattern.XX);
        using (alice)
        using (bob)
        {
            alice.RekeyAfterMessages = 3;
            for (var i = 0; i < 10; i++)
            {
                var output = new ArrayBufferWriter<byte>();
                alice.WriteMessage(output, [(byte)i]);
                var messages = ReadAll(bob, output.WrittenMemory.ToArray()).Where(r => r.Kind == ChannelReadKind.Message).ToList();
                Assert.Equal([(byte)i], Assert.Single(messages).Data);
            }

            Assert.Equal(3, alice.SendRekeys);
            Assert.Equal(3, bob.ReceiveRekeys);
        }
    }

    [Fact]
    public void WriteMessage_AfterTheRekeyInterval_RekeysOnTime()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));
        var (alice, bob) = _parties.Connect(ChannelPattern.IK, clock);
        using (alice)
        using (bob)
        {
            alice.RekeyInterval = TimeSpan.FromMinutes(10);
            Assert.Equal(ChannelReadKind.Message, ReadOne(bob, Frames(alice, [1])).Kind);
            clock.Advance(TimeSpan.FromMinutes(10));

            var kinds = ReadAll(bob, Frames(alice, [2])).Select(r => r.Kind).ToList();

            Assert.Equal([ChannelReadKind.Rekeyed, ChannelReadKind.Message], kinds);
            Assert.Equal(1, alice.SendRekeys);
        }
    }

    [Fact]
    public void WriteClose_ReasonAndText_ReachThePeerWithControlCharactersRemoved()
    {
        var (alice, bob) = _parties.Connect(ChannelPattern.XX);
        using (alice)
        using (bob)
        {
            var output = new ArrayBufferWriter<byte>();
            alice.WriteClose(output, CloseReason.Shutdown, "bye\u001b[2J now");

            var read = ReadOne(bob, output.WrittenMemory.ToArray());

            Assert.Equal(ChannelReadKind.Closed, read.Kind);
            Assert.Equal(CloseReason.Shutdown, read.Reason);
            Assert.Equal("bye[2J now", read.Text);
            Assert.Throws<InvalidOperationException>(() => alice.WriteMessage(new ArrayBufferWriter<byte>(), [1]));
        }
    }

    [Fact]
    public void WriteClose_LongText_IsCutAtACharacterBoundary()
    {
        var (alice, bob) = _parties.Connect(ChannelPattern.XX);
        using (alice)
        using (bob)
        {
            var output = new ArrayBufferWriter<byte>();
            alice.WriteClose(output, CloseReason.Normal, new string('a', 199) + "é" + "🌱");

            var read = ReadOne(bob, output.WrittenMemory.ToArray());

            Assert.Equal(new string('a', 199), read.Text);
        }
    }

    [Fact]
    public void Read_UnknownFrameType_IsAProtocolViolation()
    {
        // A foreign peer (raw Noise, as another implementation would be) sends a frame type this
        // version does not know.
        var (raw, bob) = _parties.ConnectForeignInitiator();
        using (raw)
        using (bob)
        {
            var plaintext = new byte[] { 0x7F, 1, 2, 3 };
            var frame = new byte[plaintext.Length + CipherState.TagSize];
            raw.Send.Encrypt([], plaintext, frame);

            Assert.Equal(ChannelError.ProtocolViolation, bob.Read(frame).Error);
        }
    }

    [Fact]
    public void Read_ForeignPeerFollowingTheDocumentedFormat_IsUnderstood()
    {
        var (raw, bob) = _parties.ConnectForeignInitiator();
        using (raw)
        using (bob)
        {
            byte[] plaintext = [0x01, .. "hi"u8];
            var frame = new byte[plaintext.Length + CipherState.TagSize];
            raw.Send.Encrypt([], plaintext, frame);

            var read = bob.Read(frame);

            Assert.Equal(ChannelReadKind.Message, read.Kind);
            Assert.Equal("hi"u8.ToArray(), read.Data);
        }
    }

    [Fact]
    public void WriteMessage_TooLarge_IsCallerMisuse()
    {
        var (alice, bob) = _parties.Connect(ChannelPattern.XX);
        using (alice)
        using (bob)
        {
            Assert.Throws<ArgumentException>(() => alice.WriteMessage(new ArrayBufferWriter<byte>(), new byte[ChannelSession.MaxMessageSize + 1]));
        }
    }

    private static byte[] Frames(ChannelSession sender, byte[] data)
    {
        var output = new ArrayBufferWriter<byte>();
        sender.WriteMessage(output, data);
        return output.WrittenMemory.ToArray();
    }

    private static byte[] Single(byte[] framed)
    {
        var sequence = new ReadOnlySequence<byte>(framed);
        Assert.Equal(FrameStatus.Frame, FrameReader.TryReadFrame(ref sequence, FrameReader.MaxFrameSize, out var frame));
        Assert.True(sequence.IsEmpty);
        return frame.ToArray();
    }

    private static ChannelRead ReadOne(ChannelSession receiver, byte[] framed) => Assert.Single(ReadAll(receiver, framed));

    private static List<ChannelRead> ReadAll(ChannelSession receiver, byte[] framed)
    {
        var sequence = new ReadOnlySequence<byte>(framed);
        var reads = new List<ChannelRead>();
        while (FrameReader.TryReadFrame(ref sequence, FrameReader.MaxFrameSize, out var frame) == FrameStatus.Frame)
        {
            reads.Add(receiver.Read(frame.ToArray()));
        }

        Assert.True(sequence.IsEmpty);
        return reads;
    }
}
