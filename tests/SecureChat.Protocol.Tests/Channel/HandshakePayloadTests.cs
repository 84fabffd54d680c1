using CsCheck;
using Google.Protobuf;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Identity;

namespace SecureChat.Protocol.Tests.Channel;

public sealed class HandshakePayloadTests : IDisposable
{
    private readonly LocalIdentity _alice = LocalIdentity.Create("alice", DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));

    public void Dispose() => _alice.Dispose();

    [Fact]
    public void Encode_Payload_IsTheDocumentedProtobuf()
    {
        var encoded = new HandshakePayload(1, _alice.Certificate, "alice").Encode();

        // field 1 varint 1; field 2 length-delimited 169 bytes (0xA9 0x01); field 3 "alice".
        byte[] expected = [0x08, 0x01, 0x12, 0xA9, 0x01, .. _alice.Certificate.Encoded, 0x1A, 0x05, .. "alice"u8];
        Assert.Equal(expected, encoded);
    }

    [Fact]
    public void TryDecode_EncodedPayload_RoundTrips()
    {
        var decoded = HandshakePayload.TryDecode(new HandshakePayload(1, _alice.Certificate, "Zoë 🌱").Encode());

        Assert.NotNull(decoded);
        Assert.Equal(_alice.Certificate, decoded.Certificate);
        Assert.Equal("Zoë 🌱", decoded.DisplayName);
        Assert.Equal(1u, decoded.ProtocolVersion);
    }

    [Fact]
    public void TryDecode_UnknownFields_AreSkipped()
    {
        byte[] encoded = [.. new HandshakePayload(1, _alice.Certificate, "alice").Encode(), 0xA2, 0x06, 0x02, 0xFF, 0xFF];

        Assert.Equal("alice", HandshakePayload.TryDecode(encoded)?.DisplayName);
    }

    [Theory]
    [InlineData("")]
    [InlineData("08")]
    [InlineData("0801")]
    [InlineData("08011203010203")]
    [InlineData("ffffffffffffffffffffff")]
    public void TryDecode_MalformedOrIncomplete_ReturnsNull(string hex)
    {
        Assert.Null(HandshakePayload.TryDecode(Convert.FromHexString(hex)));
    }

    [Theory]
    [InlineData("evil\u001b[31m")]
    [InlineData("line\nbreak")]
    [InlineData("alice\u202Eecila")]
    [InlineData("bo\u200Bb")]
    [InlineData("\u2066bob\u2069")]
    [InlineData("a name that is far too long to be shown anywhere at all, really, truly")]
    public void TryDecode_UnacceptableDisplayName_ReturnsNull(string name)
    {
        using var stream = new MemoryStream();
        var output = new CodedOutputStream(stream);
        output.WriteTag(1, WireFormat.WireType.Varint);
        output.WriteUInt32(1);
        output.WriteTag(2, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(_alice.Certificate.Encoded));
        output.WriteTag(3, WireFormat.WireType.LengthDelimited);
        output.WriteString(name);
        output.Flush();

        Assert.Null(HandshakePayload.TryDecode(stream.ToArray()));
    }

    [Theory]
    [InlineData("👨\u200D👩\u200D👧")]
    [InlineData("Zoë")]
    [InlineData("李小龍")]
    public void IsValidDisplayName_JoinersAndOtherScripts_AreAllowed(string name)
    {
        Assert.True(HandshakePayload.IsValidDisplayName(name));
    }

    [Fact]
    public void TryDecode_AnySingleBitFlipInTheCertificate_ReturnsNull()
    {
        var encoded = new HandshakePayload(1, _alice.Certificate, "alice").Encode();
        for (var bit = 5 * 8; bit < (5 + DeviceCertificate.Size) * 8; bit++)
        {
            var copy = (byte[])encoded.Clone();
            copy[bit / 8] ^= (byte)(1 << (bit % 8));

            Assert.Null(HandshakePayload.TryDecode(copy));
        }
    }

    [Fact]
    public void TryDecode_RandomBytes_NeverThrows()
    {
        Gen.Byte.Array[0, 400].Sample(bytes => HandshakePayload.TryDecode(bytes) is null || bytes.Length > 170);
    }
}
