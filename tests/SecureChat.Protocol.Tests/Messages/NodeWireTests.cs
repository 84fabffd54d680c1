using System.Text;
using CsCheck;
using Google.Protobuf;
using SecureChat.Crypto;
using SecureChat.Protocol.Identity;
using SecureChat.Protocol.Messages;
using SecureChat.Protocol.Messages.Wire;

namespace SecureChat.Protocol.Tests.Messages;

/// <summary>
/// The node protocol's messages (node.proto, docs/protocol.md section 6): exact bytes for fixed
/// messages, round trips of random valid ones, and decoders that answer every input, hostile or
/// truncated, with true or false and never an exception.
/// </summary>
public sealed class NodeWireTests
{
    /// <summary>The first and last send times a message may carry: 0001-01-01 and 9999-12-31T23:59:59.999, in Unix milliseconds.</summary>
    private const long MinSentAt = -62_135_596_800_000;
    private const long MaxSentAt = 253_402_300_799_999;

    private static readonly Gen<byte[]> Ids = Gen.Byte.Array[NodeWire.IdSize];

    private static readonly Gen<Receipt> Receipts = Ids.Array[0, 40].Select(ids =>
    {
        var receipt = new Receipt();
        receipt.MessageIds.AddRange(ids.Select(ByteString.CopyFrom));
        return receipt;
    });

    /// <summary>A new envelope with only its body set, for each kind (Unknown: no body).</summary>
    private static readonly Dictionary<EnvelopeKind, Gen<Envelope>> Bodies = new()
    {
        [EnvelopeKind.Unknown] = Gen.Bool.Select(_ => new Envelope()),
        [EnvelopeKind.SessionStart] = Gen.Bool.Select(_ => new Envelope { SessionStart = new SessionStart() }),
        [EnvelopeKind.Text] = Gen.String.Where(NodeWire.IsValidText).Select(text => new Envelope { Text = new Text { Content = text } }),
        [EnvelopeKind.Delivered] = Receipts.Select(receipt => new Envelope { Delivered = receipt }),
        [EnvelopeKind.Read] = Receipts.Select(receipt => new Envelope { Read = receipt }),
        [EnvelopeKind.Typing] = Gen.Bool.Select(active => new Envelope { Typing = new Typing { Active = active } }),
        [EnvelopeKind.Refusal] = Gen.Select(Gen.Int[0, 2], Ids, Gen.ULong, Gen.ULong, Gen.ULong, (reason, id, after, limit, window) => new Envelope
        {
            Refusal = new Refusal { Reason = (RefusalReason)reason, MessageId = ByteString.CopyFrom(id), RetryAfterMs = after, Limit = limit, WindowSeconds = window },
        }),
    };

    private static readonly Gen<Envelope> AnyValidEnvelope = Gen.OneOf(Bodies.Values.Select(body => WithHeader(body)).ToArray());

    public static TheoryData<EnvelopeKind> Kinds => [.. Enum.GetValues<EnvelopeKind>()];

    [Fact]
    public void Encode_TextEnvelope_IsTheDocumentedProtobuf()
    {
        var envelope = FixedEnvelope(e => e.Text = new Text { Content = "hi" });

        // Each field is tag = (field number << 3 | wire type), then its value, in field order:
        //   0A 10 <00..0f>      field 1 message_id, length-delimited (2), 16 bytes
        //   12 10 <10..1f>      field 2 conversation, 16 bytes
        //   1A 10 <20..2f>      field 3 sender_device, 16 bytes
        //   20 05               field 4 lamport, varint (0), 5
        //   28 80 D0 95 FF BC 31
        //                       field 5 sent_at, varint: 1,700,000,000,000 = 0x18B_CFE5_6800, in
        //                       7-bit groups from the lowest: 0x00, 0x50, 0x15, 0x7F, 0x3C, 0x31,
        //                       each but the last with 0x80 set
        //   52 04               field 10 text (10 << 3 | 2 = 0x52), a 4-byte Text message:
        //     0A 02 68 69       field 1 content, length-delimited, "hi"
        var expected = Convert.FromHexString(
            "0A10000102030405060708090A0B0C0D0E0F"
            + "1210101112131415161718191A1B1C1D1E1F"
            + "1A10202122232425262728292A2B2C2D2E2F"
            + "2005"
            + "2880D095FFBC31"
            + "5204" + "0A026869");

        Assert.Equal(expected, NodeWire.Encode(envelope));
    }

    [Fact]
    public void Encode_RefusalEnvelope_IsTheDocumentedProtobuf()
    {
        var envelope = FixedEnvelope(e => e.Refusal = new Refusal
        {
            Reason = RefusalReason.MessageQuota,
            MessageId = ByteString.CopyFrom(Filled(16, 0x40)),
            RetryAfterMs = 300,
            Limit = 5000,
            WindowSeconds = 86_400,
        });

        // The header as in the text envelope, then:
        //   AA 01 1E            field 21 refusal (21 << 3 | 2 = 170: varint AA 01), 30 bytes:
        //     08 01             field 1 reason, varint: MESSAGE_QUOTA = 1
        //     12 10 <40 x 16>   field 2 message_id, 16 bytes
        //     18 AC 02          field 3 retry_after_ms, varint: 300 = 2 * 128 + 44
        //     20 88 27          field 4 limit, varint: 5000 = 39 * 128 + 8
        //     28 80 A3 05       field 5 window_seconds, varint: 86,400 = 5 * 16384 + 35 * 128 + 0
        var expected = Convert.FromHexString(
            Convert.ToHexString(Header())
            + "AA011E"
            + "0801"
            + "1210" + string.Concat(Enumerable.Repeat("40", 16))
            + "18AC02"
            + "208827"
            + "2880A305");

        Assert.Equal(expected, NodeWire.Encode(envelope));
    }

    [Fact]
    public void TryParseEnvelope_RefusalWithoutA16ByteMessageId_IsRejected()
    {
        foreach (var length in new[] { 0, 15, 17 })
        {
            var envelope = FixedEnvelope(e => e.Refusal = new Refusal { Reason = RefusalReason.ByteQuota, MessageId = ByteString.CopyFrom(new byte[length]), RetryAfterMs = 1 });
            Assert.False(NodeWire.TryParseEnvelope(NodeWire.Encode(envelope), out var parsed));
            Assert.Null(parsed);
        }
    }

    [Fact]
    public void Encode_HelloFrame_IsTheDocumentedProtobuf()
    {
        var frame = new NodeFrame
        {
            Hello = new Hello { ListenPort = 7311, SessionId = ByteString.Empty, RatchetKey = ByteString.CopyFrom(Filled(32, 0x09)) },
        };

        // 0A 25         NodeFrame field 1 hello, length-delimited, a 37-byte Hello:
        //   08 8F 39    field 1 listen_port, varint: 7311 = 57 * 128 + 15 -> 0x0F | 0x80, 0x39
        //               (field 2 session_id is empty, the proto3 default: not written)
        //   1A 20 <09 x 32>
        //               field 3 ratchet_key, length-delimited, 32 bytes
        var expected = Convert.FromHexString("0A25" + "088F39" + "1A20" + string.Concat(Enumerable.Repeat("09", 32)));

        Assert.Equal(expected, NodeWire.Encode(frame));
    }

    [Fact]
    public void Encode_RatchetFrame_IsTheDocumentedProtobuf()
    {
        var frame = new NodeFrame { Ratchet = ByteString.CopyFrom(0xAA, 0xBB, 0xCC) };

        // 12 03 AA BB CC: field 2 ratchet (2 << 3 | 2 = 0x12), 3 bytes.
        Assert.Equal(Convert.FromHexString("1203AABBCC"), NodeWire.Encode(frame));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void TryParseEnvelope_RandomValidEnvelopeOfEachKind_RoundTrips(EnvelopeKind kind)
    {
        WithHeader(Bodies[kind]).Sample(envelope =>
        {
            Assert.True(NodeWire.TryParseEnvelope(NodeWire.Encode(envelope), out var parsed));
            Assert.Equal(envelope, parsed);
            Assert.Equal(kind, NodeWire.KindOf(parsed));
        });
    }

    [Fact]
    public void TryParseFrame_RandomValidFrames_RoundTrip()
    {
        var hellos = Gen.Select(Gen.UInt[0, 65535], Gen.Bool, Ids, Gen.Byte.Array[NodeWire.RatchetKeySize], (port, hasSession, session, key) =>
            new NodeFrame { Hello = new Hello { ListenPort = port, SessionId = hasSession ? ByteString.CopyFrom(session) : ByteString.Empty, RatchetKey = ByteString.CopyFrom(key) } });
        var ratchets = Gen.Byte.Array[0, 600].Select(bytes => new NodeFrame { Ratchet = ByteString.CopyFrom(bytes) });

        Gen.OneOf(hellos, ratchets).Sample(frame =>
        {
            Assert.True(NodeWire.TryParseFrame(NodeWire.Encode(frame), out var parsed));
            Assert.Equal(frame, parsed);
        });
    }

    [Fact]
    public void TryParse_RandomBytes_NeverThrowAndAcceptOnlyValidMessages()
    {
        Gen.Byte.Array[0, 2048].Sample(bytes =>
        {
            AssertValidIfAccepted(bytes);
        }, iter: 10_000);
    }

    [Fact]
    public void TryParse_RandomValidEnvelopesWithBytesOverwritten_NeverThrowAndAcceptOnlyValidMessages()
    {
        Gen.Select(AnyValidEnvelope, Gen.Int[0, int.MaxValue], Gen.Byte.Array[1, 8]).Sample((envelope, position, patch) =>
        {
            var bytes = NodeWire.Encode(envelope);
            var offset = position % bytes.Length;
            patch.AsSpan(0, Math.Min(patch.Length, bytes.Length - offset)).CopyTo(bytes.AsSpan(offset));
            AssertValidIfAccepted(bytes);
        }, iter: 5_000);
    }

    [Fact]
    public void TryParse_EveryTruncationAndBitFlipOfValidMessages_NeverThrowsAndAcceptsOnlyValidMessages()
    {
        var receipt = new Receipt();
        receipt.MessageIds.Add(ByteString.CopyFrom(Filled(16, 0x30)));
        receipt.MessageIds.Add(ByteString.CopyFrom(Filled(16, 0x31)));
        byte[][] encodings =
        [
            NodeWire.Encode(FixedEnvelope(e => e.Text = new Text { Content = "Grüße, 你好 🎉" })),
            NodeWire.Encode(FixedEnvelope(e => e.Delivered = receipt)),
            NodeWire.Encode(FixedEnvelope(e => e.Read = receipt)),
            NodeWire.Encode(FixedEnvelope(e => e.Typing = new Typing { Active = true })),
            NodeWire.Encode(new NodeFrame { Hello = new Hello { ListenPort = 7311, SessionId = ByteString.CopyFrom(Filled(16, 0x07)), RatchetKey = ByteString.CopyFrom(Filled(32, 0x09)) } }),
            NodeWire.Encode(new NodeFrame { Ratchet = ByteString.CopyFrom(Filled(40, 0x55)) }),
        ];

        foreach (var encoding in encodings)
        {
            for (var length = 0; length < encoding.Length; length++)
            {
                AssertValidIfAccepted(encoding[..length]);
            }

            for (var bit = 0; bit < encoding.Length * 8; bit++)
            {
                var flipped = encoding.ToArray();
                flipped[bit / 8] ^= (byte)(1 << (bit % 8));
                AssertValidIfAccepted(flipped);
            }
        }
    }

    [Fact]
    public void TryParse_TruncatedInsideAField_IsRejected()
    {
        var encoding = NodeWire.Encode(FixedEnvelope(e => e.Text = new Text { Content = "hi" }));

        // Cut inside message_id, inside the sent_at varint, and inside the text.
        foreach (var length in new[] { 1, 10, 58, encoding.Length - 1 })
        {
            Assert.False(NodeWire.TryParseEnvelope(encoding[..length], out var envelope));
            Assert.Null(envelope);
        }
    }

    [Fact]
    public void TryParse_HostileStructures_AreRejectedWithoutThrowing()
    {
        byte[][] inputs =
        [
            // 100,000 nested starts of an unknown group (field 20, wire type 3): deeper than any recursion limit.
            [.. Enumerable.Repeat(new byte[] { 0xA3, 0x01 }, 100_000).SelectMany(b => b)],
            // A length-delimited field claiming 2^32 - 1 bytes.
            [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00],
            // A varint of eleven bytes.
            [0x20, .. Enumerable.Repeat((byte)0xFF, 10), 0x01],
            // Field number 0, and the unused wire types 6 and 7.
            [0x00, 0x01],
            [0x0E, 0x01],
            [0x0F, 0x01],
            // An end-group tag with no group open.
            [0x0C],
        ];

        foreach (var input in inputs)
        {
            Assert.False(NodeWire.TryParseEnvelope(input, out var envelope));
            Assert.Null(envelope);
            Assert.False(NodeWire.TryParseFrame(input, out var frame));
            Assert.Null(frame);
        }
    }

    /// <summary>proto3 strings are UTF-8: bytes that are not (a stray byte, an overlong form, a surrogate, beyond U+10FFFF, a cut sequence) are rejected, not thrown.</summary>
    [Theory]
    [InlineData("FF")]
    [InlineData("C0AF")]
    [InlineData("EDA080")]
    [InlineData("F4908080")]
    [InlineData("E282")]
    public void TryParseEnvelope_TextThatIsNotUtf8_IsRejected(string hex)
    {
        var content = Convert.FromHexString(hex);
        byte[] encoding = [.. Header(), 0x52, (byte)(content.Length + 2), 0x0A, (byte)content.Length, .. content];

        Assert.False(NodeWire.TryParseEnvelope(encoding, out var envelope));
        Assert.Null(envelope);
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(1, 15)]
    [InlineData(1, 17)]
    [InlineData(2, 0)]
    [InlineData(2, 15)]
    [InlineData(2, 17)]
    [InlineData(3, 0)]
    [InlineData(3, 15)]
    [InlineData(3, 17)]
    public void TryParseEnvelope_IdOfWrongSize_IsRejected(int field, int size)
    {
        var id = ByteString.CopyFrom(Filled(size, 0x42));
        var envelope = FixedEnvelope(e =>
        {
            e.Text = new Text { Content = "hi" };
            switch (field)
            {
                case 1: e.MessageId = id; break;
                case 2: e.Conversation = id; break;
                default: e.SenderDevice = id; break;
            }
        });

        Assert.False(NodeWire.TryParseEnvelope(NodeWire.Encode(envelope), out var parsed));
        Assert.Null(parsed);
    }

    [Theory]
    [InlineData(MinSentAt, true)]
    [InlineData(0, true)]
    [InlineData(MaxSentAt, true)]
    [InlineData(MinSentAt - 1, false)]
    [InlineData(MaxSentAt + 1, false)]
    [InlineData(long.MinValue, false)]
    [InlineData(long.MaxValue, false)]
    public void TryParseEnvelope_SentAt_IsAcceptedOnlyWithinTheRangeOfDates(long sentAt, bool accepted)
    {
        var envelope = FixedEnvelope(e => e.SentAt = sentAt);

        Assert.Equal(accepted, NodeWire.TryParseEnvelope(NodeWire.Encode(envelope), out _));
    }

    [Theory]
    [InlineData("", 0, false)]
    [InlineData("a", 1, true)]
    [InlineData("a", 16_000, true)]
    [InlineData("a", 16_001, false)]
    [InlineData("€", 5_333, true)]
    [InlineData("€", 5_334, false)]
    [InlineData("🎉", 4_000, true)]
    [InlineData("🎉", 4_001, false)]
    public void TryParseEnvelope_TextLength_IsLimitedInUtf8Bytes(string unit, int count, bool accepted)
    {
        var text = string.Concat(Enumerable.Repeat(unit, count));
        var envelope = FixedEnvelope(e => e.Text = new Text { Content = text });

        Assert.Equal(accepted, NodeWire.TryParseEnvelope(NodeWire.Encode(envelope), out _));
        Assert.Equal(accepted, NodeWire.IsValidText(text));
    }

    [Theory]
    [InlineData(0xD800)]
    [InlineData(0xDBFF)]
    [InlineData(0xDC00)]
    [InlineData(0xDFFF)]
    public void IsValidText_LoneSurrogate_IsFalse(int surrogate)
    {
        // Built here: an attribute's string is stored as UTF-8, which would replace a lone surrogate.
        Assert.False(NodeWire.IsValidText(new string((char)surrogate, 1)));
        Assert.False(NodeWire.IsValidText($"a{(char)surrogate}b"));
    }

    [Theory]
    [InlineData(true, 0, 16, true)]
    [InlineData(true, 1_000, 16, true)]
    [InlineData(true, 1_001, 16, false)]
    [InlineData(true, 3, 15, false)]
    [InlineData(true, 3, 17, false)]
    [InlineData(true, 1, 0, false)]
    [InlineData(false, 1_000, 16, true)]
    [InlineData(false, 1_001, 16, false)]
    [InlineData(false, 3, 15, false)]
    [InlineData(false, 3, 17, false)]
    public void TryParseEnvelope_Receipt_IsAcceptedOnlyWithinItsLimits(bool delivered, int count, int idSize, bool accepted)
    {
        var receipt = new Receipt();
        receipt.MessageIds.AddRange(Enumerable.Range(0, count).Select(i => ByteString.CopyFrom(Filled(16, (byte)i))));
        if (count > 0 && idSize != 16)
        {
            // One ID of the wrong size among good ones.
            receipt.MessageIds[count / 2] = ByteString.CopyFrom(Filled(idSize, 0x77));
        }

        var envelope = FixedEnvelope(e =>
        {
            if (delivered)
            {
                e.Delivered = receipt;
            }
            else
            {
                e.Read = receipt;
            }
        });

        Assert.Equal(accepted, NodeWire.TryParseEnvelope(NodeWire.Encode(envelope), out _));
    }

    [Theory]
    [InlineData(7311u, 0, 32, true)]
    [InlineData(0u, 16, 32, true)]
    [InlineData(65535u, 16, 32, true)]
    [InlineData(7311u, 0, 31, false)]
    [InlineData(7311u, 0, 33, false)]
    [InlineData(7311u, 0, 0, false)]
    [InlineData(7311u, 15, 32, false)]
    [InlineData(7311u, 17, 32, false)]
    [InlineData(65536u, 0, 32, false)]
    [InlineData(70000u, 0, 32, false)]
    [InlineData(uint.MaxValue, 0, 32, false)]
    public void TryParseFrame_Hello_IsAcceptedOnlyWithinItsLimits(uint listenPort, int sessionIdSize, int ratchetKeySize, bool accepted)
    {
        var frame = new NodeFrame
        {
            Hello = new Hello
            {
                ListenPort = listenPort,
                SessionId = ByteString.CopyFrom(Filled(sessionIdSize, 0x07)),
                RatchetKey = ByteString.CopyFrom(Filled(ratchetKeySize, 0x09)),
            },
        };

        Assert.Equal(accepted, NodeWire.TryParseFrame(NodeWire.Encode(frame), out var parsed));
        Assert.Equal(accepted, parsed is not null);
    }

    [Theory]
    [InlineData("")]
    [InlineData("A00101")]
    [InlineData("1A0401020304")]
    public void TryParseFrame_NoCaseSet_IsRejected(string hex)
    {
        // Empty (new NodeFrame() encodes to nothing), only an unknown field 20, only an unknown field 3.
        Assert.False(NodeWire.TryParseFrame(Convert.FromHexString(hex), out var frame));
        Assert.Null(frame);
        Assert.Empty(NodeWire.Encode(new NodeFrame()));
    }

    [Fact]
    public void TryParseFrame_EnvelopeBytes_AreNotAFrame()
    {
        // An envelope's field 1 (message_id) would be a frame's hello: its bytes are no Hello with a 32-byte key.
        Assert.False(NodeWire.TryParseFrame(NodeWire.Encode(FixedEnvelope(e => e.Text = new Text { Content = "hi" })), out _));
    }

    [Fact]
    public void TryParseEnvelope_UnknownVarintField_IsSkipped()
    {
        var envelope = FixedEnvelope(e => e.Text = new Text { Content = "hi" });

        // Field 20, varint: tag 20 << 3 | 0 = 160 = A0 01; value 1.
        byte[] encoding = [.. NodeWire.Encode(envelope), 0xA0, 0x01, 0x01];

        Assert.True(NodeWire.TryParseEnvelope(encoding, out var parsed));
        Assert.Equal(EnvelopeKind.Text, NodeWire.KindOf(parsed));
        Assert.Equal("hi", parsed.Text.Content);
        Assert.Equal(envelope.MessageId, parsed.MessageId);
        Assert.Equal(envelope.Conversation, parsed.Conversation);
        Assert.Equal(envelope.SenderDevice, parsed.SenderDevice);
        Assert.Equal(5ul, parsed.Lamport);
        Assert.Equal(1_700_000_000_000, parsed.SentAt);
    }

    [Theory]
    [InlineData("B20100")]
    [InlineData("BA01036E6577")]
    [InlineData("720100")]
    public void TryParseEnvelope_BodyOfALaterVersion_IsAcceptedAsUnknown(string bodyHex)
    {
        // Field 22 empty, field 23 "new" (later body kinds; 20 is the padding, 21 the refusal), field 14 (reserved for files) holding one byte.
        byte[] encoding = [.. Header(), .. Convert.FromHexString(bodyHex)];

        Assert.True(NodeWire.TryParseEnvelope(encoding, out var parsed));
        Assert.Equal(EnvelopeKind.Unknown, NodeWire.KindOf(parsed));
    }

    [Fact]
    public void KindOf_EachBodyCase_MapsToItsKind()
    {
        Assert.Equal(EnvelopeKind.Unknown, NodeWire.KindOf(FixedEnvelope(_ => { })));
        Assert.Equal(EnvelopeKind.SessionStart, NodeWire.KindOf(FixedEnvelope(e => e.SessionStart = new SessionStart())));
        Assert.Equal(EnvelopeKind.Text, NodeWire.KindOf(FixedEnvelope(e => e.Text = new Text { Content = "hi" })));
        Assert.Equal(EnvelopeKind.Delivered, NodeWire.KindOf(FixedEnvelope(e => e.Delivered = new Receipt())));
        Assert.Equal(EnvelopeKind.Read, NodeWire.KindOf(FixedEnvelope(e => e.Read = new Receipt())));
        Assert.Equal(EnvelopeKind.Typing, NodeWire.KindOf(FixedEnvelope(e => e.Typing = new Typing())));
        Assert.Equal(EnvelopeKind.Refusal, NodeWire.KindOf(FixedEnvelope(e => e.Refusal = new Refusal())));
    }

    [Fact]
    public void Conversation_EitherOrder_IsTheSame16Bytes()
    {
        Gen.Select(Gen.Byte.Array[32], Gen.Byte.Array[32]).Sample((one, other) =>
        {
            var a = AccountId.FromPublicKey(one);
            var b = AccountId.FromPublicKey(other);

            var conversation = NodeWire.Conversation(a, b);

            Assert.Equal(NodeWire.IdSize, conversation.Length);
            Assert.Equal(conversation, NodeWire.Conversation(b, a));
        });
    }

    [Fact]
    public void Conversation_OtherPairs_Differ()
    {
        Gen.Select(Gen.Byte.Array[32], Gen.Byte.Array[32], Gen.Byte.Array[32]).Where((a, b, c) => !b.SequenceEqual(c) && !a.SequenceEqual(c)).Sample((one, other, third) =>
        {
            var a = AccountId.FromPublicKey(one);
            var b = AccountId.FromPublicKey(other);
            var c = AccountId.FromPublicKey(third);

            Assert.NotEqual(NodeWire.Conversation(a, b), NodeWire.Conversation(a, c));
            Assert.NotEqual(NodeWire.Conversation(a, b), NodeWire.Conversation(c, b));
        });
    }

    [Fact]
    public void Conversation_IsTheDocumentedHashOfTheSortedKeys()
    {
        var low = AccountId.FromPublicKey(Filled(32, 0x01));
        var high = AccountId.FromPublicKey(Filled(32, 0xFE));

        var expected = Blake2b.Hash256([.. "SecureChat conversation v1"u8, .. Filled(32, 0x01), .. Filled(32, 0xFE)])[..16];

        Assert.Equal(expected, NodeWire.Conversation(high, low));
    }

    [Fact]
    public void DeviceId_Is16BytesOfTheCertificatesHash()
    {
        using var alice = LocalIdentity.Create("alice", DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));

        var id = NodeWire.DeviceId(alice.Certificate);

        Assert.Equal(NodeWire.IdSize, id.Length);
        Assert.Equal(Blake2b.Hash256(alice.Certificate.Encoded)[..16], id);
        Assert.Equal(id, NodeWire.DeviceId(DeviceCertificate.TryDecode(alice.Certificate.Encoded)!));
    }

    [Fact]
    public void DeviceId_OtherCertificate_Differs()
    {
        using var alice = LocalIdentity.Create("alice", DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));
        using var bob = LocalIdentity.Create("bob", DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));

        // The same account and device keys, certified a second later: another certificate, another ID.
        var reissued = DeviceCertificate.Issue(
            alice.AccountPrivateKey, alice.Certificate.DeviceAgreementKey, alice.Certificate.DeviceSigningKey, DateTimeOffset.FromUnixTimeSeconds(1_700_000_001));

        Assert.NotEqual(NodeWire.DeviceId(alice.Certificate), NodeWire.DeviceId(bob.Certificate));
        Assert.NotEqual(NodeWire.DeviceId(alice.Certificate), NodeWire.DeviceId(reissued));
    }

    [Fact]
    public void NewMessageId_Is16FreshBytes()
    {
        var ids = Enumerable.Range(0, 100).Select(_ => Convert.ToHexString(NodeWire.NewMessageId())).ToList();

        Assert.All(ids, id => Assert.Equal(32, id.Length));
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    /// <summary>Both decoders on the same bytes: neither throws, and whatever is accepted keeps every documented limit.</summary>
    private static void AssertValidIfAccepted(byte[] bytes)
    {
        if (NodeWire.TryParseEnvelope(bytes, out var envelope))
        {
            Assert.Equal(NodeWire.IdSize, envelope.MessageId.Length);
            Assert.Equal(NodeWire.IdSize, envelope.Conversation.Length);
            Assert.Equal(NodeWire.IdSize, envelope.SenderDevice.Length);
            Assert.InRange(envelope.SentAt, MinSentAt, MaxSentAt);
            switch (NodeWire.KindOf(envelope))
            {
                case EnvelopeKind.Text:
                    Assert.True(NodeWire.IsValidText(envelope.Text.Content));
                    Assert.InRange(Encoding.UTF8.GetByteCount(envelope.Text.Content), 1, NodeWire.MaxTextBytes);
                    break;
                case EnvelopeKind.Delivered or EnvelopeKind.Read:
                    var receipt = envelope.Delivered ?? envelope.Read;
                    Assert.InRange(receipt.MessageIds.Count, 0, NodeWire.MaxReceiptIds);
                    Assert.All(receipt.MessageIds, id => Assert.Equal(NodeWire.IdSize, id.Length));
                    break;
                case EnvelopeKind.Refusal:
                    Assert.Equal(NodeWire.IdSize, envelope.Refusal.MessageId.Length);
                    break;
            }
        }
        else
        {
            Assert.Null(envelope);
        }

        if (NodeWire.TryParseFrame(bytes, out var frame))
        {
            Assert.NotEqual(NodeFrame.FrameOneofCase.None, frame.FrameCase);
            if (frame.FrameCase == NodeFrame.FrameOneofCase.Hello)
            {
                Assert.InRange(frame.Hello.ListenPort, 0u, 65535u);
                Assert.Contains(frame.Hello.SessionId.Length, new[] { 0, NodeWire.IdSize });
                Assert.Equal(NodeWire.RatchetKeySize, frame.Hello.RatchetKey.Length);
            }
        }
        else
        {
            Assert.Null(frame);
        }
    }

    [Theory]
    [InlineData(0ul, 0L, true)]
    [InlineData(1_048_576ul, 0L, true)]
    [InlineData(1_048_577ul, 0L, false)]
    [InlineData(1_048_577ul, -1L, false)]
    [InlineData(2_048_576ul, 1_000_000L, true)]
    [InlineData(2_048_577ul, 1_000_000L, false)]
    [InlineData(5ul, 1_000_000L, true)]
    [InlineData(9_007_199_254_740_991ul, 9_007_199_254_740_000L, true)]
    [InlineData(9_007_199_254_740_992ul, 9_007_199_254_740_991L, false)]
    [InlineData(9_223_372_036_854_775_807ul, long.MaxValue, false)]
    [InlineData(ulong.MaxValue, long.MaxValue, false)]
    [InlineData(ulong.MaxValue, 0L, false)]
    public void IsLamportInBounds_ValueAgainstTheClock_AtMostTheWindowAheadAndNeverBeyond2Pow53Minus1(ulong lamport, long clock, bool expected)
    {
        Assert.Equal(expected, NodeWire.IsLamportInBounds(lamport, clock));
    }

    [Fact]
    public void MaxLamport_IsTheLargestIntegerADoubleHoldsExactly()
    {
        Assert.Equal(NodeWire.MaxLamport, (ulong)Math.Pow(2, 53) - 1);
        Assert.Equal(NodeWire.MaxLamport, (ulong)(double)NodeWire.MaxLamport);
        Assert.NotEqual(NodeWire.MaxLamport + 2, (ulong)(double)(NodeWire.MaxLamport + 2));
    }

    /// <summary>Random IDs, Lamport counter and send time around a generated body.</summary>
    private static Gen<Envelope> WithHeader(Gen<Envelope> bodies) =>
        Gen.Select(Ids, Ids, Ids, Gen.ULong, Gen.Long[MinSentAt, MaxSentAt], bodies, (messageId, conversation, device, lamport, sentAt, envelope) =>
        {
            var copy = envelope.Clone();
            copy.MessageId = ByteString.CopyFrom(messageId);
            copy.Conversation = ByteString.CopyFrom(conversation);
            copy.SenderDevice = ByteString.CopyFrom(device);
            copy.Lamport = lamport;
            copy.SentAt = sentAt;
            return copy;
        });

    /// <summary>The fixed envelope of the golden test (IDs 00..0f, 10..1f, 20..2f; lamport 5; sent 1,700,000,000,000), body set by <paramref name="body"/>.</summary>
    private static Envelope FixedEnvelope(Action<Envelope> body)
    {
        var envelope = new Envelope
        {
            MessageId = ByteString.CopyFrom(Counting(0x00)),
            Conversation = ByteString.CopyFrom(Counting(0x10)),
            SenderDevice = ByteString.CopyFrom(Counting(0x20)),
            Lamport = 5,
            SentAt = 1_700_000_000_000,
        };
        body(envelope);
        return envelope;
    }

    /// <summary>The fixed envelope's fields 1 to 5, with no body.</summary>
    private static byte[] Header() => NodeWire.Encode(FixedEnvelope(_ => { }));

    private static byte[] Counting(byte first) => [.. Enumerable.Range(first, 16).Select(i => (byte)i)];

    private static byte[] Filled(int length, byte value) => [.. Enumerable.Repeat(value, length)];
}
