using System.Net;
using CsCheck;
using SecureChat.Protocol.Discovery;

namespace SecureChat.Protocol.Tests.Discovery;

/// <summary>
/// The endpoint list discovery records carry (docs/discovery.md section 3): golden bytes, round
/// trips of any list, and a decoder that is total and accepts zero padding and nothing else.
/// </summary>
public sealed class EndpointListTests
{
    private static readonly DateTimeOffset Published = new(2025, 5, 1, 9, 0, 0, TimeSpan.Zero);

    // ver 1 | published 1746090000 | count 2 | 4 192.168.1.20 7313 | 6 2001:db8::1 443
    private const string GoldenHex = "01" + "0000000068133810" + "02"
        + "04" + "c0a80114" + "1c91"
        + "06" + "20010db8000000000000000000000001" + "01bb";

    private static readonly EndpointList Golden = new(
        Published,
        [new IPEndPoint(IPAddress.Parse("192.168.1.20"), 7313), new IPEndPoint(IPAddress.Parse("2001:db8::1"), 443)]);

    private static readonly Gen<IPEndPoint> Endpoints = Gen.Select(
        Gen.OneOf(Gen.Byte.Array[4], Gen.Byte.Array[16]),
        Gen.Int[1, 65535],
        (address, port) => new IPEndPoint(new IPAddress(address), port));

    private static readonly Gen<EndpointList> Lists = Gen.Select(
        Gen.Long[0, 253402300799],
        Endpoints.List[0, EndpointList.MaxEndpoints],
        (seconds, endpoints) => new EndpointList(DateTimeOffset.FromUnixTimeSeconds(seconds), endpoints));

    [Fact]
    public void Encode_IPv4AndIPv6_IsGoldenBytes()
    {
        Assert.Equal(GoldenHex, Convert.ToHexStringLower(Golden.Encode()));
    }

    [Fact]
    public void TryDecode_GoldenBytes_GivesTheList()
    {
        var decoded = EndpointList.TryDecode(Convert.FromHexString(GoldenHex));

        Assert.NotNull(decoded);
        Assert.Equal(Published, decoded.Published);
        Assert.Equal(Golden.Endpoints, decoded.Endpoints);
    }

    [Fact]
    public void Encode_NoEndpoints_IsTenBytes()
    {
        Assert.Equal("01" + "0000000068133810" + "00", Convert.ToHexStringLower(new EndpointList(Published, []).Encode()));
    }

    [Fact]
    public void Encode_EightIPv6Endpoints_IsMaxSize()
    {
        var list = new EndpointList(Published, [.. Enumerable.Range(1, 8).Select(i => new IPEndPoint(IPAddress.Parse($"2001:db8::{i}"), i))]);

        Assert.Equal(EndpointList.MaxSize, list.Encode().Length);
        Assert.Equal(162, EndpointList.MaxSize);
    }

    [Fact]
    public void Encode_IPv4MappedIPv6_IsEncodedAsIPv4()
    {
        var mapped = new EndpointList(Published, [new IPEndPoint(IPAddress.Parse("::ffff:192.168.1.20"), 7313)]);

        Assert.Equal("01" + "0000000068133810" + "01" + "04" + "c0a80114" + "1c91", Convert.ToHexStringLower(mapped.Encode()));
    }

    [Fact]
    public void TryDecode_AnyEncodedList_RoundTrips()
    {
        Lists.Sample(list =>
        {
            var decoded = EndpointList.TryDecode(list.Encode());

            Assert.NotNull(decoded);
            Assert.Equal(list.Published, decoded.Published);
            Assert.Equal(list.Endpoints, decoded.Endpoints);
        });
    }

    [Fact]
    public void TryDecode_AnyEncodedListWithZeroPadding_RoundTrips()
    {
        Gen.Select(Lists, Gen.Int[0, 300]).Sample((list, padding) =>
        {
            var decoded = EndpointList.TryDecode([.. list.Encode(), .. new byte[padding]]);

            Assert.NotNull(decoded);
            Assert.Equal(list.Endpoints, decoded.Endpoints);
        });
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(0xFF)]
    public void TryDecode_VersionNotOne_ReturnsNull(byte version)
    {
        var bytes = Convert.FromHexString(GoldenHex);
        bytes[0] = version;

        Assert.Null(EndpointList.TryDecode(bytes));
    }

    [Theory]
    [InlineData(9)]
    [InlineData(0xFF)]
    public void TryDecode_CountAboveEight_ReturnsNull(byte count)
    {
        // Enough well-formed endpoints follow that only the count is wrong.
        var nine = new EndpointList(Published, [.. Enumerable.Range(1, 8).Select(i => new IPEndPoint(IPAddress.Loopback, i))]).Encode();
        byte[] bytes = [.. nine, .. Convert.FromHexString("047f0000010009")];
        bytes[9] = count;

        Assert.Null(EndpointList.TryDecode(bytes));
    }

    [Fact]
    public void TryDecode_CountMoreThanPresent_ReturnsNull()
    {
        var bytes = Convert.FromHexString(GoldenHex);
        bytes[9] = 3;

        Assert.Null(EndpointList.TryDecode(bytes));
    }

    [Theory]
    [InlineData(15)] // the IPv4 endpoint's port
    [InlineData(34)] // the IPv6 endpoint's port
    public void TryDecode_PortZero_ReturnsNull(int portOffset)
    {
        var bytes = Convert.FromHexString(GoldenHex);
        bytes[portOffset] = 0;
        bytes[portOffset + 1] = 0;

        Assert.Null(EndpointList.TryDecode(bytes));
    }

    [Theory]
    [InlineData(10, 0)]
    [InlineData(10, 5)]
    [InlineData(10, 6)] // the IPv4 endpoint read as IPv6: the rest is misread
    [InlineData(10, 16)]
    [InlineData(10, 0x84)]
    [InlineData(17, 0)]
    [InlineData(17, 4)] // the IPv6 endpoint read as IPv4: the rest is misread
    [InlineData(17, 0x46)]
    public void TryDecode_BadFamilyByte_ReturnsNull(int offset, byte family)
    {
        var bytes = Convert.FromHexString(GoldenHex);
        bytes[offset] = family;

        Assert.Null(EndpointList.TryDecode(bytes));
    }

    [Fact]
    public void TryDecode_EveryTruncation_ReturnsNull()
    {
        var bytes = Convert.FromHexString(GoldenHex);

        for (var length = 0; length < bytes.Length; length++)
        {
            Assert.Null(EndpointList.TryDecode(bytes.AsSpan(0, length)));
        }
    }

    [Fact]
    public void TryDecode_NonZeroByteInPadding_ReturnsNull()
    {
        var golden = Convert.FromHexString(GoldenHex);

        for (var position = 0; position < 40; position++)
        {
            var padded = new byte[golden.Length + 40];
            golden.CopyTo(padded, 0);
            padded[golden.Length + position] = 0x01;

            Assert.Null(EndpointList.TryDecode(padded));
        }
    }

    [Theory]
    [InlineData("8000000000000000")] // negative
    [InlineData("ffffffffffffffff")] // -1
    [InlineData("0000003afff44180")] // 253402300800: after 9999-12-31T23:59:59Z
    public void TryDecode_PublishedOutOfRange_ReturnsNull(string published)
    {
        byte[] bytes = [0x01, .. Convert.FromHexString(published), 0x00];

        Assert.Null(EndpointList.TryDecode(bytes));
    }

    [Fact]
    public void TryDecode_LastRepresentableSecond_Decodes()
    {
        byte[] bytes = [0x01, .. Convert.FromHexString("0000003afff4417f"), 0x00];

        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(253402300799), EndpointList.TryDecode(bytes)?.Published);
    }

    [Fact]
    public void TryDecode_RandomBytes_NeverThrows()
    {
        Gen.Byte.Array[0, 400].Sample(bytes => EndpointList.TryDecode(bytes) is null || bytes[0] == 1, iter: 5000);
    }

    [Fact]
    public void TryDecode_ValidListWithBytesChanged_NeverThrows()
    {
        // Random bytes rarely get past the version and count; damaged real lists reach every branch.
        Gen.Select(Lists, Gen.Int[0, int.MaxValue], Gen.Byte.Array[1, 4], Gen.Int[0, 8]).Sample((list, position, patch, extra) =>
        {
            byte[] bytes = [.. list.Encode(), .. new byte[extra]];
            var at = position % bytes.Length;
            patch.AsSpan(0, Math.Min(patch.Length, bytes.Length - at)).CopyTo(bytes.AsSpan(at));

            var decoded = EndpointList.TryDecode(bytes);

            if (decoded is not null)
            {
                Assert.InRange(decoded.Endpoints.Count, 0, EndpointList.MaxEndpoints);
                Assert.All(decoded.Endpoints, e => Assert.InRange(e.Port, 1, 65535));
            }
        }, iter: 5000);
    }
}
