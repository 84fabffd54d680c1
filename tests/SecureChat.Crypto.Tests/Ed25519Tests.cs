namespace SecureChat.Crypto.Tests;

/// <summary>Ed25519 against RFC 8032, and its refusal of anything it did not sign.</summary>
public sealed class Ed25519Tests
{
    /// <summary>RFC 8032 section 7.1, TEST 1 to TEST 3: secret key (seed), public key, message, signature.</summary>
    public static TheoryData<string, string, string, string> Rfc8032Vectors { get; } = new()
    {
        {
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            string.Empty,
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        },
        {
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
        },
        {
            "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            "af82",
            "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"
        },
    };

    [Theory]
    [MemberData(nameof(Rfc8032Vectors))]
    public void DerivePublicKey_Rfc8032Section71_MatchesVector(string seed, string publicKey, string message, string signature)
    {
        _ = message;
        _ = signature;
        var derived = new byte[Ed25519.PublicKeySize];

        Ed25519.DerivePublicKey(Convert.FromHexString(seed), derived);

        Assert.Equal(publicKey, Convert.ToHexStringLower(derived));
    }

    [Theory]
    [MemberData(nameof(Rfc8032Vectors))]
    public void Sign_Rfc8032Section71_MatchesVector(string seed, string publicKey, string message, string signature)
    {
        _ = publicKey;
        var produced = new byte[Ed25519.SignatureSize];

        Ed25519.Sign(Convert.FromHexString(seed), Convert.FromHexString(message), produced);

        Assert.Equal(signature, Convert.ToHexStringLower(produced));
    }

    [Theory]
    [MemberData(nameof(Rfc8032Vectors))]
    public void Verify_Rfc8032Section71_Accepts(string seed, string publicKey, string message, string signature)
    {
        _ = seed;

        Assert.True(Ed25519.Verify(Convert.FromHexString(publicKey), Convert.FromHexString(message), Convert.FromHexString(signature)));
    }

    [Fact]
    public void Verify_AnySingleBitFlipInSignature_ReturnsFalse()
    {
        var (publicKey, message, signature) = Test3();

        foreach (var flipped in EveryBitFlip(signature))
        {
            Assert.False(Ed25519.Verify(publicKey, message, flipped));
        }
    }

    [Fact]
    public void Verify_AnySingleBitFlipInMessage_ReturnsFalse()
    {
        var (publicKey, message, signature) = Test3();

        foreach (var flipped in EveryBitFlip(message))
        {
            Assert.False(Ed25519.Verify(publicKey, flipped, signature));
        }
    }

    [Fact]
    public void Verify_AnySingleBitFlipInPublicKey_ReturnsFalse()
    {
        var (publicKey, message, signature) = Test3();

        foreach (var flipped in EveryBitFlip(publicKey))
        {
            Assert.False(Ed25519.Verify(flipped, message, signature));
        }
    }

    [Theory]
    [InlineData(0, 64)]
    [InlineData(31, 64)]
    [InlineData(33, 64)]
    [InlineData(32, 0)]
    [InlineData(32, 63)]
    [InlineData(32, 65)]
    public void Verify_WrongLengths_ReturnsFalse(int publicKeyLength, int signatureLength)
    {
        var (publicKey, message, signature) = Test3();
        var key = new byte[publicKeyLength];
        var sig = new byte[signatureLength];
        publicKey.AsSpan(0, Math.Min(publicKeyLength, publicKey.Length)).CopyTo(key);
        signature.AsSpan(0, Math.Min(signatureLength, signature.Length)).CopyTo(sig);

        Assert.False(Ed25519.Verify(key, message, sig));
    }

    [Fact]
    public void Verify_SignatureOfAnotherMessage_ReturnsFalse()
    {
        var publicKey = new byte[Ed25519.PublicKeySize];
        using var privateKey = Ed25519.GenerateKeyPair(publicKey);
        var signature = new byte[Ed25519.SignatureSize];
        Ed25519.Sign(privateKey.Span, "first"u8, signature);

        Assert.True(Ed25519.Verify(publicKey, "first"u8, signature));
        Assert.False(Ed25519.Verify(publicKey, "second"u8, signature));
    }

    [Fact]
    public void GenerateKeyPair_Twice_GivesDistinctKeysWhosePublicHalfDerivesFromTheSeed()
    {
        var publicA = new byte[Ed25519.PublicKeySize];
        var publicB = new byte[Ed25519.PublicKeySize];
        using var a = Ed25519.GenerateKeyPair(publicA);
        using var b = Ed25519.GenerateKeyPair(publicB);
        var derived = new byte[Ed25519.PublicKeySize];

        Ed25519.DerivePublicKey(a.Span, derived);

        Assert.Equal(Ed25519.PrivateKeySize, a.Length);
        Assert.Equal(publicA, derived);
        Assert.NotEqual(publicA, publicB);
        Assert.False(a.Span.SequenceEqual(b.Span));
    }

    [Theory]
    [InlineData(31)]
    [InlineData(33)]
    [InlineData(64)]
    public void Sign_PrivateKeyOfWrongSize_ThrowsArgumentException(int size)
    {
        var signature = new byte[Ed25519.SignatureSize];

        Assert.Throws<ArgumentException>(() => Ed25519.Sign(new byte[size], "m"u8, signature));
    }

    [Fact]
    public void Sign_SignatureBufferOfWrongSize_ThrowsArgumentException()
    {
        var (seed, _, _, _) = Unpack(0);

        Assert.Throws<ArgumentException>(() => Ed25519.Sign(seed, "m"u8, new byte[63]));
    }

    [Fact]
    public void GenerateKeyPair_PublicKeyBufferOfWrongSize_ThrowsArgumentException()
    {
        Assert.Throws<ArgumentException>(() => Ed25519.GenerateKeyPair(new byte[31]));
    }

    private static (byte[] PublicKey, byte[] Message, byte[] Signature) Test3()
    {
        var (_, publicKey, message, signature) = Unpack(2);
        return (publicKey, message, signature);
    }

    private static (byte[] Seed, byte[] PublicKey, byte[] Message, byte[] Signature) Unpack(int index)
    {
        var row = Rfc8032Vectors.ElementAt(index);
        return (Convert.FromHexString((string)row[0]), Convert.FromHexString((string)row[1]), Convert.FromHexString((string)row[2]), Convert.FromHexString((string)row[3]));
    }

    private static IEnumerable<byte[]> EveryBitFlip(byte[] original)
    {
        for (var bit = 0; bit < original.Length * 8; bit++)
        {
            var copy = (byte[])original.Clone();
            copy[bit / 8] ^= (byte)(1 << (bit % 8));
            yield return copy;
        }
    }
}
