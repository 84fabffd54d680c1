using System.Security.Cryptography;
using System.Text;
using SecureChat.Crypto;
using SecureChat.Protocol.Ratchet;

namespace SecureChat.Protocol.Tests.Ratchet;

/// <summary>
/// The test vector of docs/ratchet.md, section 7: Alice's first message from fixed keys, checked
/// against the session, against the functions of section 2 computed here step by step, and against
/// Bob. (The same bytes were also reproduced with Python's cryptography package, an OpenSSL build
/// independent of libsodium.)
/// </summary>
public sealed class RatchetVectorTests
{
    private const string BobRatchetPublicKey = "79a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a";
    private const string AliceRatchetPublicKey = "675dd574ed7789310b3d2e7681f3790b466c773b1521fecf36577958371ea52f";
    private const string DhOutput = "d6fb939511b2381bc8599b4b8edc5968829450dfd7a87aebe78a703cd04cd54e";
    private const string RootKey = "52afa9613d03dea3374aa9745abcbeb9da8ab5486584c956dfc36a3fcab01835";
    private const string SendingChainKey = "61d1097c611e1b0492c0e8b0213f21a17ad4ed6b00dab6d57091c4111cf67146";
    private const string MessageKey = "1982b7e04e909690cf6913a4b1766ed00537dd426606ca71e131b13a80512d13";
    private const string NextSendingChainKey = "8ea57351e798daf6e88674c7febf8d5cdc9ea8de7a4adc3298f94f9e11ea0345";
    private const string AeadKey = "1823f123ab33a529483f1aff379df8a84460ac96c454d41b58b4fe6307b5f51f";
    private const string AeadNonce = "f21eeffe66c8bd5f15f8e1f1";
    private const string Header = "01" + AliceRatchetPublicKey + "00000000" + "00000000";
    private const string FirstMessage = Header + "debb7d96378fbdbad5b2b2" + "b294806973736eedea38b01181c2d76c"; // ciphertext, tag

    private static readonly byte[] AliceRatchetPrivateKey = Enumerable.Range(0x60, 32).Select(i => (byte)i).ToArray();
    private static readonly byte[] Plaintext = "Hello, Bob!"u8.ToArray();

    [Fact]
    public void Encrypt_FixedKeys_IsTheTestVector()
    {
        using var alice = RatchetSession.InitializeAlice(RatchetPair.SharedSecret, Hex(BobRatchetPublicKey), RatchetPair.AssociatedData, AliceRatchetPrivateKey);

        Assert.Equal(FirstMessage, Convert.ToHexStringLower(alice.Encrypt(Plaintext)));
    }

    [Fact]
    public void TestVector_FromTheSpecifiedFunctions_IsReproduced()
    {
        var bobPublicKey = new byte[32];
        var alicePublicKey = new byte[32];
        var dhOutput = new byte[32];
        X25519.DerivePublicKey(RatchetPair.BobRatchetPrivateKey, bobPublicKey);
        X25519.DerivePublicKey(AliceRatchetPrivateKey, alicePublicKey);
        Assert.True(X25519.TryAgree(AliceRatchetPrivateKey, bobPublicKey, dhOutput));
        // KDF_RK: HKDF-SHA256(salt = SK, ikm = DH output, info), 64 bytes = RK || CKs.
        var rootOutput = HKDF.DeriveKey(HashAlgorithmName.SHA256, dhOutput, 64, RatchetPair.SharedSecret, Encoding.ASCII.GetBytes("SecureChat ratchet root v1"));
        // KDF_CK: HMAC-SHA256(CKs, 0x01) and HMAC-SHA256(CKs, 0x02).
        var messageKey = HMACSHA256.HashData(rootOutput[32..], new byte[] { 0x01 });
        var nextChainKey = HMACSHA256.HashData(rootOutput[32..], new byte[] { 0x02 });
        // ENCRYPT: HKDF-SHA256(salt = 32 zero bytes, ikm = mk, info), 44 bytes = key || nonce.
        var keyAndNonce = HKDF.DeriveKey(HashAlgorithmName.SHA256, messageKey, 44, new byte[32], Encoding.ASCII.GetBytes("SecureChat ratchet message v1"));
        var ciphertext = new byte[Plaintext.Length];
        var tag = new byte[16];
        byte[] associatedData = [.. RatchetPair.AssociatedData, .. Hex(Header)];
        using (var aead = new ChaCha20Poly1305(keyAndNonce[..32]))
        {
            aead.Encrypt(keyAndNonce[32..], Plaintext, ciphertext, tag, associatedData);
        }

        Assert.Equal(BobRatchetPublicKey, Convert.ToHexStringLower(bobPublicKey));
        Assert.Equal(AliceRatchetPublicKey, Convert.ToHexStringLower(alicePublicKey));
        Assert.Equal(DhOutput, Convert.ToHexStringLower(dhOutput));
        Assert.Equal(RootKey, Convert.ToHexStringLower(rootOutput[..32]));
        Assert.Equal(SendingChainKey, Convert.ToHexStringLower(rootOutput[32..]));
        Assert.Equal(MessageKey, Convert.ToHexStringLower(messageKey));
        Assert.Equal(NextSendingChainKey, Convert.ToHexStringLower(nextChainKey));
        Assert.Equal(AeadKey, Convert.ToHexStringLower(keyAndNonce[..32]));
        Assert.Equal(AeadNonce, Convert.ToHexStringLower(keyAndNonce[32..]));
        Assert.Equal(FirstMessage, Convert.ToHexStringLower([.. Hex(Header), .. ciphertext, .. tag]));
    }

    [Fact]
    public void TryDecrypt_TestVector_BobReadsThePlaintext()
    {
        using var bob = RatchetSession.InitializeBob(RatchetPair.SharedSecret, RatchetPair.BobRatchetPrivateKey, RatchetPair.AssociatedData);

        Assert.Equal("Hello, Bob!", RatchetPair.Receive(bob, Hex(FirstMessage)));
    }

    [Fact]
    public void Export_AliceAfterFirstMessage_IsTheGoldenState()
    {
        using var alice = RatchetSession.InitializeAlice(RatchetPair.SharedSecret, Hex(BobRatchetPublicKey), RatchetPair.AssociatedData, AliceRatchetPrivateKey);
        alice.Encrypt(Plaintext);

        var expected = string.Concat(
            "53434452", // "SCDR"
            "01", // format version
            "03", // DHr and CKs present, no CKr
            Convert.ToHexStringLower(AliceRatchetPrivateKey),
            AliceRatchetPublicKey,
            BobRatchetPublicKey,
            RootKey,
            NextSendingChainKey,
            new string('0', 64), // CKr absent
            "00000001", // Ns
            "00000000", // Nr
            "00000000", // PN
            "0009", // associated data length
            Convert.ToHexStringLower(RatchetPair.AssociatedData),
            "00000000"); // no skipped keys
        Assert.Equal(expected, Convert.ToHexStringLower(alice.Export()));
    }

    private static byte[] Hex(string hex) => Convert.FromHexString(hex);
}
