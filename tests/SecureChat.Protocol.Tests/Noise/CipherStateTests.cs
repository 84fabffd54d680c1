using SecureChat.Protocol.Noise;

namespace SecureChat.Protocol.Tests.Noise;

/// <summary>Transport CipherStates (Noise spec revision 34, sections 5.1 and 11.3), both ciphers.</summary>
public sealed class CipherStateTests
{
    public static TheoryData<string> Protocols => new()
    {
        "Noise_NN_25519_ChaChaPoly_BLAKE2b",
        "Noise_NN_25519_AESGCM_SHA256",
    };

    [Theory]
    [MemberData(nameof(Protocols))]
    public void TryDecrypt_AnyBitFlipped_FailsClearsOutputAndKeepsNonce(string protocolName)
    {
        using var session = Session.Create(protocolName);
        var ciphertext = new byte[64];
        var written = session.Initiator.Send.Encrypt("ad"u8, "attack at dawn"u8, ciphertext);
        var plaintext = new byte[64];

        for (var bit = 0; bit < written * 8; bit++)
        {
            var tampered = ciphertext[..written];
            tampered[bit / 8] ^= (byte)(1 << (bit % 8));
            plaintext.AsSpan().Fill(0xAA);

            Assert.False(session.Responder.Receive.TryDecrypt("ad"u8, tampered, plaintext, out var length));
            Assert.Equal(0, length);
            Assert.All(plaintext, b => Assert.Equal(0, b));
            Assert.Equal(0ul, session.Responder.Receive.Nonce);
        }

        Assert.True(session.Responder.Receive.TryDecrypt("ad"u8, ciphertext.AsSpan(0, written), plaintext, out var genuine));
        Assert.Equal("attack at dawn"u8.ToArray(), plaintext[..genuine]);
        Assert.Equal(1ul, session.Responder.Receive.Nonce);
    }

    [Theory]
    [MemberData(nameof(Protocols))]
    public void TryDecrypt_WrongAssociatedDataOrShorterThanTag_Fails(string protocolName)
    {
        using var session = Session.Create(protocolName);
        var ciphertext = new byte[64];
        var written = session.Initiator.Send.Encrypt("ad"u8, "x"u8, ciphertext);
        var plaintext = new byte[64];

        Assert.False(session.Responder.Receive.TryDecrypt("other"u8, ciphertext.AsSpan(0, written), plaintext, out _));
        Assert.False(session.Responder.Receive.TryDecrypt("ad"u8, ciphertext.AsSpan(0, CipherState.TagSize - 1), plaintext, out _));
        Assert.Equal(0ul, session.Responder.Receive.Nonce);
    }

    [Theory]
    [MemberData(nameof(Protocols))]
    public void Rekey_BothSides_KeepInteroperating(string protocolName)
    {
        using var session = Session.Create(protocolName);
        session.AssertDelivers("before rekey"u8);
        var nonceBefore = session.Initiator.Send.Nonce;

        session.Initiator.Send.Rekey();
        session.Responder.Receive.Rekey();

        Assert.Equal(nonceBefore, session.Initiator.Send.Nonce);
        session.AssertDelivers("after rekey"u8);
        session.Initiator.Send.Rekey();
        session.Responder.Receive.Rekey();
        session.AssertDelivers("after a second rekey"u8);
    }

    [Theory]
    [MemberData(nameof(Protocols))]
    public void Rekey_OneSideOnly_FailsToDecrypt(string protocolName)
    {
        using var session = Session.Create(protocolName);
        session.Initiator.Send.Rekey();
        var ciphertext = new byte[64];
        var written = session.Initiator.Send.Encrypt([], "hello"u8, ciphertext);

        Assert.False(session.Responder.Receive.TryDecrypt([], ciphertext.AsSpan(0, written), new byte[64], out _));
    }

    [Theory]
    [MemberData(nameof(Protocols))]
    public void Encrypt_NonceReachesReservedMaximum_Throws(string protocolName)
    {
        using var session = Session.Create(protocolName);
        session.Initiator.Send.SetNonce(ulong.MaxValue - 1);
        session.Responder.Receive.SetNonce(ulong.MaxValue - 1);

        session.AssertDelivers("last message"u8);

        Assert.Equal(ulong.MaxValue, session.Initiator.Send.Nonce);
        Assert.Throws<InvalidOperationException>(() => session.Initiator.Send.Encrypt([], "one too many"u8, new byte[64]));
        Assert.Throws<InvalidOperationException>(() => session.Responder.Receive.TryDecrypt([], new byte[32], new byte[32], out _));
    }

    [Fact]
    public void Encrypt_BufferTooSmall_Throws()
    {
        using var session = Session.Create(HandshakePair.Nn);

        Assert.Throws<ArgumentException>(() => session.Initiator.Send.Encrypt([], new byte[10], new byte[10 + CipherState.TagSize - 1]));
        Assert.Equal(0ul, session.Initiator.Send.Nonce);
    }

    [Fact]
    public void Split_BothSides_OrientSendAndReceive()
    {
        using var session = Session.Create(HandshakePair.Nn);

        session.AssertDelivers("to responder"u8);
        var ciphertext = new byte[64];
        var plaintext = new byte[64];
        var written = session.Responder.Send.Encrypt([], "to initiator"u8, ciphertext);
        Assert.True(session.Initiator.Receive.TryDecrypt([], ciphertext.AsSpan(0, written), plaintext, out var length));
        Assert.Equal("to initiator"u8.ToArray(), plaintext[..length]);
    }

    [Fact]
    public void CipherState_AfterDispose_Throws()
    {
        var session = Session.Create(HandshakePair.Nn);
        session.Dispose();

        Assert.Throws<ObjectDisposedException>(() => session.Initiator.Send.Encrypt([], "x"u8, new byte[64]));
    }

    private sealed class Session : IDisposable
    {
        private Session(NoiseTransport initiator, NoiseTransport responder)
        {
            Initiator = initiator;
            Responder = responder;
        }

        public NoiseTransport Initiator { get; }

        public NoiseTransport Responder { get; }

        public static Session Create(string protocolName)
        {
            using var pair = HandshakePair.Create(protocolName);
            var (initiator, responder) = pair.Complete();
            return new Session(initiator, responder);
        }

        public void AssertDelivers(ReadOnlySpan<byte> message)
        {
            var ciphertext = new byte[message.Length + CipherState.TagSize];
            var plaintext = new byte[message.Length];
            Assert.Equal(ciphertext.Length, Initiator.Send.Encrypt([], message, ciphertext));
            Assert.True(Responder.Receive.TryDecrypt([], ciphertext, plaintext, out var length));
            Assert.Equal(message.ToArray(), plaintext[..length]);
        }

        public void Dispose()
        {
            Initiator.Dispose();
            Responder.Dispose();
        }
    }
}
