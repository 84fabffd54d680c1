using System.Net;
using System.Text;

namespace SecureChat.Dht.Tests;

/// <summary>
/// KRPC envelopes (BEP 5): the spec's example messages parse and are written byte for byte, and
/// each envelope field that is missing, of the wrong type or over its limit makes the datagram
/// unreadable rather than a message with a hole in it.
/// </summary>
public sealed class KrpcTests
{
    private static readonly byte[] Aa = "aa"u8.ToArray();
    private static readonly byte[] QuerierId = "abcdefghij0123456789"u8.ToArray();
    private static readonly byte[] ResponderId = "mnopqrstuvwxyz123456"u8.ToArray();

    // BEP 5, "KRPC Protocol" and "DHT Queries": the example of each message.
    public static TheoryData<string, string> SpecQueries => new()
    {
        { "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe", "ping" },
        { "d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe", "find_node" },
        { "d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe", "get_peers" },
        { "d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe", "announce_peer" },
    };

    public static TheoryData<string> SpecResponses => new()
    {
        "d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re",
        "d1:rd2:id20:0123456789abcdefghij5:nodes9:def456...e1:t2:aa1:y1:re",
        "d1:rd2:id20:abcdefghij01234567895:nodes9:def456...5:token8:aoeusnthe1:t2:aa1:y1:re",
        "d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re",
    };

    [Theory]
    [MemberData(nameof(SpecQueries))]
    public void TryParse_SpecQuery_YieldsMethodArgumentsAndSender(string text, string method)
    {
        var message = Parse(text);

        Assert.Equal(KrpcKind.Query, message.Kind);
        Assert.Equal(method, message.Method);
        Assert.Equal(Aa, message.TransactionId);
        Assert.Equal(NodeId.FromBytes(QuerierId), message.SenderId);
        Assert.Equal(QuerierId, message.Body.Bytes("id"));
        Assert.False(message.ReadOnly);
        Assert.Null(message.ObservedAddress);
    }

    [Fact]
    public void TryParse_SpecAnnouncePeer_KeepsEveryArgument()
    {
        var message = Parse(SpecQueries.Select(row => (string)row[0]).Last());

        Assert.Equal(1, message.Body.Integer("implied_port"));
        Assert.Equal(6881, message.Body.Integer("port"));
        Assert.Equal("aoeusnth"u8.ToArray(), message.Body.Bytes("token"));
        Assert.Equal(ResponderId, message.Body.Bytes("info_hash"));
    }

    [Theory]
    [MemberData(nameof(SpecResponses))]
    public void TryParse_SpecResponse_YieldsBodyAndSender(string text)
    {
        var message = Parse(text);

        Assert.Equal(KrpcKind.Response, message.Kind);
        Assert.Null(message.Method);
        Assert.Equal(Aa, message.TransactionId);
        Assert.Equal(message.Body.Bytes("id"), message.SenderId.ToArray());
    }

    [Fact]
    public void TryParse_SpecGetPeersValues_AreCompactPeers()
    {
        var message = Parse("d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re");

        var peers = message.Body.List("values")!.Items.Select(v => Compact.DecodePeer(((BString)v).Value)).ToList();

        Assert.Equal([new IPEndPoint(IPAddress.Parse("97.120.106.101"), 0x2e75), new IPEndPoint(IPAddress.Parse("105.100.104.116"), 0x6e6d)], peers);
    }

    [Fact]
    public void TryParse_SpecError_YieldsCodeAndText()
    {
        var message = Parse("d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee");

        Assert.Equal(KrpcKind.Error, message.Kind);
        Assert.Equal(KrpcErrorCode.Generic, message.ErrorCode);
        Assert.Equal("A Generic Error Ocurred", message.ErrorText);
        Assert.Equal(Aa, message.TransactionId);
    }

    [Fact]
    public void Query_SpecPing_IsByteIdentical()
    {
        var bytes = KrpcMessage.Query(Aa, "ping", new BDictionary().Set("id", QuerierId), readOnly: false);

        Assert.Equal("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"u8.ToArray(), bytes);
    }

    [Fact]
    public void Query_SpecFindNode_IsByteIdentical()
    {
        var arguments = new BDictionary().Set("target", ResponderId).Set("id", QuerierId);

        var bytes = KrpcMessage.Query(Aa, "find_node", arguments, readOnly: false);

        Assert.Equal("d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe"u8.ToArray(), bytes);
    }

    [Fact]
    public void Query_ReadOnly_CarriesBep43Flag()
    {
        var bytes = KrpcMessage.Query(Aa, "ping", new BDictionary().Set("id", QuerierId), readOnly: true);

        Assert.Equal("d1:ad2:id20:abcdefghij0123456789e1:q4:ping2:roi1e1:t2:aa1:y1:qe"u8.ToArray(), bytes);
        Assert.True(Parse(bytes).ReadOnly);
    }

    [Fact]
    public void Response_SpecPing_AddsBep42Address()
    {
        var bytes = KrpcMessage.Response(Aa, new BDictionary().Set("id", ResponderId), new IPEndPoint(IPAddress.Parse("1.2.3.4"), 6881));

        Assert.Equal(Encoding.Latin1.GetBytes("d2:ip6:\u0001\u0002\u0003\u0004\u001a\u00e11:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re"), bytes);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("1.2.3.4"), 6881), Parse(bytes).ObservedAddress);
    }

    [Fact]
    public void Error_SpecGeneric_IsByteIdentical()
    {
        Assert.Equal("d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee"u8.ToArray(), KrpcMessage.Error(Aa, 201, "A Generic Error Ocurred"));
    }

    [Fact]
    public void TryParse_IPv6ObservedAddress_IsRead()
    {
        var address = new IPEndPoint(IPAddress.Parse("2001:db8::1"), 443);

        var message = Parse(KrpcMessage.Response(Aa, new BDictionary().Set("id", ResponderId), address));

        Assert.Equal(address, message.ObservedAddress);
    }

    [Theory]
    [InlineData("2:ip5:\u0001\u0002\u0003\u0004\u001a")]
    [InlineData("2:ip7:\u0001\u0002\u0003\u0004\u001a\u00e1\u0000")]
    [InlineData("2:ip6:\u0001\u0002\u0003\u0004\u0000\u0000")]
    [InlineData("2:ipi5e")]
    [InlineData("2:ip0:")]
    public void TryParse_MalformedIpField_IsIgnoredNotFatal(string ipEntry)
    {
        var message = Parse("d" + ipEntry + "1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re");

        Assert.Null(message.ObservedAddress);
        Assert.Equal(KrpcKind.Response, message.Kind);
    }

    [Theory]
    [InlineData("2:roi0e", false)]
    [InlineData("2:roi1e", true)]
    [InlineData("2:roi2e", false)]
    [InlineData("2:ro1:1", false)]
    public void TryParse_RoFlag_OnlyIntegerOneMeansReadOnly(string roEntry, bool readOnly)
    {
        var message = Parse("d1:ad2:id20:abcdefghij0123456789e1:q4:ping" + roEntry + "1:t2:aa1:y1:qe");

        Assert.Equal(readOnly, message.ReadOnly);
    }

    public static TheoryData<string, string> MalformedEnvelopes => new()
    {
        { "not bencode", "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:q" },
        { "not a dictionary", "l1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe" },
        { "integer", "i42e" },
        { "t missing", "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:y1:qe" },
        { "t empty", "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t0:1:y1:qe" },
        { "t 17 bytes", "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t17:abcdefghijklmnopq1:y1:qe" },
        { "t an integer", "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:ti1e1:y1:qe" },
        { "t a list", "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:tl2:aae1:y1:qe" },
        { "y missing", "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aae" },
        { "y unknown", "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:xe" },
        { "y empty", "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y0:e" },
        { "y two letters", "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y2:qqe" },
        { "y an integer", "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:yi113ee" },
        { "q missing", "d1:ad2:id20:abcdefghij0123456789e1:t2:aa1:y1:qe" },
        { "q empty", "d1:ad2:id20:abcdefghij0123456789e1:q0:1:t2:aa1:y1:qe" },
        { "q an integer", "d1:ad2:id20:abcdefghij0123456789e1:qi1e1:t2:aa1:y1:qe" },
        { "q a list", "d1:ad2:id20:abcdefghij0123456789e1:ql4:pinge1:t2:aa1:y1:qe" },
        { "q 33 bytes", "d1:ad2:id20:abcdefghij0123456789e1:q33:" + new string('p', 33) + "1:t2:aa1:y1:qe" },
        { "a missing", "d1:q4:ping1:t2:aa1:y1:qe" },
        { "a a string", "d1:a20:abcdefghij01234567891:q4:ping1:t2:aa1:y1:qe" },
        { "a a list", "d1:al2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe" },
        { "query id missing", "d1:ade1:q4:ping1:t2:aa1:y1:qe" },
        { "query id 19 bytes", "d1:ad2:id19:abcdefghij012345678e1:q4:ping1:t2:aa1:y1:qe" },
        { "query id 21 bytes", "d1:ad2:id21:abcdefghij0123456789Xe1:q4:ping1:t2:aa1:y1:qe" },
        { "query id an integer", "d1:ad2:idi1ee1:q4:ping1:t2:aa1:y1:qe" },
        { "r missing", "d1:t2:aa1:y1:re" },
        { "r a string", "d1:r2:id1:t2:aa1:y1:re" },
        { "r a list", "d1:rl2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re" },
        { "response id missing", "d1:rd5:token8:aoeusnthe1:t2:aa1:y1:re" },
        { "response id 19 bytes", "d1:rd2:id19:mnopqrstuvwxyz12345e1:t2:aa1:y1:re" },
        { "response id 21 bytes", "d1:rd2:id21:mnopqrstuvwxyz1234567e1:t2:aa1:y1:re" },
        { "e missing", "d1:t2:aa1:y1:ee" },
        { "e empty list", "d1:ele1:t2:aa1:y1:ee" },
        { "e code only", "d1:eli201ee1:t2:aa1:y1:ee" },
        { "e reversed", "d1:el5:oops!i201ee1:t2:aa1:y1:ee" },
        { "e a string", "d1:e5:oops!1:t2:aa1:y1:ee" },
        { "e a dictionary", "d1:ed4:codei201ee1:t2:aa1:y1:ee" },
    };

    [Theory]
    [MemberData(nameof(MalformedEnvelopes))]
    public void TryParse_MalformedField_ReturnsNullWithAProblem(string what, string text)
    {
        var message = KrpcMessage.TryParse(Encoding.Latin1.GetBytes(text), out var problem);

        Assert.True(message is null, what);
        Assert.NotEmpty(problem);
    }

    [Fact]
    public void TryParse_TransactionIdOfSixteenBytes_IsAccepted()
    {
        var message = Parse("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t16:abcdefghijklmnop1:y1:qe");

        Assert.Equal(16, message.TransactionId.Length);
    }

    [Fact]
    public void TryParse_MethodNameOfThirtyTwoBytes_IsAccepted()
    {
        var method = new string('m', KrpcMessage.MaxMethodName);

        Assert.Equal(method, Parse("d1:ad2:id20:abcdefghij0123456789e1:q32:" + method + "1:t2:aa1:y1:qe").Method);
    }

    [Fact]
    public void TryParse_DatagramOverFourKilobytes_IsDroppedUnread()
    {
        // A well-formed query padded with an unknown argument: only its size is wrong.
        var padding = new string('x', KrpcMessage.MaxDatagram);
        var bytes = Encoding.ASCII.GetBytes("d1:ad2:id20:abcdefghij01234567893:pad" + padding.Length + ":" + padding + "e1:q4:ping1:t2:aa1:y1:qe");

        Assert.Null(KrpcMessage.TryParse(bytes, out var problem));
        Assert.Equal("datagram too large", problem);
    }

    [Fact]
    public void TryParse_DatagramOfExactlyFourKilobytes_IsRead()
    {
        var prefix = "d1:ad2:id20:abcdefghij01234567893:pad";
        var suffix = "e1:q4:ping1:t2:aa1:y1:qe";
        var padding = new string('x', KrpcMessage.MaxDatagram - prefix.Length - suffix.Length - 5);
        var bytes = Encoding.ASCII.GetBytes(prefix + padding.Length + ":" + padding + suffix);

        Assert.Equal(KrpcMessage.MaxDatagram, bytes.Length);
        Assert.Equal("ping", Parse(bytes).Method);
    }

    [Fact]
    public void TryParse_UnknownTopLevelKeys_AreIgnored()
    {
        // BEP 5 extensions add keys (BEP 42's "ip", BEP 43's "ro", client versions "v"); unknown ones must not break parsing.
        var message = Parse("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:v4:LT011:y1:q3:zzzli1eee");

        Assert.Equal("ping", message.Method);
    }

    [Theory]
    [InlineData("i201e", 201)]
    [InlineData("i-5e", 0)]
    [InlineData("i99999999999e", 999)]
    public void TryParse_ErrorCode_IsClampedToThreeDigits(string code, int expected)
    {
        Assert.Equal(expected, Parse("d1:el" + code + "1:xe1:t2:aa1:y1:ee").ErrorCode);
    }

    [Fact]
    public void TryParse_ErrorTextWithControlCharacters_IsMadePrintable()
    {
        var message = Parse("d1:eli202e9:bad\n\u001b[2Jxe1:t2:aa1:y1:ee");

        Assert.Equal("bad??[2Jx", message.ErrorText);
    }

    [Fact]
    public void TryParse_LongErrorText_IsCutToTwoHundredCharacters()
    {
        var text = new string('w', 3000);

        var message = Parse("d1:eli202e" + text.Length + ":" + text + "e1:t2:aa1:y1:ee");

        Assert.Equal(200, message.ErrorText!.Length);
    }

    private static KrpcMessage Parse(string text) => Parse(Encoding.Latin1.GetBytes(text));

    private static KrpcMessage Parse(byte[] bytes)
    {
        var message = KrpcMessage.TryParse(bytes, out var problem);
        Assert.True(message is not null, problem);
        return message;
    }
}
