using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using SecureChat.Crypto;

namespace SecureChat.Dht.Tests;

/// <summary>
/// A real <see cref="DhtNode"/> fed hostile traffic, one field at a time: each bad argument of each
/// query is refused with the KRPC error BEP 5 or BEP 44 names, forged answers to its own queries are
/// ignored, floods leave it alive with its storage and rate-limit state within the configured
/// bounds, and what it stores expires.
/// </summary>
public sealed class NodeHostileTests
{
    private static readonly IPEndPoint Alice = NodeUnderTest.Address(1);
    private static readonly IPEndPoint Mallory = NodeUnderTest.Address(2);

    public static TheoryData<string> WrongSizeIds => new() { "short", "long", "missing", "integer", "empty" };

    [Fact]
    public void Ping_FromAnyone_AnswersWithItsIdAndTheAddressItSaw()
    {
        var node = new NodeUnderTest();

        var answer = node.Respond("ping", new BDictionary(), Alice);

        Assert.Equal(node.Node.Id, answer.SenderId);
        Assert.Equal(Alice, answer.ObservedAddress);
        Assert.Equal(1, node.Node.Counters.QueriesAnswered);
    }

    [Fact]
    public void FindNode_KnownNodes_AnswersTheClosestInCompactForm()
    {
        var node = new NodeUnderTest();
        var contacts = Enumerable.Range(10, 20).Select(i => new NodeContact(NodeId.Random(), NodeUnderTest.Address(i))).ToList();
        foreach (var contact in contacts)
        {
            node.Node.Routing.Responded(contact, node.Time.GetUtcNow());
        }

        var target = NodeId.Random();
        var answer = node.Respond("find_node", new BDictionary().Set("target", target.ToArray()), Alice);

        var nodes = Compact.DecodeNodes(answer.Body.Bytes("nodes")!, AddressFamily.InterNetwork);
        Assert.Equal(node.Node.Routing.Closest(target, 8), nodes);
    }

    [Theory]
    [MemberData(nameof(WrongSizeIds))]
    public void FindNode_TargetNotTwentyBytes_AnswersProtocolError(string kind)
    {
        var node = new NodeUnderTest();

        node.Refuses("find_node", WithId("target", kind), Alice, KrpcErrorCode.Protocol);
    }

    [Theory]
    [MemberData(nameof(WrongSizeIds))]
    public void GetPeers_InfoHashNotTwentyBytes_AnswersProtocolError(string kind)
    {
        var node = new NodeUnderTest();

        node.Refuses("get_peers", WithId("info_hash", kind), Alice, KrpcErrorCode.Protocol);
    }

    [Theory]
    [MemberData(nameof(WrongSizeIds))]
    public void Get_TargetNotTwentyBytes_AnswersProtocolError(string kind)
    {
        var node = new NodeUnderTest();

        node.Refuses("get", WithId("target", kind), Alice, KrpcErrorCode.Protocol);
    }

    [Theory]
    [MemberData(nameof(WrongSizeIds))]
    public void AnnouncePeer_InfoHashNotTwentyBytes_AnswersProtocolErrorAndStoresNothing(string kind)
    {
        var node = new NodeUnderTest();
        var token = node.TokenFor(Alice);

        node.Refuses("announce_peer", WithId("info_hash", kind).Set("port", 6881).Set("token", token), Alice, KrpcErrorCode.Protocol);
        Assert.Equal(0, node.Node.Storage.SwarmCount);
    }

    [Fact]
    public void AnnouncePeer_ValidToken_IsListedByGetPeers()
    {
        var node = new NodeUnderTest();
        var infoHash = NodeId.Random();

        node.Respond("announce_peer", Announce(infoHash, 5000, node.TokenFor(Alice)), Alice);

        var answer = node.Respond("get_peers", new BDictionary().Set("info_hash", infoHash.ToArray()), Mallory);
        var peer = Assert.Single(answer.Body.List("values")!.Items);
        Assert.Equal(new IPEndPoint(Alice.Address, 5000), Compact.DecodePeer(((BString)peer).Value));
    }

    [Fact]
    public void AnnouncePeer_TokenFromTheSameAddressOtherPort_IsAccepted()
    {
        // BEP 5 ties the token to the querier's IP address, not its port.
        var node = new NodeUnderTest();
        var token = node.TokenFor(Alice);

        node.Respond("announce_peer", Announce(NodeId.Random(), 5000, token), new IPEndPoint(Alice.Address, 9999));
    }

    public static TheoryData<string> BadTokens => new() { "missing", "random", "another address", "empty", "truncated", "integer", "too long" };

    [Theory]
    [MemberData(nameof(BadTokens))]
    public void AnnouncePeer_BadToken_AnswersProtocolErrorAndStoresNothing(string kind)
    {
        var node = new NodeUnderTest();
        var arguments = Announce(NodeId.Random(), 5000, null);
        SetBadToken(node, arguments, kind);

        node.Refuses("announce_peer", arguments, Mallory, KrpcErrorCode.Protocol);
        Assert.Equal(0, node.Node.Storage.SwarmCount);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData(65536L)]
    [InlineData(70000L)]
    [InlineData(long.MinValue)]
    public void AnnouncePeer_PortOutOfRange_AnswersProtocolErrorAndStoresNothing(long port)
    {
        var node = new NodeUnderTest();
        var arguments = new BDictionary().Set("info_hash", NodeId.Random().ToArray()).Set("port", port).Set("token", node.TokenFor(Alice));

        node.Refuses("announce_peer", arguments, Alice, KrpcErrorCode.Protocol);
        Assert.Equal(0, node.Node.Storage.PeerCount);
    }

    [Fact]
    public void AnnouncePeer_PortMissingOrNotAnInteger_AnswersProtocolError()
    {
        var node = new NodeUnderTest();
        var token = node.TokenFor(Alice);

        node.Refuses("announce_peer", new BDictionary().Set("info_hash", NodeId.Random().ToArray()).Set("token", token), Alice, KrpcErrorCode.Protocol);
        node.Refuses("announce_peer", new BDictionary().Set("info_hash", NodeId.Random().ToArray()).Set("port", "6881").Set("token", token), Alice, KrpcErrorCode.Protocol);
        Assert.Equal(0, node.Node.Storage.PeerCount);
    }

    [Fact]
    public void AnnouncePeer_ImpliedPort_StoresTheSourcePort()
    {
        var node = new NodeUnderTest();
        var infoHash = NodeId.Random();
        var from = new IPEndPoint(Alice.Address, 41000);

        node.Respond("announce_peer", Announce(infoHash, 0, node.TokenFor(from)).Set("implied_port", 1), from);

        Assert.Equal([from], node.Node.Storage.Peers(infoHash, 10, node.Time.GetUtcNow()));
    }

    [Fact]
    public void AnnouncePeer_ImpliedPortNotOne_UsesThePortArgument()
    {
        var node = new NodeUnderTest();
        var infoHash = NodeId.Random();

        node.Respond("announce_peer", Announce(infoHash, 7000, node.TokenFor(Alice)).Set("implied_port", 0), Alice);

        Assert.Equal([new IPEndPoint(Alice.Address, 7000)], node.Node.Storage.Peers(infoHash, 10, node.Time.GetUtcNow()));
    }

    [Fact]
    public void AnnouncePeer_TokenOlderThanTenMinutes_IsRefused()
    {
        var node = new NodeUnderTest();
        var token = node.TokenFor(Alice);
        for (var minute = 0; minute < 11; minute++)
        {
            node.Advance(TimeSpan.FromMinutes(1));
            node.TokenFor(Mallory);
        }

        node.Refuses("announce_peer", Announce(NodeId.Random(), 5000, token), Alice, KrpcErrorCode.Protocol);
    }

    [Fact]
    public void AnnouncePeer_TokenSevenMinutesOld_IsAccepted()
    {
        var node = new NodeUnderTest();
        var token = node.TokenFor(Alice);
        node.Advance(TimeSpan.FromMinutes(7));

        node.Respond("announce_peer", Announce(NodeId.Random(), 5000, token), Alice);
    }

    [Fact]
    public void Put_Immutable_IsStoredUnderSha1OfTheValueAndReturnedByGet()
    {
        var node = new NodeUnderTest();
        var value = "d4:textl5:hello5:worldee"u8.ToArray();

        node.Respond("put", new BDictionary().Set("v", Bencode.TryDecode(value)!).Set("token", node.TokenFor(Alice)), Alice);

        var target = NodeId.Sha1(value);
        var answer = node.Respond("get", new BDictionary().Set("target", target.ToArray()), Mallory);
        Assert.Equal(value, answer.Body["v"]!.Raw.ToArray());
        Assert.Null(answer.Body["k"]);
        Assert.Null(answer.Body["sig"]);
        Assert.NotNull(node.Node.Storage.Item(target, node.Time.GetUtcNow()));
    }

    [Fact]
    public void Put_ImmutableValueWithUnsortedKeys_IsStoredUnderItsExactBytes()
    {
        // The target is the hash of the bytes as sent; re-sorting them would store it under another target.
        var node = new NodeUnderTest();
        var value = "d1:bi1e1:ai2ee"u8.ToArray();

        node.Respond("put", new BDictionary().Set("v", Bencode.TryDecode(value)!).Set("token", node.TokenFor(Alice)), Alice);

        var answer = node.Respond("get", new BDictionary().Set("target", NodeId.Sha1(value).ToArray()), Alice);
        Assert.Equal(value, answer.Body["v"]!.Raw.ToArray());
    }

    [Fact]
    public void Put_MutableWithSalt_IsReturnedByGetWithKeySignatureAndSequence()
    {
        var node = new NodeUnderTest();
        var item = Mutable("room-7"u8.ToArray(), 3, "5:hello"u8.ToArray());

        node.Respond("put", Put(item, node.TokenFor(Alice)), Alice);

        var answer = node.Respond("get", new BDictionary().Set("target", item.Target.ToArray()), Mallory);
        Assert.Equal(item.Value, answer.Body["v"]!.Raw.ToArray());
        Assert.Equal(item.PublicKey, answer.Body.Bytes("k"));
        Assert.Equal(item.Signature, answer.Body.Bytes("sig"));
        Assert.Equal(3, answer.Body.Integer("seq"));
        Assert.Null(answer.Body["salt"]);
        Assert.NotNull(DhtItem.TryMutable(answer.Body["v"]!.Raw.ToArray(), answer.Body.Bytes("k")!, "room-7"u8.ToArray(), 3, answer.Body.Bytes("sig")!));
    }

    [Theory]
    [InlineData(3L, false)]
    [InlineData(4L, false)]
    [InlineData(2L, true)]
    public void Get_QuerierAlreadyHasTheSequence_OmitsTheValue(long known, bool valueSent)
    {
        var node = new NodeUnderTest();
        var item = Mutable([], 3, "1:x"u8.ToArray());
        node.Respond("put", Put(item, node.TokenFor(Alice)), Alice);

        var answer = node.Respond("get", new BDictionary().Set("target", item.Target.ToArray()).Set("seq", known), Alice);

        Assert.Equal(3, answer.Body.Integer("seq"));
        Assert.Equal(valueSent, answer.Body["v"] is not null);
        Assert.Equal(valueSent, answer.Body["sig"] is not null);
    }

    [Fact]
    public void Get_NothingStored_AnswersNodesAndTokenWithoutValue()
    {
        var node = new NodeUnderTest();

        var answer = node.Respond("get", new BDictionary().Set("target", NodeId.Random().ToArray()), Alice);

        Assert.NotNull(answer.Body.Bytes("token"));
        Assert.NotNull(answer.Body.Bytes("nodes"));
        Assert.Null(answer.Body["v"]);
        Assert.Null(answer.Body["seq"]);
    }

    [Theory]
    [MemberData(nameof(BadTokens))]
    public void Put_BadToken_AnswersProtocolErrorAndStoresNothing(string kind)
    {
        var node = new NodeUnderTest();
        var arguments = Put(Mutable([], 1, "1:x"u8.ToArray()), null);
        SetBadToken(node, arguments, kind);

        node.Refuses("put", arguments, Mallory, KrpcErrorCode.Protocol);
        Assert.Equal(0, node.Node.Storage.ItemCount);
    }

    [Fact]
    public void Put_ImmutableWithoutToken_AnswersProtocolError()
    {
        var node = new NodeUnderTest();

        node.Refuses("put", new BDictionary().Set("v", "hello"), Alice, KrpcErrorCode.Protocol);
        Assert.Equal(0, node.Node.Storage.ItemCount);
    }

    [Fact]
    public void Put_ValueMissing_AnswersProtocolError()
    {
        var node = new NodeUnderTest();

        node.Refuses("put", new BDictionary().Set("token", node.TokenFor(Alice)), Alice, KrpcErrorCode.Protocol);
    }

    [Fact]
    public void Put_ValueOfThousandAndOneBytes_Answers205()
    {
        var node = new NodeUnderTest();
        var value = Encoding.ASCII.GetBytes("997:" + new string('v', 997));

        node.Refuses("put", new BDictionary().Set("v", Bencode.TryDecode(value)!).Set("token", node.TokenFor(Alice)), Alice, KrpcErrorCode.ValueTooBig);
        Assert.Equal(0, node.Node.Storage.ItemCount);
    }

    [Fact]
    public void Put_ValueOfThousandBytes_IsStored()
    {
        var node = new NodeUnderTest();
        var value = Encoding.ASCII.GetBytes("996:" + new string('v', 996));

        node.Respond("put", new BDictionary().Set("v", Bencode.TryDecode(value)!).Set("token", node.TokenFor(Alice)), Alice);
        Assert.Equal(1, node.Node.Storage.ItemCount);
    }

    [Fact]
    public void Put_MutableValueOfThousandAndOneBytesValidlySigned_Answers205()
    {
        var node = new NodeUnderTest();
        var seed = RandomNumberGenerator.GetBytes(32);
        var value = Encoding.ASCII.GetBytes("997:" + new string('v', 997));
        var arguments = Forged(seed, [], 1, value).Set("token", node.TokenFor(Alice));

        node.Refuses("put", arguments, Alice, KrpcErrorCode.ValueTooBig);
        Assert.Equal(0, node.Node.Storage.ItemCount);
    }

    [Fact]
    public void Put_SaltOfSixtyFiveBytesValidlySigned_Answers207()
    {
        var node = new NodeUnderTest();
        var seed = RandomNumberGenerator.GetBytes(32);
        var salt = new byte[DhtItem.MaxSaltSize + 1];
        var arguments = Forged(seed, salt, 1, "1:x"u8.ToArray()).Set("token", node.TokenFor(Alice));

        node.Refuses("put", arguments, Alice, KrpcErrorCode.SaltTooBig);
        Assert.Equal(0, node.Node.Storage.ItemCount);
    }

    [Fact]
    public void Put_SaltOfSixtyFourBytes_IsStored()
    {
        var node = new NodeUnderTest();

        node.Respond("put", Put(Mutable(new byte[DhtItem.MaxSaltSize], 1, "1:x"u8.ToArray()), node.TokenFor(Alice)), Alice);
        Assert.Equal(1, node.Node.Storage.ItemCount);
    }

    public static TheoryData<string> Forgeries => new() { "signature bit", "value", "sequence", "salt", "other key", "zero signature" };

    [Theory]
    [MemberData(nameof(Forgeries))]
    public void Put_SignatureDoesNotVerify_Answers206AndStoresNothing(string forgery)
    {
        var node = new NodeUnderTest();
        var item = Mutable("s"u8.ToArray(), 5, "5:hello"u8.ToArray());
        var arguments = Put(item, node.TokenFor(Alice));
        switch (forgery)
        {
            case "signature bit":
                var signature = (byte[])item.Signature!.Clone();
                signature[17] ^= 0x04;
                arguments.Set("sig", signature);
                break;
            case "value":
                arguments.Set("v", "hellp");
                break;
            case "sequence":
                arguments.Set("seq", 6);
                break;
            case "salt":
                arguments.Set("salt", "t");
                break;
            case "other key":
                arguments.Set("k", Mutable([], 0, "1:x"u8.ToArray()).PublicKey!);
                break;
            default:
                arguments.Set("sig", new byte[64]);
                break;
        }

        node.Refuses("put", arguments, Alice, KrpcErrorCode.InvalidSignature);
        Assert.Equal(0, node.Node.Storage.ItemCount);
    }

    public static TheoryData<string> MalformedMutableFields => new()
    {
        "k 31 bytes", "k 33 bytes", "k an integer", "sig 63 bytes", "sig 65 bytes", "sig missing",
        "seq missing", "seq negative", "seq a string", "cas a string",
    };

    [Theory]
    [MemberData(nameof(MalformedMutableFields))]
    public void Put_MalformedMutableField_AnswersProtocolErrorAndStoresNothing(string field)
    {
        var node = new NodeUnderTest();
        var item = Mutable([], 1, "1:x"u8.ToArray());
        var arguments = Put(item, node.TokenFor(Alice));
        arguments = field switch
        {
            "k 31 bytes" => arguments.Set("k", item.PublicKey![..31]),
            "k 33 bytes" => arguments.Set("k", [.. item.PublicKey!, 0]),
            "k an integer" => arguments.Set("k", 1),
            "sig 63 bytes" => arguments.Set("sig", item.Signature![..63]),
            "sig 65 bytes" => arguments.Set("sig", [.. item.Signature!, 0]),
            "sig missing" => Without(arguments, "sig"),
            "seq missing" => Without(arguments, "seq"),
            "seq negative" => arguments.Set("seq", -1),
            "seq a string" => arguments.Set("seq", "1"),
            _ => arguments.Set("cas", "1"),
        };

        node.Refuses("put", arguments, Alice, KrpcErrorCode.Protocol);
        Assert.Equal(0, node.Node.Storage.ItemCount);
    }

    [Fact]
    public void Put_CasNotMatchingTheStoredSequence_Answers301AndKeepsTheStoredItem()
    {
        var node = new NodeUnderTest();
        var seed = RandomNumberGenerator.GetBytes(32);
        var first = DhtItem.Sign(seed, "5:first"u8.ToArray(), [], 1);
        node.Respond("put", Put(first, node.TokenFor(Alice)), Alice);

        node.Refuses("put", Put(DhtItem.Sign(seed, "6:second"u8.ToArray(), [], 2), node.TokenFor(Alice)).Set("cas", 7), Alice, KrpcErrorCode.CasMismatch);

        Assert.Equal(first.Value, node.Node.Storage.Item(first.Target, node.Time.GetUtcNow())!.Value);
    }

    [Fact]
    public void Put_CasMatchingTheStoredSequence_Replaces()
    {
        var node = new NodeUnderTest();
        var seed = RandomNumberGenerator.GetBytes(32);
        node.Respond("put", Put(DhtItem.Sign(seed, "5:first"u8.ToArray(), [], 1), node.TokenFor(Alice)), Alice);
        var second = DhtItem.Sign(seed, "6:second"u8.ToArray(), [], 2);

        node.Respond("put", Put(second, node.TokenFor(Alice)).Set("cas", 1), Alice);

        Assert.Equal(second.Value, node.Node.Storage.Item(second.Target, node.Time.GetUtcNow())!.Value);
    }

    [Fact]
    public void Put_CasWithNothingStored_IsIgnored()
    {
        // BEP 44: "If there is no current value, the cas field SHOULD be ignored."
        var node = new NodeUnderTest();

        node.Respond("put", Put(Mutable([], 4, "1:x"u8.ToArray()), node.TokenFor(Alice)).Set("cas", 99), Alice);
    }

    [Fact]
    public void Put_LowerSequenceThanStored_Answers302AndKeepsTheStoredItem()
    {
        var node = new NodeUnderTest();
        var seed = RandomNumberGenerator.GetBytes(32);
        var newer = DhtItem.Sign(seed, "5:newer"u8.ToArray(), [], 5);
        node.Respond("put", Put(newer, node.TokenFor(Alice)), Alice);

        // A replay of an old, genuinely signed version.
        node.Refuses("put", Put(DhtItem.Sign(seed, "5:older"u8.ToArray(), [], 4), node.TokenFor(Mallory)), Mallory, KrpcErrorCode.SequenceTooLow);

        Assert.Equal(newer.Value, node.Node.Storage.Item(newer.Target, node.Time.GetUtcNow())!.Value);
    }

    [Fact]
    public void Put_SameSequenceOtherValue_Answers302AndKeepsTheStoredItem()
    {
        // BEP 44: a put whose seq is lower than or equal to the stored one MUST be refused (unless it is the same value).
        var node = new NodeUnderTest();
        var seed = RandomNumberGenerator.GetBytes(32);
        var first = DhtItem.Sign(seed, "5:first"u8.ToArray(), [], 5);
        node.Respond("put", Put(first, node.TokenFor(Alice)), Alice);

        node.Refuses("put", Put(DhtItem.Sign(seed, "5:other"u8.ToArray(), [], 5), node.TokenFor(Mallory)), Mallory, KrpcErrorCode.SequenceTooLow);

        Assert.Equal(first.Value, node.Node.Storage.Item(first.Target, node.Time.GetUtcNow())!.Value);
    }

    [Fact]
    public void Put_SameSequenceSameValue_IsAcceptedAndRefreshesTheLifetime()
    {
        var node = new NodeUnderTest();
        var item = DhtItem.Sign(RandomNumberGenerator.GetBytes(32), "5:first"u8.ToArray(), [], 5);
        node.Respond("put", Put(item, node.TokenFor(Alice)), Alice);
        node.Advance(TimeSpan.FromMinutes(90));

        node.Respond("put", Put(item, node.TokenFor(Alice)), Alice);
        node.Advance(TimeSpan.FromMinutes(90));

        Assert.NotNull(node.Node.Storage.Item(item.Target, node.Time.GetUtcNow()));
    }

    [Fact]
    public void Put_HigherSequence_Replaces()
    {
        var node = new NodeUnderTest();
        var seed = RandomNumberGenerator.GetBytes(32);
        node.Respond("put", Put(DhtItem.Sign(seed, "5:older"u8.ToArray(), [], 4), node.TokenFor(Alice)), Alice);
        var newer = DhtItem.Sign(seed, "5:newer"u8.ToArray(), [], 5);

        node.Respond("put", Put(newer, node.TokenFor(Alice)), Alice);

        Assert.Equal(5, node.Node.Storage.Item(newer.Target, node.Time.GetUtcNow())!.Sequence);
        Assert.Equal(1, node.Node.Storage.ItemCount);
    }

    [Theory]
    [InlineData("vote")]
    [InlineData("sample_infohashes_but_not_really")]
    [InlineData("PING")]
    public void Query_UnknownMethod_Answers204(string method)
    {
        var node = new NodeUnderTest();

        node.Refuses(method, new BDictionary(), Alice, KrpcErrorCode.MethodUnknown);
    }

    [Theory]
    [InlineData("d1:ad2:id19:abcdefghij012345678e1:q4:ping1:t2:aa1:y1:qe")]
    [InlineData("d1:ad2:id21:abcdefghij0123456789Xe1:q4:ping1:t2:aa1:y1:qe")]
    [InlineData("d1:ade1:q4:ping1:t2:aa1:y1:qe")]
    [InlineData("d1:a0:1:q4:ping1:t2:aa1:y1:qe")]
    [InlineData("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t0:1:y1:qe")]
    [InlineData("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t17:aaaaaaaaaaaaaaaaa1:y1:qe")]
    [InlineData("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:ze")]
    [InlineData("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:q")]
    public void Receive_MalformedQuery_IsDroppedWithoutAnswer(string text)
    {
        var node = new NodeUnderTest();

        node.Node.Receive(Encoding.ASCII.GetBytes(text), Alice);

        Assert.Empty(node.Sent);
        Assert.Equal(1, node.Node.Counters.Malformed);
        Assert.Equal(0, node.Node.Counters.QueriesAnswered);
    }

    [Fact]
    public void Receive_OversizedQuery_IsDroppedWithoutAnswer()
    {
        var node = new NodeUnderTest();
        var padding = new string('x', KrpcMessage.MaxDatagram);
        var bytes = Encoding.ASCII.GetBytes($"d1:ad2:id20:abcdefghij01234567891:x{padding.Length}:{padding}e1:q4:ping1:t2:aa1:y1:qe");

        node.Node.Receive(bytes, Alice);

        Assert.Empty(node.Sent);
        Assert.Equal(1, node.Node.Counters.Malformed);
    }

    [Fact]
    public void Receive_QueryFromOrdinaryNode_PingsItAndAddsItOnceItAnswers()
    {
        // BEP 5: only nodes that answer a query of ours enter the table.
        var node = new NodeUnderTest();
        var before = node.Sent.Count;
        node.Respond("ping", new BDictionary(), Alice);
        Assert.False(node.Node.Routing.Contains(node.PeerId));

        var (ping, to) = Assert.Single(node.QueriesSent(before));
        Assert.Equal("ping", ping.Method);
        Assert.Equal(Alice, to);
        node.Node.Receive(KrpcMessage.Response(ping.TransactionId, new BDictionary().Set("id", node.PeerId.ToArray()), to), Alice);

        Assert.True(node.Node.Routing.Contains(node.PeerId));
    }

    [Fact]
    public void Receive_QueryFromReadOnlyNode_IsAnsweredButNeverPinged()
    {
        var node = new NodeUnderTest();
        var before = node.Sent.Count;

        node.Query("ping", new BDictionary(), Alice, readOnly: true);

        Assert.Empty(node.QueriesSent(before));
        Assert.Equal(1, node.Node.Counters.QueriesAnswered);
    }

    [Fact]
    public void Receive_ReadOnlyNode_AnswersNoQuery()
    {
        var node = new NodeUnderTest(new DhtOptions { ReadOnly = true });

        Assert.Null(node.Query("ping", new BDictionary(), Alice));
        Assert.Null(node.Query("get_peers", new BDictionary().Set("info_hash", NodeId.Random().ToArray()), Alice));
        Assert.Null(node.Query("nonsense", new BDictionary(), Alice));

        Assert.Empty(node.Sent);
        Assert.Equal(0, node.Node.Counters.QueriesAnswered + node.Node.Counters.ErrorsSent);
    }

    [Fact]
    public void Ping_ReadOnlyNode_MarksItsQueriesReadOnly()
    {
        var node = new NodeUnderTest(new DhtOptions { ReadOnly = true });

        _ = node.Node.Ping(Alice);

        Assert.True(Assert.Single(node.QueriesSent()).Query.ReadOnly);
    }

    [Fact]
    public async Task Ping_ResponseFromAnotherEndpoint_IsUnmatchedAndIgnored()
    {
        var node = new NodeUnderTest();
        var responder = NodeId.Random();
        var ping = node.Node.Ping(Alice);
        var query = Assert.Single(node.QueriesSent()).Query;

        node.Node.Receive(PingResponse(query.TransactionId, NodeId.Random(), Alice), Mallory);
        node.Node.Receive(PingResponse(query.TransactionId, NodeId.Random(), Alice), new IPEndPoint(Alice.Address, Alice.Port + 1));

        Assert.Equal(2, node.Node.Counters.Unmatched);
        Assert.Equal(1, node.Node.PendingQueries);
        Assert.False(ping.IsCompleted);

        node.Node.Receive(PingResponse(query.TransactionId, responder, Alice), Alice);

        Assert.Equal(responder, await ping.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(1, node.Node.Counters.ResponsesMatched);
        Assert.Equal(0, node.Node.PendingQueries);
    }

    [Theory]
    [InlineData("other 4 bytes")]
    [InlineData("2 bytes")]
    [InlineData("16 bytes")]
    public void Receive_ResponseWithUnknownTransaction_IsUnmatched(string kind)
    {
        var node = new NodeUnderTest();
        var ping = node.Node.Ping(Alice);
        var sent = Assert.Single(node.QueriesSent()).Query.TransactionId;
        byte[] transaction = kind switch
        {
            "other 4 bytes" => [(byte)(sent[0] ^ 1), sent[1], sent[2], sent[3]],
            "2 bytes" => sent[..2],
            _ => [.. sent, .. new byte[12]],
        };

        node.Node.Receive(PingResponse(transaction, NodeId.Random(), Alice), Alice);

        Assert.Equal(1, node.Node.Counters.Unmatched);
        Assert.False(ping.IsCompleted);
        Assert.Equal(0, node.Node.Routing.Count);
    }

    [Fact]
    public async Task Ping_ReplayedResponse_IsMatchedOnlyOnce()
    {
        var node = new NodeUnderTest();
        var ping = node.Node.Ping(Alice);
        var response = PingResponse(Assert.Single(node.QueriesSent()).Query.TransactionId, NodeId.Random(), Alice);

        node.Node.Receive(response, Alice);
        node.Node.Receive(response, Alice);

        Assert.NotNull(await ping.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(1, node.Node.Counters.ResponsesMatched);
        Assert.Equal(1, node.Node.Counters.Unmatched);
    }

    [Fact]
    public async Task Ping_ErrorAnswer_YieldsNoId()
    {
        var node = new NodeUnderTest();
        var ping = node.Node.Ping(Alice);

        node.Node.Receive(KrpcMessage.Error(Assert.Single(node.QueriesSent()).Query.TransactionId, 202, "Server Error"), Alice);

        Assert.Null(await ping.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Ping_NoAnswer_TimesOutOnTick()
    {
        var node = new NodeUnderTest();
        var ping = node.Node.Ping(Alice);

        node.Advance(node.Node.Options.QueryTimeout);
        node.Node.Tick();

        Assert.Null(await ping.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(1, node.Node.Counters.Timeouts);
        Assert.Equal(0, node.Node.PendingQueries);
    }

    [Fact]
    public void Receive_ResponseMarkedReadOnly_DoesNotEnterTheTable()
    {
        var node = new NodeUnderTest();
        _ = node.Node.Ping(Alice);
        var transaction = Assert.Single(node.QueriesSent()).Query.TransactionId;
        var response = new BDictionary().Set("t", transaction).Set("y", "r").Set("ro", 1).Set("r", new BDictionary().Set("id", NodeId.Random().ToArray())).Encode();

        node.Node.Receive(response, Alice);

        Assert.Equal(1, node.Node.Counters.ResponsesMatched);
        Assert.Equal(0, node.Node.Routing.Count);
    }

    [Theory]
    [MemberData(nameof(Forgeries))]
    public async Task GetMutable_AnswerWithForgedItem_ReturnsNoItem(string forgery)
    {
        var node = new NodeUnderTest();
        var seed = RandomNumberGenerator.GetBytes(32);
        var salt = "s"u8.ToArray();
        var genuine = DhtItem.Sign(seed, "5:hello"u8.ToArray(), salt, 5);
        var answer = ItemAnswer(genuine);
        switch (forgery)
        {
            case "signature bit":
                var signature = (byte[])genuine.Signature!.Clone();
                signature[40] ^= 0x80;
                answer.Set("sig", signature);
                break;
            case "value":
                answer.Set("v", "hellp");
                break;
            case "sequence":
                answer.Set("seq", 6);
                break;
            case "salt":
                // Signed by the right key under another salt: valid, but not for this target.
                var other = DhtItem.Sign(seed, "5:hello"u8.ToArray(), "t"u8.ToArray(), 5);
                answer.Set("sig", other.Signature!);
                break;
            case "other key":
                // A well-signed item of the attacker's own key, sent in answer to a get for ours.
                var attacker = Mutable(salt, 9, "5:hello"u8.ToArray());
                answer.Set("k", attacker.PublicKey!).Set("sig", attacker.Signature!).Set("seq", 9);
                break;
            default:
                answer.Set("sig", new byte[64]);
                break;
        }

        var result = await AnswerOneGet(node, n => n.GetMutable(genuine.PublicKey!, salt), answer);

        Assert.Null(result.Item);
    }

    [Fact]
    public async Task GetMutable_AnswerWithGenuineItem_ReturnsIt()
    {
        var node = new NodeUnderTest();
        var genuine = Mutable("s"u8.ToArray(), 5, "5:hello"u8.ToArray());

        var result = await AnswerOneGet(node, n => n.GetMutable(genuine.PublicKey!, "s"u8.ToArray()), ItemAnswer(genuine));

        Assert.NotNull(result.Item);
        Assert.Equal(genuine.Value, result.Item.Value);
        Assert.Equal(5, result.Item.Sequence);
    }

    [Fact]
    public async Task GetImmutable_AnswerWhoseValueDoesNotHashToTheTarget_ReturnsNoItem()
    {
        var node = new NodeUnderTest();
        var target = NodeId.Sha1("5:hello"u8);

        var result = await AnswerOneGet(node, n => n.GetImmutable(target), new BDictionary().Set("v", "hellp"));

        Assert.Null(result.Item);
    }

    [Fact]
    public async Task GetImmutable_AnswerWithTheValue_ReturnsIt()
    {
        var node = new NodeUnderTest();
        var target = NodeId.Sha1("5:hello"u8);

        var result = await AnswerOneGet(node, n => n.GetImmutable(target), new BDictionary().Set("v", "hello"));

        Assert.Equal("5:hello"u8.ToArray(), result.Item!.Value);
    }

    [Fact]
    public void Receive_PerAddressBudget_AnswersTwiceTheRateThenDrops()
    {
        var node = new NodeUnderTest();
        var perSecond = node.Node.Options.QueriesPerSecondPerAddress;
        var answered = Enumerable.Range(0, perSecond * 4).Count(_ => node.Query("ping", new BDictionary(), Mallory) is not null);

        Assert.Equal(perSecond * 2, answered);
        Assert.Equal(perSecond * 2, node.Node.Counters.RateLimited);

        node.Advance(TimeSpan.FromSeconds(1));
        answered = Enumerable.Range(0, perSecond * 4).Count(_ => node.Query("ping", new BDictionary(), Mallory) is not null);
        Assert.Equal(perSecond, answered);
        Assert.NotNull(node.Query("ping", new BDictionary(), Alice));
    }

    [Fact]
    public void Receive_OneAddressFarOverItsBudget_LeavesOthersAnswered()
    {
        // Queries refused for their own address's budget must not use up the node's total budget.
        var node = new NodeUnderTest();
        for (var i = 0; i < node.Node.Options.QueriesPerSecond * 2; i++)
        {
            node.Query("ping", new BDictionary(), Mallory);
        }

        Assert.NotNull(node.Query("ping", new BDictionary(), Alice));
    }

    [Fact]
    public void Receive_ThousandsOfJunkDatagrams_AreDroppedWithoutAnswerOrState()
    {
        var node = new NodeUnderTest();
        var junk = JunkDatagrams(10_000).ToList();

        for (var i = 0; i < junk.Count; i++)
        {
            node.Node.Receive(junk[i], NodeUnderTest.Address(i % 5000));
        }

        Assert.Equal(junk.Count, node.Node.Counters.Received);
        Assert.Equal(junk.Count, node.Node.Counters.Malformed);
        Assert.Empty(node.Sent);
        Assert.Equal(0, node.Node.Storage.ItemCount + node.Node.Storage.SwarmCount);
        Assert.Equal(0, node.Node.Routing.Count);
        Assert.NotNull(node.Query("ping", new BDictionary(), Alice));
    }

    [Fact]
    public void Receive_FloodFromFiveThousandAddresses_StaysWithinItsLimitsAndAlive()
    {
        var options = new DhtOptions { MaxItems = 64, MaxSwarms = 16, MaxPeersPerSwarm = 8, MaxPendingQueries = 64, MaxTrackedAddresses = 1024 };
        var node = new NodeUnderTest(options);
        var swarms = Enumerable.Range(0, 40).Select(_ => NodeId.Random()).ToList();
        var hammered = 0;
        var wellBehavedAnswered = 0;
        var wellBehavedSent = 0;
        for (var i = 0; i < 5000; i++)
        {
            var from = NodeUnderTest.Address(100 + i, 1024 + i);
            wellBehavedSent += 2;
            var token = node.Query("get_peers", new BDictionary().Set("info_hash", swarms[i % swarms.Count].ToArray()), from)?.Body.Bytes("token");
            wellBehavedAnswered += token is null ? 0 : 1;
            var second = (i % 3) switch
            {
                0 => node.Query("announce_peer", Announce(swarms[i % swarms.Count], 1 + i, token ?? []), from),
                1 => node.Query("put", new BDictionary().Set("v", i).Set("token", token ?? []), from),
                _ => node.Query("find_node", new BDictionary().Set("target", NodeId.Random().ToArray()), from),
            };
            wellBehavedAnswered += second is { Kind: KrpcKind.Response } ? 1 : 0;

            // One address sends a query with every fifth: far over its own budget over the run.
            if (i % 5 == 0)
            {
                hammered++;
                node.Query("get", new BDictionary().Set("target", NodeId.Random().ToArray()), Mallory);
            }

            node.Advance(TimeSpan.FromMilliseconds(2));
            if (i % 50 == 0)
            {
                node.Node.Tick();
            }
        }

        var storage = node.Node.Storage;
        Assert.Equal(wellBehavedSent, wellBehavedAnswered);
        Assert.InRange(node.Node.Counters.RateLimited, 1, hammered);
        Assert.InRange(storage.ItemCount, 1, options.MaxItems);
        Assert.InRange(storage.SwarmCount, 1, options.MaxSwarms);
        Assert.InRange(storage.PeerCount, 1, options.MaxSwarms * options.MaxPeersPerSwarm);
        Assert.InRange(node.Node.PendingQueries, 0, options.MaxPendingQueries);
        Assert.Equal(0, node.Node.Counters.Malformed);
        Assert.NotNull(node.Query("ping", new BDictionary(), Alice));
    }

    [Fact]
    public void Put_MoreItemsThanMaxItems_KeepsAtMostMaxItemsAndTheNewest()
    {
        var options = new DhtOptions { MaxItems = 5 };
        var node = new NodeUnderTest(options);
        for (var i = 0; i < 20; i++)
        {
            node.Respond("put", new BDictionary().Set("v", i).Set("token", node.TokenFor(Alice)), Alice);
            node.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(options.MaxItems, node.Node.Storage.ItemCount);
        Assert.NotNull(node.Node.Storage.Item(NodeId.Sha1("i19e"u8), node.Time.GetUtcNow()));
        Assert.Null(node.Node.Storage.Item(NodeId.Sha1("i0e"u8), node.Time.GetUtcNow()));
    }

    [Fact]
    public void AnnouncePeer_MorePeersThanMaxPeersPerSwarm_KeepsAtMostTheLimit()
    {
        var options = new DhtOptions { MaxPeersPerSwarm = 4 };
        var node = new NodeUnderTest(options);
        var infoHash = NodeId.Random();
        for (var i = 0; i < 30; i++)
        {
            var from = NodeUnderTest.Address(100 + i);
            node.Respond("announce_peer", Announce(infoHash, 6000, node.TokenFor(from)), from);
            node.Advance(TimeSpan.FromSeconds(1));
        }

        var peers = node.Node.Storage.Peers(infoHash, 100, node.Time.GetUtcNow());
        Assert.Equal(options.MaxPeersPerSwarm, node.Node.Storage.PeerCount);
        Assert.Contains(new IPEndPoint(NodeUnderTest.Address(129).Address, 6000), peers);
    }

    [Fact]
    public void AnnouncePeer_MoreSwarmsThanMaxSwarms_KeepsAtMostTheLimit()
    {
        var options = new DhtOptions { MaxSwarms = 3 };
        var node = new NodeUnderTest(options);
        var token = node.TokenFor(Alice);
        for (var i = 0; i < 30; i++)
        {
            node.Respond("announce_peer", Announce(NodeId.Random(), 6000, token), Alice);
            node.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(options.MaxSwarms, node.Node.Storage.SwarmCount);
    }

    [Fact]
    public void AnnouncePeer_SamePeerAgain_IsNotCountedTwice()
    {
        var node = new NodeUnderTest();
        var infoHash = NodeId.Random();

        for (var i = 0; i < 10; i++)
        {
            node.Respond("announce_peer", Announce(infoHash, 6000, node.TokenFor(Alice)), Alice);
        }

        Assert.Equal(1, node.Node.Storage.PeerCount);
    }

    [Fact]
    public void Tick_AfterItemLifetime_ForgetsItems()
    {
        var node = new NodeUnderTest();
        var item = Mutable([], 1, "1:x"u8.ToArray());
        node.Respond("put", Put(item, node.TokenFor(Alice)), Alice);
        node.Respond("put", new BDictionary().Set("v", "hello").Set("token", node.TokenFor(Alice)), Alice);

        node.Advance(node.Node.Options.ItemLifetime - TimeSpan.FromMinutes(1));
        node.Node.Tick();
        Assert.Equal(2, node.Node.Storage.ItemCount);

        node.Advance(TimeSpan.FromMinutes(2));
        node.Node.Tick();
        Assert.Equal(0, node.Node.Storage.ItemCount);
        Assert.Null(node.Respond("get", new BDictionary().Set("target", item.Target.ToArray()), Alice).Body["v"]);
    }

    [Fact]
    public void Get_AfterItemLifetimeWithoutTick_ReturnsNoValue()
    {
        var node = new NodeUnderTest();
        node.Respond("put", new BDictionary().Set("v", "hello").Set("token", node.TokenFor(Alice)), Alice);

        node.Advance(node.Node.Options.ItemLifetime + TimeSpan.FromSeconds(1));

        Assert.Null(node.Respond("get", new BDictionary().Set("target", NodeId.Sha1("5:hello"u8).ToArray()), Alice).Body["v"]);
    }

    [Fact]
    public void Put_AgainBeforeItExpires_KeepsItAlive()
    {
        // BEP 44: items are re-put to stay alive; storing the same item again restarts its lifetime.
        var node = new NodeUnderTest();
        var lifetime = node.Node.Options.ItemLifetime;
        node.Respond("put", new BDictionary().Set("v", "hello").Set("token", node.TokenFor(Alice)), Alice);
        node.Advance(lifetime - TimeSpan.FromMinutes(1));
        node.Respond("put", new BDictionary().Set("v", "hello").Set("token", node.TokenFor(Alice)), Alice);

        node.Advance(TimeSpan.FromMinutes(30));
        node.Node.Tick();

        Assert.Equal(1, node.Node.Storage.ItemCount);
    }

    [Fact]
    public void Tick_AfterPeerLifetime_ForgetsPeersAndEmptySwarms()
    {
        var node = new NodeUnderTest();
        node.Respond("announce_peer", Announce(NodeId.Random(), 6000, node.TokenFor(Alice)), Alice);

        node.Advance(node.Node.Options.PeerLifetime + TimeSpan.FromSeconds(1));
        node.Node.Tick();

        Assert.Equal(0, node.Node.Storage.PeerCount);
        Assert.Equal(0, node.Node.Storage.SwarmCount);
    }

    private static BDictionary WithId(string key, string kind) => kind switch
    {
        "short" => new BDictionary().Set(key, new byte[19]),
        "long" => new BDictionary().Set(key, new byte[21]),
        "integer" => new BDictionary().Set(key, 20),
        "empty" => new BDictionary().Set(key, Array.Empty<byte>()),
        _ => new BDictionary(),
    };

    private static BDictionary Announce(NodeId infoHash, int port, byte[]? token)
    {
        var arguments = new BDictionary().Set("info_hash", infoHash.ToArray()).Set("port", port);
        return token is null ? arguments : arguments.Set("token", token);
    }

    private static void SetBadToken(NodeUnderTest node, BDictionary arguments, string kind)
    {
        switch (kind)
        {
            case "missing":
                break;
            case "random":
                arguments.Set("token", RandomNumberGenerator.GetBytes(TokenIssuer.TokenSize));
                break;
            case "another address":
                arguments.Set("token", node.TokenFor(Alice));
                break;
            case "empty":
                arguments.Set("token", Array.Empty<byte>());
                break;
            case "truncated":
                arguments.Set("token", node.TokenFor(Mallory)[..^1]);
                break;
            case "integer":
                arguments.Set("token", 12345678);
                break;
            default:
                arguments.Set("token", [.. node.TokenFor(Mallory), 0]);
                break;
        }
    }

    private static DhtItem Mutable(byte[] salt, long sequence, byte[] value) =>
        DhtItem.Sign(RandomNumberGenerator.GetBytes(32), value, salt, sequence);

    private static BDictionary Put(DhtItem item, byte[]? token)
    {
        var arguments = new BDictionary().Set("v", Bencode.TryDecode(item.Value)!);
        if (item.IsMutable)
        {
            arguments.Set("k", item.PublicKey!).Set("sig", item.Signature!).Set("seq", item.Sequence);
            if (item.Salt.Length > 0)
            {
                arguments.Set("salt", item.Salt);
            }
        }

        return token is null ? arguments : arguments.Set("token", token);
    }

    /// <summary>A put whose signature is genuine but whose fields break BEP 44's limits (which <see cref="DhtItem.Sign"/> refuses to make).</summary>
    private static BDictionary Forged(byte[] seed, byte[] salt, long sequence, byte[] value)
    {
        var publicKey = new byte[Ed25519.PublicKeySize];
        Ed25519.DerivePublicKey(seed, publicKey);
        var signature = new byte[Ed25519.SignatureSize];
        Ed25519.Sign(seed, DhtItem.SignedBytes(salt, sequence, value), signature);
        return new BDictionary().Set("v", Bencode.TryDecode(value)!).Set("k", publicKey).Set("sig", signature).Set("seq", sequence).Set("salt", salt);
    }

    private static BDictionary Without(BDictionary arguments, string key)
    {
        var copy = new BDictionary();
        foreach (var (k, v) in arguments.Entries.Where(e => e.Key != key))
        {
            copy.Set(k, v);
        }

        return copy;
    }

    private static BDictionary ItemAnswer(DhtItem item) => new BDictionary()
        .Set("v", Bencode.TryDecode(item.Value)!)
        .Set("k", item.PublicKey!)
        .Set("sig", item.Signature!)
        .Set("seq", item.Sequence);

    private static byte[] PingResponse(byte[] transaction, NodeId id, IPEndPoint to) =>
        KrpcMessage.Response(transaction, new BDictionary().Set("id", id.ToArray()), to);

    /// <summary>Gives the node one known contact, starts a lookup, and answers the get it sends that contact with <paramref name="body"/>.</summary>
    private static async Task<LookupResult> AnswerOneGet(NodeUnderTest node, Func<DhtNode, Task<LookupResult>> start, BDictionary body)
    {
        var contact = new NodeContact(NodeId.Random(), Mallory);
        node.Node.Routing.Responded(contact, node.Time.GetUtcNow());
        var before = node.Sent.Count;

        var lookup = start(node.Node);

        var (get, to) = Assert.Single(node.QueriesSent(before));
        Assert.Equal("get", get.Method);
        Assert.Equal(Mallory, to);
        node.Node.Receive(KrpcMessage.Response(get.TransactionId, body.Set("id", contact.Id.ToArray()), to), Mallory);
        return await lookup.WaitAsync(TimeSpan.FromSeconds(10));
    }

    private static IEnumerable<byte[]> JunkDatagrams(int count)
    {
        const string Alphabet = "dleiq0123456789:-:aqrty";
        for (var i = 0; i < count; i++)
        {
            var length = RandomNumberGenerator.GetInt32(0, 5000);
            var bytes = RandomNumberGenerator.GetBytes(length);
            if (i % 2 == 1)
            {
                // Half the junk is drawn from bencode's alphabet so that it gets past the first byte.
                for (var j = 0; j < bytes.Length; j++)
                {
                    bytes[j] = (byte)Alphabet[bytes[j] % Alphabet.Length];
                }
            }

            yield return bytes;
        }
    }
}
