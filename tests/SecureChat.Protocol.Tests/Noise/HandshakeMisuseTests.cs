using SecureChat.Protocol.Noise;

namespace SecureChat.Protocol.Tests.Noise;

/// <summary>Caller mistakes throw at once, before any state changes, and name what is wrong.</summary>
public sealed class HandshakeMisuseTests
{
    private static readonly NoiseProtocol Xx = NoiseProtocol.Parse(HandshakePair.Xx);
    private static readonly NoiseProtocol Ik = NoiseProtocol.Parse(HandshakePair.Ik);

    [Fact]
    public void Constructor_PatternSendsStaticButNoneGiven_Throws()
    {
        Assert.Throws<ArgumentException>(() => new HandshakeState(Xx, true, []));
    }

    [Fact]
    public void Constructor_RemoteStaticForPatternThatTransmitsIt_Throws()
    {
        Assert.Throws<ArgumentException>(() => new HandshakeState(Xx, true, [], HandshakePair.InitiatorStatic, HandshakePair.ResponderStaticPublicKey));
    }

    [Fact]
    public void Constructor_PreKnownResponderKeyMissing_Throws()
    {
        Assert.Throws<ArgumentException>(() => new HandshakeState(Ik, true, [], HandshakePair.InitiatorStatic));
    }

    [Fact]
    public void Constructor_SmallOrderRemoteStatic_Throws()
    {
        Assert.Throws<ArgumentException>(() => new HandshakeState(Ik, true, [], HandshakePair.InitiatorStatic, new byte[32]));
    }

    [Fact]
    public void Constructor_KeyOfWrongSize_Throws()
    {
        Assert.Throws<ArgumentException>(() => new HandshakeState(Xx, true, [], new byte[31]));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void Constructor_WrongNumberOfPreSharedKeys_Throws(int count)
    {
        var protocol = NoiseProtocol.Parse("Noise_NNpsk0_25519_ChaChaPoly_SHA256");
        var keys = Enumerable.Range(0, count).Select(_ => new byte[32]).ToList();

        Assert.Throws<ArgumentException>(() => new HandshakeState(protocol, true, [], preSharedKeys: keys));
    }

    [Fact]
    public void WriteMessage_NotMyTurn_Throws()
    {
        using var pair = HandshakePair.Create(HandshakePair.Xx);

        Assert.Throws<InvalidOperationException>(() => pair.Responder.WriteMessage([], new byte[256]));
    }

    [Fact]
    public void ReadMessage_MyTurnToWrite_Throws()
    {
        using var pair = HandshakePair.Create(HandshakePair.Xx);

        Assert.Throws<InvalidOperationException>(() => pair.Initiator.ReadMessage(new byte[32], new byte[32], out _));
    }

    [Fact]
    public void WriteMessage_BufferTooSmall_ThrowsAndKeepsState()
    {
        using var pair = HandshakePair.Create(HandshakePair.Ik);
        var needed = pair.Initiator.GetMaxMessageLength(5);

        Assert.Throws<ArgumentException>(() => pair.Initiator.WriteMessage(new byte[5], new byte[needed - 1]));
        Assert.Equal(0, pair.Initiator.MessageIndex);
        Assert.Equal(needed, pair.Initiator.WriteMessage(new byte[5], new byte[needed]));
    }

    [Fact]
    public void WriteMessage_OverNoiseLimit_Throws()
    {
        using var pair = HandshakePair.Create(HandshakePair.Ik);
        var payload = new byte[HandshakeState.MaxMessageLength];

        Assert.Throws<ArgumentException>(() => pair.Initiator.WriteMessage(payload, new byte[2 * HandshakeState.MaxMessageLength]));
    }

    [Fact]
    public void GetMaxMessageLength_IkFirstMessage_CountsKeysTagsAndPayload()
    {
        using var pair = HandshakePair.Create(HandshakePair.Ik);

        // e (32) + encrypted s (32 + 16) + encrypted payload (10 + 16).
        Assert.Equal(106, pair.Initiator.GetMaxMessageLength(10));
    }

    [Fact]
    public void Split_BeforeCompletion_Throws()
    {
        using var pair = HandshakePair.Create(HandshakePair.Xx);
        pair.Exchange(2);

        Assert.Throws<InvalidOperationException>(() => pair.Initiator.Split());
    }

    [Fact]
    public void Split_Twice_Throws()
    {
        using var pair = HandshakePair.Create(HandshakePair.Nn);
        var (initiator, responder) = pair.Complete();
        initiator.Dispose();
        responder.Dispose();

        Assert.Throws<InvalidOperationException>(() => pair.Initiator.Split());
    }

    [Fact]
    public void Split_OneWayPattern_OnlyInitiatorSends()
    {
        using var pair = HandshakePair.Create("Noise_N_25519_ChaChaPoly_BLAKE2b");
        var (initiator, responder) = pair.Complete();
        using (initiator)
        using (responder)
        {
            var ciphertext = new byte[64];
            var plaintext = new byte[64];
            var written = initiator.Send.Encrypt([], "one way"u8, ciphertext);
            Assert.True(responder.Receive.TryDecrypt([], ciphertext.AsSpan(0, written), plaintext, out _));
            Assert.Throws<InvalidOperationException>(() => responder.Send.Encrypt([], "back"u8, ciphertext));
            Assert.Throws<InvalidOperationException>(() => initiator.Receive.TryDecrypt([], ciphertext, plaintext, out _));
        }
    }

    [Fact]
    public void HandshakeState_AfterDispose_Throws()
    {
        var pair = HandshakePair.Create(HandshakePair.Xx);
        pair.Dispose();

        Assert.Throws<ObjectDisposedException>(() => pair.Initiator.WriteMessage([], new byte[256]));
    }
}
