using SecureChat.Crypto;
using SecureChat.Protocol.Noise;

namespace SecureChat.Protocol.Tests.Noise;

/// <summary>
/// An initiator and a responder in one process, with fixed keys, so that every run of a handshake
/// produces the same bytes and a test can replay it up to the message it tampers with.
/// </summary>
internal sealed class HandshakePair : IDisposable
{
    public const string Xx = "Noise_XX_25519_ChaChaPoly_BLAKE2b";
    public const string Ik = "Noise_IK_25519_ChaChaPoly_BLAKE2b";
    public const string Nn = "Noise_NN_25519_ChaChaPoly_BLAKE2b";

    public static readonly byte[] Prologue = "SecureChat test"u8.ToArray();
    public static readonly byte[] InitiatorStatic = Fixed(0x11);
    public static readonly byte[] ResponderStatic = Fixed(0x22);
    public static readonly byte[] InitiatorEphemeral = Fixed(0x33);
    public static readonly byte[] ResponderEphemeral = Fixed(0x44);

    private HandshakePair(HandshakeState initiator, HandshakeState responder)
    {
        Initiator = initiator;
        Responder = responder;
    }

    public HandshakeState Initiator { get; }

    public HandshakeState Responder { get; }

    /// <summary>The party that sends next; both parties have processed the same messages.</summary>
    public HandshakeState Writer => Initiator.MessageIndex == Responder.MessageIndex
        ? (Initiator.IsMyTurnToWrite ? Initiator : Responder)
        : throw new InvalidOperationException("A written message has not been delivered yet.");

    /// <summary>The party one message behind: it reads the message just written.</summary>
    public HandshakeState Reader => Initiator.MessageIndex < Responder.MessageIndex ? Initiator
        : Responder.MessageIndex < Initiator.MessageIndex ? Responder
        : throw new InvalidOperationException("No message has been written.");

    public static byte[] ResponderStaticPublicKey
    {
        get
        {
            var publicKey = new byte[X25519.KeySize];
            X25519.DerivePublicKey(ResponderStatic, publicKey);
            return publicKey;
        }
    }

    /// <summary>
    /// A pair for XX, IK, NN or any other pattern without pre-shared keys: static keys are given to
    /// the parties whose pattern uses them, and the responder's to an initiator that pre-knows it.
    /// </summary>
    public static HandshakePair Create(string protocolName, IReadOnlyList<byte[]>? initiatorPsks = null, IReadOnlyList<byte[]>? responderPsks = null)
    {
        var protocol = NoiseProtocol.Parse(protocolName);
        var pattern = protocol.Pattern;
        var initiatorHasStatic = pattern.InitiatorPreMessage.Contains(NoiseToken.S) || SentBy(pattern, initiator: true).Contains(NoiseToken.S);
        var responderHasStatic = pattern.ResponderPreMessage.Contains(NoiseToken.S) || SentBy(pattern, initiator: false).Contains(NoiseToken.S);
        var initiator = new HandshakeState(
            protocol,
            initiator: true,
            Prologue,
            initiatorHasStatic ? InitiatorStatic : [],
            pattern.ResponderPreMessage.Contains(NoiseToken.S) ? ResponderStaticPublicKey : [],
            initiatorPsks,
            InitiatorEphemeral);
        var responder = new HandshakeState(
            protocol,
            initiator: false,
            Prologue,
            responderHasStatic ? ResponderStatic : [],
            preSharedKeys: responderPsks,
            localEphemeralPrivateKey: pattern.IsOneWay ? [] : ResponderEphemeral);
        return new HandshakePair(initiator, responder);
    }

    /// <summary>The payload every test sends with handshake message <paramref name="index"/>.</summary>
    public static byte[] PayloadFor(string protocolName, int index) =>
        protocolName == Xx && index == 0 ? [] : [.. "payload #"u8, (byte)('0' + index)];

    /// <summary>Writes the next message with its standard payload.</summary>
    public byte[] Write()
    {
        var writer = Writer;
        var payload = PayloadFor(writer.Protocol.Name, writer.MessageIndex);
        var message = new byte[writer.GetMaxMessageLength(payload.Length)];
        Assert.Equal(message.Length, writer.WriteMessage(payload, message));
        return message;
    }

    /// <summary>Hands <paramref name="message"/> to the party whose turn it is to read.</summary>
    public NoiseReadResult Deliver(ReadOnlySpan<byte> message) =>
        Reader.ReadMessage(message, new byte[Math.Max(message.Length, 1)], out _);

    /// <summary>Runs the handshake honestly until <paramref name="messageCount"/> messages have been exchanged.</summary>
    public void Exchange(int messageCount)
    {
        while (Initiator.MessageIndex < messageCount)
        {
            Assert.Equal(NoiseReadResult.Ok, Deliver(Write()));
        }
    }

    /// <summary>Runs the whole handshake honestly and splits both sides.</summary>
    public (NoiseTransport Initiator, NoiseTransport Responder) Complete()
    {
        Exchange(Initiator.Protocol.Pattern.Messages.Count);
        return (Initiator.Split(), Responder.Split());
    }

    public void Dispose()
    {
        Initiator.Dispose();
        Responder.Dispose();
    }

    private static IEnumerable<NoiseToken> SentBy(HandshakePattern pattern, bool initiator) =>
        pattern.Messages.Where((_, index) => index % 2 == 0 == initiator).SelectMany(message => message);

    private static byte[] Fixed(byte value) => [.. Enumerable.Repeat(value, X25519.KeySize)];
}
