using CsCheck;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using SecureChat.Protocol.Messages;
using SecureChat.Protocol.Messages.Wire;
using SecureChat.Protocol.Ratchet;
using SecureChat.Protocol.Tests.Ratchet;

namespace SecureChat.Protocol.Tests.Messages;

/// <summary>
/// Size buckets (docs/protocol.md 6.3 and A.4): at rest a text is padded ISO/IEC 7816-4 style and
/// comes back exactly; on the wire an envelope gets a <c>padding</c> field (20) that brings it to
/// its bucket, so two texts in one bucket make ratchet messages of one size, and a receiver that
/// does not know the field skips it and reads the same envelope.
/// </summary>
public sealed class PaddingTests
{
    [Theory]
    [InlineData(0, 64)]
    [InlineData(1, 64)]
    [InlineData(64, 64)]
    [InlineData(65, 256)]
    [InlineData(256, 256)]
    [InlineData(257, 1024)]
    [InlineData(1025, 4096)]
    [InlineData(4097, 16384)]
    [InlineData(16384, 16384)]
    [InlineData(16385, 32768)]
    [InlineData(40000, 49152)]
    public void BucketFor_Lengths_RoundUpToTheDocumentedBuckets(int length, int bucket) =>
        Assert.Equal(bucket, Padding.BucketFor(length));

    [Fact]
    public void Pad_AnyContent_IsABucketAndUnpadsExactly()
    {
        Gen.Byte.Array[0, 17_000].Sample(content =>
        {
            var padded = Padding.Pad(content);

            Assert.Equal(Padding.BucketFor(content.Length + 1), padded.Length);
            Assert.True(Padding.TryUnpad(padded, out var length));
            Assert.Equal(content, padded[..length]);
        });
    }

    [Fact]
    public void Pad_ContentEndingInZerosAndTheMarker_UnpadsExactly()
    {
        byte[] content = [0x41, 0x80, 0x00, 0x00];

        var padded = Padding.Pad(content);

        Assert.Equal(64, padded.Length);
        Assert.True(Padding.TryUnpad(padded, out var length));
        Assert.Equal(content, padded[..length]);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0000")]
    [InlineData("41420000")]
    [InlineData("418001")]
    public void TryUnpad_NoMarkerBeforeTheZeros_IsFalse(string hex) =>
        Assert.False(Padding.TryUnpad(Convert.FromHexString(hex), out _));

    [Fact]
    public void EncodePadded_TextEnvelope_IsTheDocumentedProtobuf()
    {
        var envelope = Fixed("hi");

        // The 69-byte envelope of NodeWireTests' golden text, then field 20 (tag A2 01),
        // length 183 (varint B7 01), 183 zeros: 69 + 2 + 2 + 183 = 256 bytes, the bucket of 69 + 3.
        var expected = Convert.FromHexString(
            "0A10000102030405060708090A0B0C0D0E0F"
            + "1210101112131415161718191A1B1C1D1E1F"
            + "1A10202122232425262728292A2B2C2D2E2F"
            + "2005"
            + "2880D095FFBC31"
            + "5204" + "0A026869"
            + "A201" + "B701" + new string('0', 183 * 2));

        Assert.Equal(expected, NodeWire.EncodePadded(envelope));
    }

    [Fact]
    public void EnvelopePadding_EverySize_FillsTheBucketWithWellFormedPaddingFields()
    {
        for (var size = 0; size <= 33_000; size++)
        {
            var padding = Padding.EnvelopePadding(size);

            Assert.Equal(Padding.BucketFor(size + 3), size + padding.Length);
            var parsed = Envelope.Parser.ParseFrom(padding);
            Assert.Equal(new Envelope { Padding = parsed.Padding }, parsed);
            Assert.All(parsed.Padding.ToByteArray(), b => Assert.Equal(0, b));
        }
    }

    [Theory]
    [InlineData(1, 150)]
    [InlineData(200, 900)]
    [InlineData(1000, 3900)]
    [InlineData(4100, 16_000)]
    public void EncodePadded_TwoTextsInOneBucket_MakeRatchetMessagesOfOneSize(int shorter, int longer)
    {
        using var pair = RatchetPair.Create();
        var first = NodeWire.EncodePadded(Fixed(new string('a', shorter)));
        var second = NodeWire.EncodePadded(Fixed(new string('b', longer)));

        Assert.Equal(first.Length, second.Length);
        var firstFrame = NodeWire.Encode(new NodeFrame { Ratchet = ByteString.CopyFrom(pair.Alice.Encrypt(first)) });
        var secondFrame = NodeWire.Encode(new NodeFrame { Ratchet = ByteString.CopyFrom(pair.Alice.Encrypt(second)) });
        Assert.Equal(firstFrame.Length, secondFrame.Length);

        // And they arrive as the texts that were sent.
        Assert.Equal(RatchetError.None, pair.Bob.TryDecrypt(NodeFrame.Parser.ParseFrom(secondFrame).Ratchet.Span, RatchetPair.Start, out var plaintext));
        Assert.True(NodeWire.TryParseEnvelope(plaintext, out var received));
        Assert.Equal(new string('b', longer), received.Text.Content);
    }

    [Fact]
    public void TryParseEnvelope_PaddedOrNot_GivesTheSameEnvelope()
    {
        Gen.String.Where(NodeWire.IsValidText).Sample(text =>
        {
            var envelope = Fixed(text);
            var padded = NodeWire.EncodePadded(envelope);

            Assert.True(NodeWire.TryParseEnvelope(padded, out var parsed));
            Assert.Equal(Padding.BucketFor(NodeWire.Encode(envelope).Length + 3), padded.Length);
            parsed.Padding = ByteString.Empty;
            Assert.Equal(envelope, parsed);

            // A receiver built before the padding field reads it as an unknown field and skips it;
            // a message with no fields of its own sees the whole envelope that way and still parses.
            Assert.NotNull(Empty.Parser.ParseFrom(padded));
        });
    }

    [Fact]
    public void EncodePadded_EnvelopeAlreadyPadded_IsPaddedOnce()
    {
        var envelope = Fixed("hi");
        envelope.Padding = ByteString.CopyFrom(new byte[500]);

        Assert.Equal(NodeWire.EncodePadded(Fixed("hi")), NodeWire.EncodePadded(envelope));
    }

    private static Envelope Fixed(string text) => new()
    {
        MessageId = ByteString.CopyFrom([.. Enumerable.Range(0x00, 16).Select(i => (byte)i)]),
        Conversation = ByteString.CopyFrom([.. Enumerable.Range(0x10, 16).Select(i => (byte)i)]),
        SenderDevice = ByteString.CopyFrom([.. Enumerable.Range(0x20, 16).Select(i => (byte)i)]),
        Lamport = 5,
        SentAt = 1_700_000_000_000,
        Text = new Text { Content = text },
    };
}
