using System.Numerics;
using CsCheck;

namespace SecureChat.Crypto.Tests;

/// <summary>
/// The Ed25519 → X25519 mapping discovery builds the pair secret on (docs/discovery.md section 2):
/// the public map (RFC 7748 section 4.1) and the private one (clamped first half of SHA-512 of the
/// seed) meet on the same key, and keys that are not points of the prime-order group are refused.
/// </summary>
public sealed class X25519FromEd25519Tests
{
    // libsodium test/default/ed25519_convert.c and .exp.
    private const string LibsodiumSeed = "421151a459faeade3d247115f94aedae42318124095afabe4d1451a559faedee";
    private const string LibsodiumX25519Private = "8052030376d47112be7f73ed7a019293dd12ad910b654455798b4667d73de166";
    private const string LibsodiumX25519Public = "f1814f0e8ff1043d8a44d25babff3cedcae6c22c3edaa48f857ae70de2baae50";

    // RFC 8032 section 7.1, TEST 1.
    private const string Rfc8032Seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    private const string Rfc8032Public = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    private const string Rfc8032X25519Public = "d85e07ec22b0ad881537c2f44d662d1a143cf830c57aca4305d85c7a90f6b62e";

    private static readonly BigInteger P = BigInteger.Pow(2, 255) - 19;

    [Fact]
    public void FromEd25519PrivateKey_LibsodiumVector_MatchesBothKeys()
    {
        var seed = Convert.FromHexString(LibsodiumSeed);
        var (edPublic, xPrivate, xPublic) = (new byte[32], new byte[32], new byte[32]);
        Ed25519.DerivePublicKey(seed, edPublic);

        X25519.FromEd25519PrivateKey(seed, xPrivate);

        Assert.Equal(LibsodiumX25519Private, Convert.ToHexStringLower(xPrivate));
        Assert.True(X25519.TryFromEd25519PublicKey(edPublic, xPublic));
        Assert.Equal(LibsodiumX25519Public, Convert.ToHexStringLower(xPublic));
    }

    [Fact]
    public void TryFromEd25519PublicKey_Rfc8032Test1Key_MatchesPrivateSideMapping()
    {
        var (fromPublic, fromPrivate, xPrivate) = (new byte[32], new byte[32], new byte[32]);

        Assert.True(X25519.TryFromEd25519PublicKey(Convert.FromHexString(Rfc8032Public), fromPublic));
        X25519.FromEd25519PrivateKey(Convert.FromHexString(Rfc8032Seed), xPrivate);
        X25519.DerivePublicKey(xPrivate, fromPrivate);

        Assert.Equal(Rfc8032X25519Public, Convert.ToHexStringLower(fromPublic));
        Assert.Equal(fromPublic, fromPrivate);
    }

    [Fact]
    public void TryFromEd25519PublicKey_RandomKeyPairs_EqualsPublicKeyOfMappedSeed()
    {
        Gen.Byte.Array[Ed25519.PrivateKeySize].Sample(seed =>
        {
            var (edPublic, mapped, xPrivate, derived) = (new byte[32], new byte[32], new byte[32], new byte[32]);
            Ed25519.DerivePublicKey(seed, edPublic);

            Assert.True(X25519.TryFromEd25519PublicKey(edPublic, mapped));
            X25519.FromEd25519PrivateKey(seed, xPrivate);
            X25519.DerivePublicKey(xPrivate, derived);

            Assert.Equal(derived, mapped);

            // RFC 7748 section 5 clamping: the mapped private key is a ready X25519 scalar.
            Assert.Equal(0, xPrivate[0] & 7);
            Assert.Equal(0x40, xPrivate[31] & 0xC0);
        });
    }

    [Fact]
    public void TryFromEd25519PublicKey_TwoMappedAccounts_AgreeOnSecret()
    {
        var (alicePublic, bobPublic) = (new byte[32], new byte[32]);
        using var alice = Ed25519.GenerateKeyPair(alicePublic);
        using var bob = Ed25519.GenerateKeyPair(bobPublic);
        var (alicePrivateX, bobPrivateX, alicePublicX, bobPublicX) = (new byte[32], new byte[32], new byte[32], new byte[32]);
        X25519.FromEd25519PrivateKey(alice.Span, alicePrivateX);
        X25519.FromEd25519PrivateKey(bob.Span, bobPrivateX);
        Assert.True(X25519.TryFromEd25519PublicKey(alicePublic, alicePublicX));
        Assert.True(X25519.TryFromEd25519PublicKey(bobPublic, bobPublicX));
        var (aliceShared, bobShared) = (new byte[32], new byte[32]);

        Assert.True(X25519.TryAgree(alicePrivateX, bobPublicX, aliceShared));
        Assert.True(X25519.TryAgree(bobPrivateX, alicePublicX, bobShared));

        Assert.Equal(aliceShared, bobShared);
        Assert.Contains(aliceShared, b => b != 0);
    }

    [Theory]
    [InlineData("0200000000000000000000000000000000000000000000000000000000000000")] // y = 2: (y² - 1) / (d·y² + 1) is not a square, no x
    [InlineData("0700000000000000000000000000000000000000000000000000000000000000")] // y = 7: likewise off the curve
    [InlineData("0100000000000000000000000000000000000000000000000000000000000000")] // y = 1: the neutral element
    [InlineData("0000000000000000000000000000000000000000000000000000000000000000")] // y = 0: order 4
    [InlineData("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")] // y = p - 1: order 2
    [InlineData("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")] // y = p ≥ p, i.e. 0
    [InlineData("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")] // y = p + 1 ≥ p, i.e. the neutral element
    [InlineData("efffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")] // y = p + 2 ≥ p, i.e. 2: off the curve
    public void TryFromEd25519PublicKey_NotAPointOfTheGroup_ReturnsFalse(string key)
    {
        Assert.False(X25519.TryFromEd25519PublicKey(Convert.FromHexString(key), new byte[32]));
    }

    [Fact]
    public void TryFromEd25519PublicKey_ValidKeyPlusPointOfOrderTwo_ReturnsFalse()
    {
        var edPublic = new byte[32];
        using var seed = Ed25519.GenerateKeyPair(edPublic);

        // (x, y) + (0, -1) = (-x, -y): on the curve, but outside the prime-order subgroup.
        var y = new BigInteger(edPublic.AsSpan(0, 32), isUnsigned: true) & ((BigInteger.One << 255) - 1);
        var signOfX = edPublic[31] >> 7;
        var mixed = ((P - y) % P).ToByteArray(isUnsigned: true, isBigEndian: false);
        var encoded = new byte[32];
        mixed.CopyTo(encoded, 0);
        encoded[31] |= (byte)((1 - signOfX) << 7);

        Assert.True(X25519.TryFromEd25519PublicKey(edPublic, new byte[32]));
        Assert.False(X25519.TryFromEd25519PublicKey(encoded, new byte[32]));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(31)]
    [InlineData(33)]
    [InlineData(64)]
    public void TryFromEd25519PublicKey_WrongKeySize_ReturnsFalse(int size)
    {
        var key = new byte[size];
        if (size >= 32)
        {
            using var seed = Ed25519.GenerateKeyPair(key.AsSpan(0, 32));
        }

        Assert.False(X25519.TryFromEd25519PublicKey(key, new byte[32]));
    }

    [Fact]
    public void TryFromEd25519PublicKey_RandomBytes_NeverThrows()
    {
        Gen.Byte.Array[32].Sample(key =>
        {
            var mapped = new byte[32];
            if (X25519.TryFromEd25519PublicKey(key, mapped))
            {
                Assert.True(X25519.IsValidPublicKey(mapped));
            }
        }, iter: 2000);
    }

    [Theory]
    [InlineData(31, 32)]
    [InlineData(33, 32)]
    [InlineData(32, 31)]
    [InlineData(32, 64)]
    public void FromEd25519PrivateKey_WrongSizes_ThrowsArgumentException(int seedSize, int outputSize)
    {
        Assert.Throws<ArgumentException>(() => X25519.FromEd25519PrivateKey(new byte[seedSize], new byte[outputSize]));
    }

    [Fact]
    public void TryFromEd25519PublicKey_WrongOutputSize_ThrowsArgumentException()
    {
        var edPublic = new byte[32];
        using var seed = Ed25519.GenerateKeyPair(edPublic);

        Assert.Throws<ArgumentException>(() => X25519.TryFromEd25519PublicKey(edPublic, new byte[31]));
    }
}
