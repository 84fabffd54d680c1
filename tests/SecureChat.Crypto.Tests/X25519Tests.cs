namespace SecureChat.Crypto.Tests;

/// <summary>X25519 against RFC 7748, and its refusal of small-order points.</summary>
public sealed class X25519Tests
{
    // RFC 7748 section 6.1.
    private const string AlicePrivate = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
    private const string AlicePublic = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
    private const string BobPrivate = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
    private const string BobPublic = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
    private const string SharedSecret = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

    [Theory]
    [InlineData(AlicePrivate, AlicePublic)]
    [InlineData(BobPrivate, BobPublic)]
    public void DerivePublicKey_Rfc7748Section61_MatchesVector(string privateKey, string publicKey)
    {
        var derived = new byte[X25519.KeySize];

        X25519.DerivePublicKey(Convert.FromHexString(privateKey), derived);

        Assert.Equal(publicKey, Convert.ToHexStringLower(derived));
    }

    [Theory]
    [InlineData(AlicePrivate, BobPublic)]
    [InlineData(BobPrivate, AlicePublic)]
    public void TryAgree_Rfc7748Section61_MatchesSharedSecret(string privateKey, string publicKey)
    {
        var shared = new byte[X25519.KeySize];

        Assert.True(X25519.TryAgree(Convert.FromHexString(privateKey), Convert.FromHexString(publicKey), shared));
        Assert.Equal(SharedSecret, Convert.ToHexStringLower(shared));
    }

    [Fact]
    public void TryAgree_Rfc7748Section52_MatchesFirstVector()
    {
        var scalar = Convert.FromHexString("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
        var u = Convert.FromHexString("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
        var output = new byte[X25519.KeySize];

        Assert.True(X25519.TryAgree(scalar, u, output));
        Assert.Equal("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552", Convert.ToHexStringLower(output));
    }

    [Theory]
    [InlineData("0000000000000000000000000000000000000000000000000000000000000000")] // u = 0, order 4
    [InlineData("0100000000000000000000000000000000000000000000000000000000000000")] // u = 1, order 1
    [InlineData("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")] // order 8
    [InlineData("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")] // u = p - 1, order 2
    [InlineData("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")] // u = p, i.e. 0
    [InlineData("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")] // u = p + 1, i.e. 1
    public void TryAgree_SmallOrderPoint_ReturnsFalseAndWipesOutput(string publicKey)
    {
        var shared = Enumerable.Repeat((byte)0xAA, X25519.KeySize).ToArray();

        Assert.False(X25519.TryAgree(Convert.FromHexString(AlicePrivate), Convert.FromHexString(publicKey), shared));
        Assert.All(shared, b => Assert.Equal(0, b));
        Assert.False(X25519.IsValidPublicKey(Convert.FromHexString(publicKey)));
    }

    /// <summary>The scalar multiplication the table replaces: small order exactly when an agreement with a fixed (clamped) scalar fails.</summary>
    private static bool AgreesWithAFixedScalar(byte[] publicKey) =>
        X25519.TryAgree(Enumerable.Repeat((byte)0x55, X25519.KeySize).ToArray(), publicKey, new byte[X25519.KeySize]);

    [Theory]
    [InlineData("0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("0100000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")]
    [InlineData("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157")]
    [InlineData("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")]
    [InlineData("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")]
    [InlineData("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")]
    public void IsValidPublicKey_EverySmallOrderEncodingWithTheTopBitEitherWay_IsRefusedAsAnAgreementRefusesIt(string hex)
    {
        var key = Convert.FromHexString(hex);
        var flipped = key.ToArray();
        flipped[^1] ^= 0x80;

        foreach (var encoding in new[] { key, flipped })
        {
            Assert.False(AgreesWithAFixedScalar(encoding));
            Assert.False(X25519.IsValidPublicKey(encoding));
        }
    }

    [Fact]
    public void IsValidPublicKey_RandomKeysAndNeighboursOfTheSmallOrderOnes_AgreesWithTheScalarMultiplication()
    {
        var keys = Enumerable.Range(0, 2_000).Select(_ => System.Security.Cryptography.RandomNumberGenerator.GetBytes(X25519.KeySize)).ToList();
        string[] smallOrder =
        [
            "0000000000000000000000000000000000000000000000000000000000000000",
            "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ];
        foreach (var hex in smallOrder)
        {
            for (var delta = -3; delta <= 3; delta++)
            {
                var neighbour = Convert.FromHexString(hex);
                neighbour[0] = (byte)(neighbour[0] + delta);
                keys.Add(neighbour);
            }
        }

        Assert.All(keys, key => Assert.Equal(AgreesWithAFixedScalar(key), X25519.IsValidPublicKey(key)));
    }

    [Fact]
    public void GenerateKeyPair_TwoParties_AgreeOnSecret()
    {
        var (alicePrivate, alicePublic) = (new byte[32], new byte[32]);
        var (bobPrivate, bobPublic) = (new byte[32], new byte[32]);
        X25519.GenerateKeyPair(alicePrivate, alicePublic);
        X25519.GenerateKeyPair(bobPrivate, bobPublic);
        var (aliceShared, bobShared) = (new byte[32], new byte[32]);

        Assert.True(X25519.TryAgree(alicePrivate, bobPublic, aliceShared));
        Assert.True(X25519.TryAgree(bobPrivate, alicePublic, bobShared));
        Assert.Equal(aliceShared, bobShared);
        Assert.NotEqual(alicePrivate, bobPrivate);
        Assert.True(X25519.IsValidPublicKey(alicePublic));
    }

    [Fact]
    public void TryAgree_WrongSizes_Throws()
    {
        Assert.Throws<ArgumentException>(() => X25519.TryAgree(new byte[31], new byte[32], new byte[32]));
        Assert.Throws<ArgumentException>(() => X25519.TryAgree(new byte[32], new byte[33], new byte[32]));
        Assert.Throws<ArgumentException>(() => X25519.TryAgree(new byte[32], new byte[32], new byte[16]));
        Assert.False(X25519.IsValidPublicKey(new byte[31]));
    }
}
