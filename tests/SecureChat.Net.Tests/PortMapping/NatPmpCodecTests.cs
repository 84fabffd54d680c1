using System.Net;
using SecureChat.Net.PortMapping;

namespace SecureChat.Net.Tests.PortMapping;

/// <summary>NAT-PMP's messages against bytes written by hand from RFC 6886's diagrams, and every kind of reply a hostile router can send.</summary>
public sealed class NatPmpCodecTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", ""));

    [Fact]
    public void EncodeExternalAddressRequest_IsVersionZeroOpcodeZero() =>
        Assert.Equal(Hex("00 00"), NatPmpCodec.EncodeExternalAddressRequest());

    [Fact]
    public void EncodeMapRequest_Tcp_MatchesSection33Layout() =>
        // vers 0, op 2 (TCP), reserved, internal 40000, suggested 40000, lifetime 7200 s.
        Assert.Equal(Hex("00 02 0000 9C40 9C40 00001C20"), NatPmpCodec.EncodeMapRequest(MappingProtocol.Tcp, 40000, 40000, 7200));

    [Fact]
    public void EncodeMapRequest_UdpDeletion_HasZeroPortAndLifetime() =>
        Assert.Equal(Hex("00 01 0000 9C40 0000 00000000"), NatPmpCodec.EncodeMapRequest(MappingProtocol.Udp, 40000, 0, 0));

    [Fact]
    public void DecodeExternalAddressResponse_GoldenBytes_GivesEpochAndAddress()
    {
        var reply = NatPmpCodec.DecodeExternalAddressResponse(Hex("00 80 0000 00000E10 C6120005"));
        Assert.Equal(MappingFailure.None, reply.Failure);
        Assert.Equal(3600u, reply.Value!.Epoch);
        Assert.Equal(IPAddress.Parse("198.18.0.5"), reply.Value.Address);
    }

    [Fact]
    public void DecodeMapResponse_GoldenBytes_GivesPortsAndLifetime()
    {
        var reply = NatPmpCodec.DecodeMapResponse(Hex("00 81 0000 0000012C 9C40 9C41 00001C20"), MappingProtocol.Udp, 40000);
        Assert.Equal(new NatPmpMapping(MappingProtocol.Udp, 300, 40000, 40001, 7200), reply.Value);
    }

    [Theory]
    [InlineData("10.1.2.3")]
    [InlineData("172.16.0.1")]
    [InlineData("172.31.255.255")]
    [InlineData("192.168.1.1")]
    [InlineData("100.64.0.1")]
    [InlineData("100.127.255.255")]
    [InlineData("127.0.0.1")]
    [InlineData("169.254.10.20")]
    [InlineData("0.0.0.0")]
    [InlineData("224.0.0.1")]
    [InlineData("255.255.255.255")]
    public void DecodeExternalAddressResponse_AddressNotReachableFromTheInternet_IsNotPublic(string address)
    {
        var bytes = Hex("00 80 0000 00000E10 00000000");
        IPAddress.Parse(address).GetAddressBytes().CopyTo(bytes, 8);
        var reply = NatPmpCodec.DecodeExternalAddressResponse(bytes);
        Assert.Null(reply.Value);
        Assert.Equal(MappingFailure.NotPublic, reply.Failure);
        Assert.Contains(address, reply.Sentence);
    }

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("172.32.0.1")]
    [InlineData("100.128.0.1")]
    [InlineData("198.19.255.254")]
    public void DecodeExternalAddressResponse_PublicAddress_IsAccepted(string address)
    {
        var bytes = Hex("00 80 0000 00000E10 00000000");
        IPAddress.Parse(address).GetAddressBytes().CopyTo(bytes, 8);
        Assert.Equal(IPAddress.Parse(address), NatPmpCodec.DecodeExternalAddressResponse(bytes).Value!.Address);
    }

    [Theory]
    [InlineData("", MappingFailure.Malformed)]
    [InlineData("00 80 0000", MappingFailure.Malformed)] // shorter than a header
    [InlineData("00 80 0000 00000E10 C61200", MappingFailure.Malformed)] // address cut short
    [InlineData("00 80 0000 00000E10 C6120005 00", MappingFailure.Malformed)] // a byte too many
    [InlineData("01 80 0000 00000E10 C6120005", MappingFailure.Malformed)] // version 1
    [InlineData("02 80 0000 00000E10 C6120005", MappingFailure.Malformed)] // a PCP router's version
    [InlineData("00 00 0000 00000E10 C6120005", MappingFailure.Malformed)] // our own request echoed
    [InlineData("00 81 0000 00000E10 C6120005", MappingFailure.Malformed)] // a map answer
    [InlineData("00 80 0001 00000E10", MappingFailure.Refused)] // unsupported version, 8-byte form
    [InlineData("00 80 0002 00000E10 00000000", MappingFailure.Refused)] // not authorized
    [InlineData("00 80 0003 00000E10 00000000", MappingFailure.Refused)] // network failure
    [InlineData("00 80 FFFF 00000E10 00000000", MappingFailure.Refused)] // an undefined code
    public void DecodeExternalAddressResponse_HostileReply_IsTypedFailure(string hex, MappingFailure expected)
    {
        var reply = NatPmpCodec.DecodeExternalAddressResponse(Hex(hex));
        Assert.Null(reply.Value);
        Assert.Equal(expected, reply.Failure);
        Assert.False(string.IsNullOrWhiteSpace(reply.Sentence));
    }

    [Theory]
    [InlineData("00 81 0000 0000012C 9C40 9C41 00001C", MappingFailure.Malformed)] // truncated
    [InlineData("00 81 0000 0000012C 9C40 9C41 00001C20 0000", MappingFailure.Malformed)] // too long
    [InlineData("00 82 0000 0000012C 9C40 9C41 00001C20", MappingFailure.Malformed)] // the TCP answer to a UDP request
    [InlineData("00 81 0000 0000012C 9C42 9C41 00001C20", MappingFailure.Malformed)] // another port
    [InlineData("01 81 0000 0000012C 9C40 9C41 00001C20", MappingFailure.Malformed)] // wrong version
    [InlineData("00 81 0004 0000012C", MappingFailure.Refused)] // out of resources
    [InlineData("00 81 0005 0000012C 9C40 0000 00000000", MappingFailure.Refused)] // unsupported opcode
    public void DecodeMapResponse_HostileReply_IsTypedFailure(string hex, MappingFailure expected)
    {
        var reply = NatPmpCodec.DecodeMapResponse(Hex(hex), MappingProtocol.Udp, 40000);
        Assert.Null(reply.Value);
        Assert.Equal(expected, reply.Failure);
        Assert.False(string.IsNullOrWhiteSpace(reply.Sentence));
    }

    [Fact]
    public void DefaultGateway_RouteTable_FindsTheDefaultRoutesGateway()
    {
        string[] table =
        [
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
            "eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0",
            "eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0",
        ];
        Assert.Equal(IPAddress.Parse("192.168.1.1"), DefaultGateway.ParseRouteTable(table));
        Assert.Null(DefaultGateway.ParseRouteTable(table[..2]));
        Assert.Null(DefaultGateway.ParseRouteTable(["heading", "garbage", "eth0 zz yy"]));
    }
}
