using Google.Protobuf;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Messages;
using SecureChat.Protocol.Messages.Wire;
using SecureChat.Storage;

namespace SecureChat.Node.Tests.Session;

/// <summary>
/// What a peer writes is hostile until checked (docs/protocol.md 6.1 and 6.3): malformed hellos,
/// frames of no known case, envelopes that break a rule of their schema, bodies this version does
/// not know. Bob answers Alice; Alice's "node" here writes whatever the test makes it write,
/// encrypted under the session both hold, as a buggy or hostile peer could.
/// </summary>
public sealed class PeerSessionWireTests : TwoParties
{
    public static TheoryData<string> MalformedHellos => new() { "port above 65535", "session ID of 15 bytes", "ratchet key of 31 bytes", "no ratchet key", "no case set", "not protobuf" };

    [Theory]
    [MemberData(nameof(MalformedHellos))]
    public void Hello_Malformed_ClosesWithProtocolViolationAndStartsNoSession(string flaw)
    {
        var hello = new Hello { ListenPort = 7_000, RatchetKey = ByteString.CopyFrom(new byte[32]) };
        byte[] frame = flaw switch
        {
            "port above 65535" => NodeWire.Encode(new NodeFrame { Hello = new Hello(hello) { ListenPort = 65_536 } }),
            "session ID of 15 bytes" => NodeWire.Encode(new NodeFrame { Hello = new Hello(hello) { SessionId = ByteString.CopyFrom(new byte[15]) } }),
            "ratchet key of 31 bytes" => NodeWire.Encode(new NodeFrame { Hello = new Hello(hello) { RatchetKey = ByteString.CopyFrom(new byte[31]) } }),
            "no ratchet key" => NodeWire.Encode(new NodeFrame { Hello = new Hello(hello) { RatchetKey = ByteString.Empty } }),
            "no case set" => [],
            _ => [0x0A, 0x25, 0x08],
        };
        using var pair = new SessionPair(Alice, Bob);
        pair.Answerer.Start(Bob.Now);

        var output = pair.Answerer.Receive([frame], Bob.Now);

        Assert.Equal(CloseReason.ProtocolViolation, output.Close?.Reason);
        Assert.Empty(output.Frames);
        Assert.False(output.CameOnline);
        Assert.Null(output.ClaimedEndpoint);
        Assert.False(Bob.Store.HasSession);
    }

    /// <summary>
    /// The dialer's hello key is not used by version 1 (6.2): the answerer checks only its length,
    /// not that it is a valid point, so even an all-zero key starts the session and texts flow.
    /// </summary>
    [Fact]
    public void Hello_DialersRatchetKeyIsNoValidPoint_AnswererAcceptsAndTheSessionWorks()
    {
        var text = Alice.Send("my hello key is zeros");
        using var pair = new SessionPair(Alice, Bob)
        {
            Wire = (fromDialer, frame) => fromDialer && NodeWire.TryParseFrame(frame, out var parsed) && parsed.FrameCase == NodeFrame.FrameOneofCase.Hello
                ? [NodeWire.Encode(new NodeFrame { Hello = new Hello(parsed.Hello) { RatchetKey = ByteString.CopyFrom(new byte[32]) } })]
                : [frame],
        }.Start();

        pair.Settle();

        Assert.Empty(Bob.Closes);
        Assert.Equal([text.Id], Bob.Store.Received.Select(m => m.MessageId));
        Assert.Equal(MessageState.Delivered, text.State);
    }

    [Fact]
    public void Frame_OfNoKnownCaseAfterTheHello_ClosesWithProtocolViolationAndKeepsTheSession()
    {
        using var pair = SessionPair.Run(Alice, Bob);

        pair.ToAnswerer.Add([]);
        pair.Settle();

        var close = Assert.Single(Bob.Closes);
        Assert.Equal(CloseReason.ProtocolViolation, close.Reason);
        Assert.Contains("not a ratchet message", close.Text, StringComparison.Ordinal);
        Assert.True(Bob.Store.HasSession, "a frame of no known case says nothing about the ratchet");
    }

    /// <summary>
    /// Bytes the channel authenticated as Alice's that the ratchet cannot open: the sessions are
    /// out of step (6.7). Bob forgets his; nothing of the batch is stored; the next connection
    /// starts a new session and Alice's text, still in her outbox, arrives under it.
    /// </summary>
    [Fact]
    public void Ratchet_FrameThatDoesNotDecrypt_SessionForgottenAndTheNextConnectionDelivers()
    {
        using (var pair = SessionPair.Run(Alice, Bob))
        {
            var text = Alice.Send("after the garbage");
            pair.Wire = (fromDialer, frame) => fromDialer ? [NodeWire.Encode(new NodeFrame { Ratchet = ByteString.CopyFrom(new byte[120]) }), frame] : [frame];
            pair.Kick().Settle();

            Assert.Contains("out of step", Assert.Single(Bob.Closes).Text, StringComparison.Ordinal);
            Assert.False(Bob.Store.HasSession);
            Assert.Empty(Bob.Store.Received);
            Assert.Equal(MessageState.Sent, text.State);
        }

        using var next = SessionPair.Run(Alice, Bob);

        Assert.Equal(["after the garbage"], Bob.Store.Received.Select(m => m.Text));
        Assert.Equal(2, Bob.Store.SessionsStarted);
    }

    public static TheoryData<string> MalformedEnvelopes => new()
    {
        "another conversation", "message ID of 15 bytes", "no sender device", "sent_at after year 9999", "sent_at before year 1",
        "empty text", "text of 16,001 bytes", "delivered with 1,001 IDs", "read with an ID of 17 bytes", "refusal without its message ID", "not protobuf",
    };

    /// <summary>
    /// Each rule of the envelope's schema (6.3), broken once, in a batch after a well-formed text:
    /// the connection closes with PROTOCOL_VIOLATION and nothing of the batch is stored or
    /// acknowledged; the session (which did open the bytes) is kept.
    /// </summary>
    [Theory]
    [MemberData(nameof(MalformedEnvelopes))]
    public void Envelope_BreaksARuleOfItsSchema_ClosedAndNothingOfTheBatchStoredOrAcknowledged(string flaw)
    {
        using var pair = SessionPair.Run(Alice, Bob);
        var answered = pair.RatchetFrames.FromAnswerer;
        var good = Alice.Seal(Alice.Envelope(Bob, e => e.Text = new Text { Content = "well-formed" }));
        var bad = flaw == "not protobuf"
            ? Alice.Seal([0x0A, 0x10, 0x01])
            : Alice.Seal(Alice.Envelope(Bob, e =>
            {
                e.Text = new Text { Content = "hostile" };
                switch (flaw)
                {
                    case "another conversation": e.Conversation = ByteString.CopyFrom(new byte[16]); break;
                    case "message ID of 15 bytes": e.MessageId = ByteString.CopyFrom(new byte[15]); break;
                    case "no sender device": e.SenderDevice = ByteString.Empty; break;
                    case "sent_at after year 9999": e.SentAt = 253_402_300_800_000; break;
                    case "sent_at before year 1": e.SentAt = -62_135_596_800_001; break;
                    case "empty text": e.Text = new Text { Content = "" }; break;
                    case "text of 16,001 bytes": e.Text = new Text { Content = new string('x', NodeWire.MaxTextBytes + 1) }; break;
                    case "delivered with 1,001 IDs": e.Delivered = Receipt(Enumerable.Range(0, NodeWire.MaxReceiptIds + 1).Select(_ => new byte[16])); break;
                    case "read with an ID of 17 bytes": e.Read = Receipt([new byte[17]]); break;
                    case "refusal without its message ID": e.Refusal = new Refusal { Reason = RefusalReason.MessageQuota, RetryAfterMs = 1_000 }; break;
                    default: throw new ArgumentOutOfRangeException(nameof(flaw), flaw, "Not a flaw this test knows.");
                }
            }));

        pair.ToAnswerer.AddRange([good, bad]);
        pair.Settle();

        var close = Assert.Single(Bob.Closes);
        Assert.Equal(CloseReason.ProtocolViolation, close.Reason);
        Assert.Contains("malformed or named another conversation", close.Text, StringComparison.Ordinal);
        Assert.Empty(Bob.Store.Received);
        Assert.Equal(answered, pair.RatchetFrames.FromAnswerer);
        Assert.True(Bob.Store.HasSession);
    }

    /// <summary>
    /// An envelope with no body, or with a body of a later version (a reserved field, 14 to 19),
    /// is acknowledged and otherwise ignored (6.3): one delivered envelope goes back, nothing is
    /// stored, the connection stays.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Envelope_NoBodyOrAnUnknownOne_AcknowledgedAndIgnored(bool laterKind)
    {
        using var pair = SessionPair.Run(Alice, Bob);
        var answered = pair.RatchetFrames.FromAnswerer;
        var envelope = Alice.Envelope(Bob, _ => { });
        byte[] plaintext = laterKind ? [.. NodeWire.Encode(envelope), 0x72, 0x02, 0x0A, 0x00] : NodeWire.EncodePadded(envelope);

        pair.ToAnswerer.Add(Alice.Seal(plaintext));
        pair.Settle();

        Assert.Empty(Bob.Closes);
        Assert.Empty(Bob.Store.Received);
        Assert.Equal(answered + 1, pair.RatchetFrames.FromAnswerer);
        Assert.True(pair.Answerer.IsOnline);
    }

    /// <summary>A typing notice and a delivered receipt are never acknowledged (6.4): nothing goes back for them.</summary>
    [Fact]
    public void Envelope_TypingOrDelivered_NotAcknowledged()
    {
        using var pair = SessionPair.Run(Alice, Bob);
        var answered = pair.RatchetFrames.FromAnswerer;

        pair.ToAnswerer.Add(Alice.Seal(Alice.Envelope(Bob, e => e.Typing = new Typing { Active = true })));
        pair.ToAnswerer.Add(Alice.Seal(Alice.Envelope(Bob, e => e.Delivered = Receipt([new byte[16]]))));
        pair.Settle();

        Assert.Empty(Bob.Closes);
        Assert.Equal(answered, pair.RatchetFrames.FromAnswerer);
        Assert.Single(Bob.Events.OfType<TypingChanged>());
    }

    /// <summary>A receipt naming an ID this side never sent beside one it did: only the known one moves, and nothing ends.</summary>
    [Fact]
    public void Receipt_NamesAnUnknownIdBesideAKnownOne_OnlyTheKnownOneMoves()
    {
        var text = Bob.Send("bob's only text");
        using var pair = SessionPair.Run(Alice, Bob);
        Assert.Equal(MessageState.Delivered, text.State);
        var events = Bob.Events.Count;

        pair.ToAnswerer.Add(Alice.Seal(Alice.Envelope(Bob, e => e.Read = Receipt([new byte[16], Convert.FromHexString(text.Id)]))));
        pair.Settle();

        Assert.Empty(Bob.Closes);
        Assert.Equal(MessageState.Read, text.State);
        Assert.Equal([MessageState.Read], Bob.Events.Skip(events).OfType<MessageStateChanged>().Select(e => e.State));
    }

    private static Receipt Receipt(IEnumerable<byte[]> ids)
    {
        var receipt = new Receipt();
        receipt.MessageIds.AddRange(ids.Select(ByteString.CopyFrom));
        return receipt;
    }
}
