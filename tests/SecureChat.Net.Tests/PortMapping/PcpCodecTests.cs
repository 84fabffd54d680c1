using System.Net;
using SecureChat.Net.PortMapping;

namespace SecureChat.Net.Tests.PortMapping;

/// <summary>PCP's MAP messages against bytes written by hand from RFC 6887's diagrams, and every kind of reply a hostile router can send.</summary>
public sealed class PcpCodecTests
{
    private static readonly byte[] Nonce = Hex("0102030405060708090A0B0C");

    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", ""));

    /// <summary>A success answer for TCP port 40000, external 198.18.0.5:40001, lifetime 3600 s, epoch 300.</summary>
    private const string Answer =
        "02 81 00 00 00000E10 0000012C 000000000000000000000000"
        + "0102030405060708090A0B0C 06 000000 9C40 9C41 00000000000000000000FFFFC6120005";

    [Fact]
    public void EncodeMapRequest_Tcp_MatchesSections7And11Layout()
    {
        // Header: vers 2, MAP, reserved, lifetime 3600, client 192.168.1.20 IPv4-mapped;
        // MAP: nonce, protocol 6, reserved, internal 40000, no suggested port, ::ffff:0.0.0.0.
        var expected = Hex("02 01 0000 00000E10 00000000000000000000FFFFC0A80114"
            + "0102030405060708090A0B0C 06 000000 9C40 0000 00000000000000000000FFFF00000000");
        Assert.Equal(expected, PcpCodec.EncodeMapRequest(Nonce, MappingProtocol.Tcp, 40000, 3600, IPAddress.Parse("192.168.1.20")));
    }

    [Fact]
    public void EncodeMapRequest_UdpDeletion_HasProtocol17AndLifetimeZero()
    {
        var request = PcpCodec.EncodeMapRequest(Nonce, MappingProtocol.Udp, 40000, 0, IPAddress.Parse("192.168.1.20"));
        Assert.Equal(Hex("02 01 0000 00000000"), request[..8]);
        Assert.Equal(17, request[36]);
        Assert.Equal(60, request.Length);
    }

    [Fact]
    public void DecodeMapResponse_GoldenBytes_GivesTheExternalEndpoint()
    {
        var reply = PcpCodec.DecodeMapResponse(Hex(Answer), Nonce, MappingProtocol.Tcp, 40000);
        Assert.Equal(MappingFailure.None, reply.Failure);
        Assert.Equal(new PcpMapping(MappingProtocol.Tcp, 40000, new IPEndPoint(IPAddress.Parse("198.18.0.5"), 40001), 3600, 300), reply.Value);
    }

    [Fact]
    public void DecodeMapResponse_OptionsAfterTheBody_AreSkipped()
    {
        // A THIRD_PARTY-like option the client never asked for: code, reserved, length 4, 4 bytes.
        var reply = PcpCodec.DecodeMapResponse(Hex(Answer + "01 00 0004 00000000"), Nonce, MappingProtocol.Tcp, 40000);
        Assert.Equal(40001, reply.Value!.External.Port);
    }

    [Fact]
    public void IsAnnounce_AnnounceResponse_IsRecognisedAndNotAMapAnswer()
    {
        var announce = Hex("02 80 00 00 00000000 00000005 000000000000000000000000");
        Assert.True(PcpCodec.IsAnnounce(announce));
        Assert.False(PcpCodec.IsAnnounce(Hex(Answer)));
        Assert.Equal(MappingFailure.Malformed, PcpCodec.DecodeMapResponse(announce, Nonce, MappingProtocol.Tcp, 40000).Failure);
    }

    [Theory]
    [InlineData("10.0.0.1")]
    [InlineData("172.20.1.1")]
    [InlineData("192.168.0.1")]
    [InlineData("100.100.0.1")]
    [InlineData("127.0.0.1")]
    [InlineData("169.254.0.1")]
    [InlineData("0.0.0.0")]
    [InlineData("fe80::1")]
    [InlineData("fd00::1")]
    [InlineData("::1")]
    [InlineData("::")]
    public void DecodeMapResponse_ExternalAddressNotPublic_IsNotPublic(string address)
    {
        var bytes = Hex(Answer);
        PcpCodec.WriteAddress(IPAddress.Parse(address), bytes.AsSpan(44, 16));
        var reply = PcpCodec.DecodeMapResponse(bytes, Nonce, MappingProtocol.Tcp, 40000);
        Assert.Null(reply.Value);
        Assert.Equal(MappingFailure.NotPublic, reply.Failure);
    }

    public static TheoryData<string, string, MappingFailure> HostileReplies => new()
    {
        { "empty", "", MappingFailure.Malformed },
        { "short of a header", Answer[..40], MappingFailure.Malformed },
        { "not a multiple of 4", Answer + "00", MappingFailure.Malformed },
        { "success without the MAP body", Answer[..54], MappingFailure.Malformed },
        { "over 1100 bytes", Answer + new string('0', 2 * 1044), MappingFailure.Malformed },
        { "version 0 (NAT-PMP)", "00" + Answer[2..], MappingFailure.Malformed },
        { "version 1", "01" + Answer[2..], MappingFailure.Malformed },
        { "the request echoed (no R bit)", "02 01" + Answer[5..], MappingFailure.Malformed },
        { "PEER opcode", "02 82" + Answer[5..], MappingFailure.Malformed },
        { "another nonce", Answer.Replace("0102030405060708090A0B0C", "FF02030405060708090A0B0C"), MappingFailure.Malformed },
        { "another protocol", Answer.Replace(" 06 000000", " 11 000000"), MappingFailure.Malformed },
        { "another port", Answer.Replace("9C40 9C41", "9C42 9C41"), MappingFailure.Malformed },
        { "granted lifetime 0", Answer.Replace("00000E10", "00000000"), MappingFailure.Malformed },
        { "external port 0", Answer.Replace("9C40 9C41", "9C40 0000"), MappingFailure.Malformed },
        { "NOT_AUTHORIZED", "02 81 00 02" + Answer[11..], MappingFailure.Refused },
        { "NO_RESOURCES, header only", "02 81 00 08 00000000 0000012C 000000000000000000000000", MappingFailure.Refused },
        { "ADDRESS_MISMATCH", "02 81 00 0C" + Answer[11..], MappingFailure.Refused },
        { "an undefined code", "02 81 00 FE" + Answer[11..], MappingFailure.Refused },
    };

    [Theory]
    [MemberData(nameof(HostileReplies))]
    public void DecodeMapResponse_HostileReply_IsTypedFailure(string kind, string hex, MappingFailure expected)
    {
        var reply = PcpCodec.DecodeMapResponse(Hex(hex), Nonce, MappingProtocol.Tcp, 40000);
        Assert.True(reply.Value is null, kind);
        Assert.Equal(expected, reply.Failure);
        Assert.False(string.IsNullOrWhiteSpace(reply.Sentence));
    }

    [Fact]
    public void DecodeMapResponse_DeletionAnswer_AcceptsLifetimeZero()
    {
        var bytes = Hex(Answer.Replace("00000E10", "00000000"));
        Assert.NotNull(PcpCodec.DecodeMapResponse(bytes, Nonce, MappingProtocol.Tcp, 40000, deleting: true).Value);
    }
}
