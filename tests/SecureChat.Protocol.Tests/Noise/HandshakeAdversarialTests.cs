using SecureChat.Protocol.Noise;

namespace SecureChat.Protocol.Tests.Noise;

/// <summary>
/// Hostile handshake input: every single-bit flip and every truncation of every message of the two
/// handshakes SecureChat uses is rejected, as a result value and never an exception.
/// </summary>
public sealed class HandshakeAdversarialTests
{
    public static TheoryData<string, int> ChatHandshakeMessages => new()
    {
        { HandshakePair.Xx, 0 },
        { HandshakePair.Xx, 1 },
        { HandshakePair.Xx, 2 },
        { HandshakePair.Ik, 0 },
        { HandshakePair.Ik, 1 },
    };

    [Theory]
    [MemberData(nameof(ChatHandshakeMessages))]
    public void ReadMessage_AnySingleBitFlipped_IsRejected(string protocolName, int messageIndex)
    {
        var bitCount = HonestMessage(protocolName, messageIndex).Length * 8;
        for (var bit = 0; bit < bitCount; bit++)
        {
            using var pair = HandshakePair.Create(protocolName);
            pair.Exchange(messageIndex);
            var message = pair.Write();
            message[bit / 8] ^= (byte)(1 << (bit % 8));

            var result = pair.Deliver(message);

            if (protocolName == HandshakePair.Xx && messageIndex == 0)
            {
                // XX's first message is a bare ephemeral key with an empty, unencrypted payload:
                // nothing in it is authenticated, so the responder cannot notice the flip. The
                // altered key is hashed into h (and, unless the flip hit bit 255, which X25519
                // ignores, into ee too), so the responder's reply is encrypted under associated data
                // the initiator does not share, and the initiator rejects message 2.
                if (result == NoiseReadResult.Ok)
                {
                    var reply = pair.Write();
                    Assert.Equal(NoiseReadResult.AuthenticationFailed, pair.Deliver(reply));
                }
            }
            else
            {
                Assert.NotEqual(NoiseReadResult.Ok, result);
            }
        }
    }

    [Theory]
    [MemberData(nameof(ChatHandshakeMessages))]
    public void ReadMessage_Truncated_IsMalformedOrUnauthenticated(string protocolName, int messageIndex)
    {
        var honestLength = HonestMessage(protocolName, messageIndex).Length;
        for (var length = 0; length < honestLength; length++)
        {
            using var pair = HandshakePair.Create(protocolName);
            pair.Exchange(messageIndex);
            var message = pair.Write();

            var result = pair.Deliver(message.AsSpan(0, length));

            Assert.True(
                result is NoiseReadResult.Malformed or NoiseReadResult.AuthenticationFailed,
                $"{length} of {honestLength} bytes gave {result}");
        }
    }

    [Fact]
    public void ReadMessage_Rejected_ClearsPayloadAndEndsHandshake()
    {
        using var pair = HandshakePair.Create(HandshakePair.Ik);
        var message = pair.Write();
        message[^1] ^= 1;
        var payload = Enumerable.Repeat((byte)0xAA, message.Length).ToArray();

        var result = pair.Responder.ReadMessage(message, payload, out var payloadLength);

        Assert.Equal(NoiseReadResult.AuthenticationFailed, result);
        Assert.Equal(0, payloadLength);
        Assert.All(payload, b => Assert.Equal(0, b));
        Assert.False(pair.Responder.IsMyTurnToWrite);
        Assert.Throws<InvalidOperationException>(() => pair.Responder.ReadMessage(message, payload, out _));
        Assert.Throws<InvalidOperationException>(() => pair.Responder.WriteMessage([], new byte[256]));
        Assert.Throws<InvalidOperationException>(() => pair.Responder.Split());
    }

    [Fact]
    public void ReadMessage_LongerThanNoiseLimit_IsMalformed()
    {
        using var pair = HandshakePair.Create(HandshakePair.Xx);
        var message = new byte[HandshakeState.MaxMessageLength + 1];
        pair.Write().CopyTo(message, 0);

        Assert.Equal(NoiseReadResult.Malformed, pair.Deliver(message));
    }

    [Theory]
    [InlineData("0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("0100000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")]
    public void ReadMessage_SmallOrderEphemeral_IsInvalidKey(string ephemeralHex)
    {
        using var pair = HandshakePair.Create(HandshakePair.Xx);

        var forged = Convert.FromHexString(ephemeralHex);

        Assert.Equal(NoiseReadResult.InvalidKey, pair.Responder.ReadMessage(forged, new byte[forged.Length], out _));
    }

    [Fact]
    public void ReadMessage_InitiatorPinsWrongResponderKey_IsAuthenticationFailed()
    {
        var protocol = NoiseProtocol.Parse(HandshakePair.Ik);
        var wrongKey = new byte[32];
        var wrongPublic = new byte[32];
        SecureChat.Crypto.X25519.GenerateKeyPair(wrongKey, wrongPublic);
        using var initiator = new HandshakeState(protocol, true, HandshakePair.Prologue, HandshakePair.InitiatorStatic, wrongPublic);
        using var responder = new HandshakeState(protocol, false, HandshakePair.Prologue, HandshakePair.ResponderStatic);
        var message = new byte[initiator.GetMaxMessageLength(0)];
        initiator.WriteMessage([], message);

        Assert.Equal(NoiseReadResult.AuthenticationFailed, responder.ReadMessage(message, new byte[message.Length], out _));
    }

    [Fact]
    public void ReadMessage_DifferentPrologues_FailAtFirstEncryptedField()
    {
        var protocol = NoiseProtocol.Parse(HandshakePair.Xx);
        using var initiator = new HandshakeState(protocol, true, "version 1"u8, HandshakePair.InitiatorStatic);
        using var responder = new HandshakeState(protocol, false, "version 2"u8, HandshakePair.ResponderStatic);
        var buffer = new byte[1024];
        var payload = new byte[1024];
        var length = initiator.WriteMessage([], buffer);
        Assert.Equal(NoiseReadResult.Ok, responder.ReadMessage(buffer.AsSpan(0, length), payload, out _));
        length = responder.WriteMessage([], buffer);

        Assert.Equal(NoiseReadResult.AuthenticationFailed, initiator.ReadMessage(buffer.AsSpan(0, length), payload, out _));
    }

    [Fact]
    public void ReadMessage_MismatchedPreSharedKeys_IsAuthenticationFailed()
    {
        const string Protocol = "Noise_XXpsk0+psk3_25519_ChaChaPoly_BLAKE2b";
        byte[] psk0 = [.. Enumerable.Repeat((byte)1, 32)];
        byte[] psk3 = [.. Enumerable.Repeat((byte)3, 32)];
        byte[] other = [.. Enumerable.Repeat((byte)9, 32)];
        using var pair = HandshakePair.Create(Protocol, [psk0, psk3], [other, psk3]);

        Assert.Equal(NoiseReadResult.AuthenticationFailed, pair.Deliver(pair.Write()));
    }

    [Fact]
    public void Handshake_TwoPreSharedKeyModifiers_CompletesWithEqualHashes()
    {
        const string Protocol = "Noise_XXpsk0+psk3_25519_ChaChaPoly_BLAKE2b";
        byte[] psk0 = [.. Enumerable.Repeat((byte)1, 32)];
        byte[] psk3 = [.. Enumerable.Repeat((byte)3, 32)];
        using var pair = HandshakePair.Create(Protocol, [psk0, psk3], [psk0, psk3]);

        var (initiator, responder) = pair.Complete();
        using (initiator)
        using (responder)
        {
            Assert.Equal(initiator.HandshakeHash, responder.HandshakeHash);
            Assert.Equal(HandshakePair.ResponderStaticPublicKey, pair.Initiator.RemoteStaticPublicKey.ToArray());
        }
    }

    private static byte[] HonestMessage(string protocolName, int messageIndex)
    {
        using var pair = HandshakePair.Create(protocolName);
        pair.Exchange(messageIndex);
        return pair.Write();
    }
}
