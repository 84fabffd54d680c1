using System.Net;
using CsCheck;
using Google.Protobuf;
using SecureChat.Protocol.Messages;
using SecureChat.Protocol.Messages.Wire;

namespace SecureChat.Protocol.Tests.Messages;

/// <summary>The hello's <c>observed_endpoint</c> (docs/protocol.md 6.1): golden bytes, round trips, and a total decoder.</summary>
public sealed class ObservedEndpointTests
{
    [Fact]
    public void Encode_Ipv4_AddressThenBigEndianPort()
    {
        // C6 12 05 02 = 198.18.5.2; 1C 8F = 7311.
        Assert.Equal(Convert.FromHexString("C61205021C8F"), ObservedEndpoint.Encode(new IPEndPoint(IPAddress.Parse("198.18.5.2"), 7311)));
    }

    [Fact]
    public void Encode_Ipv6_SixteenAddressBytesThenPort()
    {
        Assert.Equal(
            Convert.FromHexString("20010DB8000000000000000000000010" + "1C8F"),
            ObservedEndpoint.Encode(new IPEndPoint(IPAddress.Parse("2001:db8::10"), 7311)));
    }

    [Fact]
    public void Encode_Ipv4MappedIpv6_WrittenAsIpv4()
    {
        Assert.Equal(Convert.FromHexString("C61205021C8F"), ObservedEndpoint.Encode(new IPEndPoint(IPAddress.Parse("::ffff:198.18.5.2"), 7311)));
    }

    [Fact]
    public void Encode_HelloWithObservation_IsTheDocumentedProtobuf()
    {
        var frame = new NodeFrame
        {
            Hello = new Hello
            {
                ListenPort = 7311,
                RatchetKey = ByteString.CopyFrom(Enumerable.Repeat((byte)0x09, 32).ToArray()),
                ObservedEndpoint = ByteString.CopyFrom(ObservedEndpoint.Encode(new IPEndPoint(IPAddress.Parse("198.18.5.2"), 40112))),
            },
        };

        // 0A 2D         NodeFrame field 1 hello, a 45-byte Hello:
        //   08 8F 39    field 1 listen_port 7311
        //   1A 20 <09 x 32>
        //               field 3 ratchet_key
        //   2A 06 C6 12 05 02 9C B0
        //               field 5 observed_endpoint (5 << 3 | 2 = 0x2A), 6 bytes: 198.18.5.2, port 40112
        var expected = Convert.FromHexString("0A2D" + "088F39" + "1A20" + string.Concat(Enumerable.Repeat("09", 32)) + "2A06C61205029CB0");

        Assert.Equal(expected, NodeWire.Encode(frame));
        Assert.True(NodeWire.TryParseFrame(expected, out var parsed));
        Assert.Equal(new IPEndPoint(IPAddress.Parse("198.18.5.2"), 40112), ObservedEndpoint.TryDecode(parsed.Hello.ObservedEndpoint.Span));
    }

    [Theory]
    [InlineData("")]
    [InlineData("C6")]
    [InlineData("C6120502")]
    [InlineData("C61205021C")]
    [InlineData("C61205021C8F00")]
    [InlineData("C61205020000")]
    [InlineData("20010DB80000000000000000000000101C")]
    [InlineData("20010DB80000000000000000000000100000")]
    [InlineData("20010DB80000000000000000000000101C8F00")]
    public void TryDecode_NotSixOrEighteenBytesOrPortZero_Null(string hex)
    {
        Assert.Null(ObservedEndpoint.TryDecode(Convert.FromHexString(hex)));
    }

    [Fact]
    public void TryDecode_Ipv4MappedIpv6_ComesBackAsIpv4()
    {
        var decoded = ObservedEndpoint.TryDecode(Convert.FromHexString("00000000000000000000FFFFC6120502" + "1C8F"));

        Assert.Equal(new IPEndPoint(IPAddress.Parse("198.18.5.2"), 7311), decoded);
    }

    [Fact]
    public void TryDecode_RandomEndpoints_RoundTrip()
    {
        var v4 = Gen.Byte.Array[4];
        var v6 = Gen.Byte.Array[16].Where(b => !new IPAddress(b).IsIPv4MappedToIPv6);
        Gen.Select(Gen.OneOf(v4, v6), Gen.Int[1, 65535], (address, port) => new IPEndPoint(new IPAddress(address), port)).Sample(endpoint =>
            Assert.Equal(endpoint, ObservedEndpoint.TryDecode(ObservedEndpoint.Encode(endpoint))));
    }

    [Fact]
    public void TryDecode_RandomBytes_NeverThrowsAndAcceptsOnlyTheTwoSizes()
    {
        Gen.Byte.Array[0, 40].Sample(bytes =>
        {
            var decoded = ObservedEndpoint.TryDecode(bytes);
            Assert.Equal(bytes.Length is 6 or 18 && (bytes[^2] | bytes[^1]) != 0, decoded is not null);
        });
    }

    [Fact]
    public void TryParseFrame_HelloWithMalformedObservation_StillAHello()
    {
        // A malformed observation is the session's to ignore, never a reason to refuse the hello:
        // the frame is checked only for what the session needs.
        var frame = NodeWire.Encode(new NodeFrame
        {
            Hello = new Hello { RatchetKey = ByteString.CopyFrom(new byte[32]), ObservedEndpoint = ByteString.CopyFrom(0x01, 0x02, 0x03) },
        });

        Assert.True(NodeWire.TryParseFrame(frame, out var parsed));
        Assert.Null(ObservedEndpoint.TryDecode(parsed.Hello.ObservedEndpoint.Span));
    }
}
