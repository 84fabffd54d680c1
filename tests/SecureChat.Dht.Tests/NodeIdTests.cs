using System.Net;
using System.Net.Sockets;
using CsCheck;

namespace SecureChat.Dht.Tests;

/// <summary>Node IDs (160-bit, XOR metric) and BEP 5's compact node and peer encodings, with golden bytes.</summary>
public sealed class NodeIdTests
{
    private static readonly NodeId Zero = NodeId.FromBytes(new byte[20]);

    [Fact]
    public void FromBytes_ToArray_RoundTripsBigEndian()
    {
        var bytes = Convert.FromHexString("0102030405060708090a0b0c0d0e0f1011121314");

        var id = NodeId.FromBytes(bytes);

        Assert.Equal(bytes, id.ToArray());
        Assert.Equal("0102030405060708090a0b0c0d0e0f1011121314", id.ToString());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(19)]
    [InlineData(21)]
    public void TryFromBytes_WrongLength_IsFalse(int length)
    {
        Assert.False(NodeId.TryFromBytes(new byte[length], out _));
        Assert.Throws<ArgumentException>(() => NodeId.FromBytes(new byte[length]));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("0102")]
    [InlineData("zz02030405060708090a0b0c0d0e0f1011121314")]
    [InlineData("0102030405060708090a0b0c0d0e0f101112131415")]
    public void TryParseHex_NotFortyHexDigits_IsFalse(string? text)
    {
        Assert.False(NodeId.TryParseHex(text, out _));
    }

    [Fact]
    public void Sha1_HelloWorld_IsTheBep44ImmutableTarget()
    {
        Assert.Equal("e5f96f6f38320f0f33959cb4d3d656452117aadb", NodeId.Sha1("12:Hello World!"u8).ToString());
    }

    [Theory]
    [InlineData("8000000000000000000000000000000000000000", 0)]
    [InlineData("0000000000000000000000000000000000000001", 159)]
    [InlineData("0000000000000000000100000000000000000000", 79)]
    [InlineData("0000000000000000000000000000000000000000", 160)]
    public void CommonPrefixLength_FromZero_CountsLeadingZeroBits(string hex, int expected)
    {
        Assert.Equal(expected, Zero.CommonPrefixLength(NodeId.FromBytes(Convert.FromHexString(hex))));
    }

    [Fact]
    public void RandomWithPrefix_AnyLength_SharesExactlyThatManyBits()
    {
        var self = NodeId.Random();
        for (var prefix = 0; prefix < 160; prefix++)
        {
            Assert.Equal(prefix, self.CommonPrefixLength(self.RandomWithPrefix(prefix)));
        }
    }

    [Fact]
    public void CompareDistance_AnyIds_AgreesWithXorAsABigEndianNumber()
    {
        Gen.Select(Gen.Byte.Array[20], Gen.Byte.Array[20], Gen.Byte.Array[20]).Sample((t, a, b) =>
        {
            var target = NodeId.FromBytes(t);
            var da = t.Zip(a, (x, y) => (byte)(x ^ y)).ToArray();
            var db = t.Zip(b, (x, y) => (byte)(x ^ y)).ToArray();
            var expected = Math.Sign(da.AsSpan().SequenceCompareTo(db));
            Assert.Equal(expected, Math.Sign(target.CompareDistance(NodeId.FromBytes(a), NodeId.FromBytes(b))));
        });
    }

    [Fact]
    public void EncodePeer_IPv4_IsSixBytesNetworkOrder()
    {
        Assert.Equal(new byte[] { 1, 2, 3, 4, 0x1a, 0xe1 }, Compact.EncodePeer(new IPEndPoint(IPAddress.Parse("1.2.3.4"), 6881)));
        Assert.Equal(new byte[] { 1, 2, 3, 4, 0x1a, 0xe1 }, Compact.EncodePeer(new IPEndPoint(IPAddress.Parse("::ffff:1.2.3.4"), 6881)));
    }

    [Fact]
    public void EncodePeer_IPv6_IsEighteenBytes()
    {
        var bytes = Compact.EncodePeer(new IPEndPoint(IPAddress.Parse("2001:db8::1"), 443));

        Assert.Equal(Convert.FromHexString("20010db800000000000000000000000101bb"), bytes);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0102030405")]
    [InlineData("01020304050607")]
    [InlineData("010203040000")]
    public void DecodePeer_WrongLengthOrPortZero_IsNull(string hex)
    {
        Assert.Null(Compact.DecodePeer(Convert.FromHexString(hex)));
    }

    [Fact]
    public void EncodeNodes_MixedFamilies_KeepsOnlyTheAskedFamilyAsGoldenBytes()
    {
        var id = NodeId.FromBytes(Convert.FromHexString("0102030405060708090a0b0c0d0e0f1011121314"));
        var nodes = new[]
        {
            new NodeContact(id, new IPEndPoint(IPAddress.Parse("10.0.0.1"), 1)),
            new NodeContact(id, new IPEndPoint(IPAddress.Parse("2001:db8::1"), 2)),
        };

        Assert.Equal(Convert.FromHexString("0102030405060708090a0b0c0d0e0f10111213140a0000010001"), Compact.EncodeNodes(nodes, AddressFamily.InterNetwork));
        Assert.Equal(38, Compact.EncodeNodes(nodes, AddressFamily.InterNetworkV6).Length);
    }

    [Fact]
    public void DecodeNodes_RaggedLength_YieldsNothing()
    {
        var one = Compact.EncodeNodes([new NodeContact(NodeId.Random(), new IPEndPoint(IPAddress.Loopback, 5))], AddressFamily.InterNetwork);

        Assert.Single(Compact.DecodeNodes(one, AddressFamily.InterNetwork));
        Assert.Empty(Compact.DecodeNodes([.. one, 0], AddressFamily.InterNetwork));
        Assert.Empty(Compact.DecodeNodes(one[..^1], AddressFamily.InterNetwork));
    }

    [Fact]
    public void DecodeNodes_EntryWithPortZero_IsSkipped()
    {
        var good = new NodeContact(NodeId.Random(), new IPEndPoint(IPAddress.Parse("10.0.0.2"), 7));
        var bytes = Compact.EncodeNodes([good, new NodeContact(NodeId.Random(), new IPEndPoint(IPAddress.Parse("10.0.0.3"), 0))], AddressFamily.InterNetwork);

        Assert.Equal([good], Compact.DecodeNodes(bytes, AddressFamily.InterNetwork));
    }

    [Fact]
    public void DecodeNodes_ArbitraryBytes_NeverThrows()
    {
        Gen.Byte.Array[0, 400].Sample(bytes =>
        {
            Assert.All(Compact.DecodeNodes(bytes, AddressFamily.InterNetwork), n => Assert.NotEqual(0, n.EndPoint.Port));
            Assert.All(Compact.DecodeNodes(bytes, AddressFamily.InterNetworkV6), n => Assert.NotEqual(0, n.EndPoint.Port));
        });
    }

    // BEP 42's table: IP, rand (the last byte) and the ID whose first 21 bits the IP fixes.
    [Theory]
    [InlineData("124.31.75.21", 0x01, "5fbfbf", "01")]
    [InlineData("21.75.31.124", 0x56, "5a3ce9", "56")]
    [InlineData("65.23.51.170", 0x16, "a5d432", "16")]
    [InlineData("84.124.73.14", 0x41, "1b0321", "41")]
    [InlineData("43.213.53.83", 0x5a, "e56f6c", "5a")]
    public void ForAddress_Bep42Vectors_MatchTheFirst21BitsAndKeepRand(string ip, byte rand, string prefix, string last)
    {
        var random = new byte[20];
        random[19] = rand;

        var id = NodeId.ForAddress(IPAddress.Parse(ip), random).ToArray();

        var expected = Convert.FromHexString(prefix);
        Assert.Equal(expected[0], id[0]);
        Assert.Equal(expected[1], id[1]);
        Assert.Equal(expected[2] & 0xf8, id[2] & 0xf8);
        Assert.Equal(Convert.FromHexString(last)[0], id[19]);
        Assert.True(NodeId.FromBytes(id).ConformsTo(IPAddress.Parse(ip)));
    }

    [Fact]
    public void ForAddress_SameAddressTwice_GivesTwoConformingIds()
    {
        var address = IPAddress.Parse("203.0.113.9");

        var first = NodeId.ForAddress(address);
        var second = NodeId.ForAddress(address);

        Assert.NotEqual(first, second);
        Assert.True(first.ConformsTo(address));
        Assert.True(second.ConformsTo(address));
        Assert.False(first.ConformsTo(IPAddress.Parse("198.51.100.20")) && second.ConformsTo(IPAddress.Parse("198.51.100.20")));
    }

    [Fact]
    public void ForAddress_IPv6_Conforms()
    {
        var address = IPAddress.Parse("2001:db8::1");

        Assert.True(NodeId.ForAddress(address).ConformsTo(address));
    }
}
