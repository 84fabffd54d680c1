using System.Security.Cryptography;
using System.Text;
using Org.BouncyCastle.Crypto.Digests;
using Org.BouncyCastle.Crypto.Macs;
using Org.BouncyCastle.Crypto.Parameters;
using SecureChat.Protocol.Noise;

namespace SecureChat.Protocol.Tests.Noise;

/// <summary>
/// The exporter secret: a third output of Split's HKDF (Noise spec revision 34, sections 4.3 and
/// 5.2), beside the two transport keys the spec defines, which it must leave untouched.
/// </summary>
public sealed class ExporterSecretTests
{
    public static TheoryData<string> Patterns => new() { HandshakePair.Xx, HandshakePair.Ik };

    [Theory]
    [InlineData("Noise_NN_25519_ChaChaPoly_SHA256")]
    [InlineData("Noise_XX_25519_ChaChaPoly_BLAKE2b")]
    public void Split_ExporterSecret_IsTheThirdHkdfOutputAndTheTransportKeysAreTheSpecs(string protocolName)
    {
        var protocol = NoiseProtocol.Parse(protocolName);
        var inputKeyMaterial = Enumerable.Repeat((byte)0x5A, 32).ToArray();
        using var symmetric = new SymmetricState(protocol);
        symmetric.MixKey(inputKeyMaterial);

        var (initiatorToResponder, responderToInitiator, exporter) = symmetric.Split();
        using (initiatorToResponder)
        using (responderToInitiator)
        using (exporter)
        {
            // Computed here from the spec alone: h = the name, zero-padded to HASHLEN (both names
            // fit); ck = h; MixKey: ck = HKDF(ck, ikm)[0]; Split: HKDF(ck, empty, 3), each output
            // truncated to 32 bytes; HKDF's third output is HMAC(temp_key, output2 || 0x03).
            var hashLength = protocol.Hash == NoiseHash.Sha256 ? 32 : 64;
            var chainingKey = new byte[hashLength];
            Encoding.ASCII.GetBytes(protocolName).CopyTo(chainingKey, 0);
            chainingKey = Hkdf(protocol.Hash, chainingKey, inputKeyMaterial)[0];
            var outputs = Hkdf(protocol.Hash, chainingKey, []);

            Assert.Equal(32, exporter.Length);
            Assert.Equal(outputs[2][..32], exporter.Span.ToArray());
            Assert.Equal(ChaChaPoly(outputs[0][..32], "probe"u8), Encrypt(initiatorToResponder, "probe"u8));
            Assert.Equal(ChaChaPoly(outputs[1][..32], "probe"u8), Encrypt(responderToInitiator, "probe"u8));
        }
    }

    [Theory]
    [MemberData(nameof(Patterns))]
    public void ExporterSecret_AfterHandshake_IsThe32BytesBothSidesShare(string protocolName)
    {
        using var pair = HandshakePair.Create(protocolName);
        var (initiator, responder) = pair.Complete();
        using (initiator)
        using (responder)
        {
            Assert.Equal(32, initiator.ExporterSecret.Length);
            Assert.Equal(initiator.ExporterSecret.Span.ToArray(), responder.ExporterSecret.Span.ToArray());
            Assert.NotEqual(new byte[32], initiator.ExporterSecret.Span.ToArray());
        }
    }

    [Theory]
    [MemberData(nameof(Patterns))]
    public void ExporterSecret_IsNeitherTheHandshakeHashNorATransportKey(string protocolName)
    {
        using var pair = HandshakePair.Create(protocolName);
        var (initiator, responder) = pair.Complete();
        using (initiator)
        using (responder)
        {
            var exporter = initiator.ExporterSecret.Span.ToArray();
            var hash = initiator.HandshakeHash;

            Assert.NotEqual(hash[..32], exporter);
            Assert.NotEqual(hash[^32..], exporter);

            // The first message each way, at nonce 0: a key equal to the exporter would give the same bytes.
            var fromInitiator = Encrypt(initiator.Send, "probe"u8);
            var fromResponder = Encrypt(responder.Send, "probe"u8);
            Assert.NotEqual(ChaChaPoly(exporter, "probe"u8), fromInitiator);
            Assert.NotEqual(ChaChaPoly(exporter, "probe"u8), fromResponder);

            // And the transport still works as before.
            Assert.Equal("probe"u8.ToArray(), Decrypt(responder.Receive, fromInitiator));
            Assert.Equal("probe"u8.ToArray(), Decrypt(initiator.Receive, fromResponder));
        }
    }

    [Theory]
    [MemberData(nameof(Patterns))]
    public void ExporterSecret_SameHandshakeReplayed_IsTheSame(string protocolName)
    {
        // Fixed static and ephemeral keys: the exporter is a function of the handshake alone.
        Assert.Equal(Exporter(protocolName), Exporter(protocolName));
    }

    [Fact]
    public void ExporterSecret_OtherPattern_Differs()
    {
        Assert.NotEqual(Exporter(HandshakePair.Xx), Exporter(HandshakePair.Ik));
    }

    [Fact]
    public void Dispose_Transport_WipesTheExporterSecret()
    {
        using var pair = HandshakePair.Create(HandshakePair.Xx);
        var (initiator, responder) = pair.Complete();
        responder.Dispose();

        initiator.Dispose();

        Assert.Throws<ObjectDisposedException>(() => initiator.ExporterSecret.Span.ToArray());
    }

    private static byte[] Exporter(string protocolName)
    {
        using var pair = HandshakePair.Create(protocolName);
        var (initiator, responder) = pair.Complete();
        using (initiator)
        using (responder)
        {
            return initiator.ExporterSecret.Span.ToArray();
        }
    }

    private static byte[] Encrypt(CipherState cipher, ReadOnlySpan<byte> plaintext)
    {
        var ciphertext = new byte[plaintext.Length + CipherState.TagSize];
        Assert.Equal(ciphertext.Length, cipher.Encrypt([], plaintext, ciphertext));
        return ciphertext;
    }

    private static byte[] Decrypt(CipherState cipher, byte[] ciphertext)
    {
        var plaintext = new byte[ciphertext.Length];
        Assert.True(cipher.TryDecrypt([], ciphertext, plaintext, out var written));
        return plaintext[..written];
    }

    /// <summary>ChaChaPoly (section 12.3) at nonce 0 with empty associated data: ciphertext || tag.</summary>
    private static byte[] ChaChaPoly(byte[] key, ReadOnlySpan<byte> plaintext)
    {
        using var aead = new ChaCha20Poly1305(key);
        var output = new byte[plaintext.Length + 16];
        aead.Encrypt(new byte[12], plaintext, output.AsSpan(0, plaintext.Length), output.AsSpan(plaintext.Length));
        return output;
    }

    /// <summary>HKDF(chaining_key, input_key_material, 3) of section 4.3, written out from the spec.</summary>
    private static byte[][] Hkdf(NoiseHash hash, byte[] chainingKey, byte[] inputKeyMaterial)
    {
        var tempKey = Hmac(hash, chainingKey, inputKeyMaterial);
        var output1 = Hmac(hash, tempKey, [0x01]);
        var output2 = Hmac(hash, tempKey, [.. output1, 0x02]);
        var output3 = Hmac(hash, tempKey, [.. output2, 0x03]);
        return [output1, output2, output3];
    }

    /// <summary>HMAC-SHA256 from the BCL; HMAC-BLAKE2b (block length 128) from BouncyCastle.</summary>
    private static byte[] Hmac(NoiseHash hash, byte[] key, byte[] data)
    {
        if (hash == NoiseHash.Sha256)
        {
            return HMACSHA256.HashData(key, data);
        }

        Assert.Equal(NoiseHash.Blake2b, hash);
        var mac = new HMac(new Blake2bDigest(512));
        mac.Init(new KeyParameter(key));
        mac.BlockUpdate(data, 0, data.Length);
        var output = new byte[mac.GetMacSize()];
        mac.DoFinal(output, 0);
        return output;
    }
}
