using System.Security.Cryptography;
using SecureChat.Crypto;
using SecureChat.Protocol.Discovery;
using SecureChat.Protocol.Identity;

namespace SecureChat.Protocol.Tests.Discovery;

/// <summary>The secret two accounts share without having talked (docs/discovery.md section 2).</summary>
public sealed class PairSecretTests : IDisposable
{
    private readonly DiscoveryAccount _alice = new();
    private readonly DiscoveryAccount _bob = new();
    private readonly DiscoveryAccount _carol = new();

    public void Dispose()
    {
        _alice.Dispose();
        _bob.Dispose();
        _carol.Dispose();
    }

    [Fact]
    public void Derive_EachSideWithTheOther_SameSecret()
    {
        for (var i = 0; i < 32; i++)
        {
            using var alice = new DiscoveryAccount();
            using var bob = new DiscoveryAccount();

            using var fromAlice = PairSecret.Derive(alice.Seed, alice.Id, bob.Id);
            using var fromBob = PairSecret.Derive(bob.Seed, bob.Id, alice.Id);

            Assert.NotNull(fromAlice);
            Assert.NotNull(fromBob);
            Assert.Equal(PairSecret.Size, fromAlice.Length);
            Assert.Equal(fromAlice.Span.ToArray(), fromBob.Span.ToArray());
        }
    }

    [Fact]
    public void Derive_AnyPair_MatchesSpecification()
    {
        using var secret = _alice.PairWith(_bob);

        // dh = X25519(own mapped seed, other's mapped key); HKDF-SHA256 with both keys, lower first.
        var (privateKey, otherKey, dh) = (new byte[32], new byte[32], new byte[32]);
        X25519.FromEd25519PrivateKey(_alice.Seed, privateKey);
        Assert.True(X25519.TryFromEd25519PublicKey(_bob.Id.PublicKey, otherKey));
        Assert.True(X25519.TryAgree(privateKey, otherKey, dh));
        var aliceFirst = _alice.Id.PublicKey.SequenceCompareTo(_bob.Id.PublicKey) < 0;
        byte[] info = aliceFirst ? [.. _alice.Id.PublicKey, .. _bob.Id.PublicKey] : [.. _bob.Id.PublicKey, .. _alice.Id.PublicKey];
        var expected = HKDF.DeriveKey(HashAlgorithmName.SHA256, dh, 32, "SecureChat pair secret v1"u8.ToArray(), info);

        Assert.Equal(expected, secret.Span.ToArray());
    }

    [Fact]
    public void Derive_AnotherPair_Differs()
    {
        using var aliceBob = _alice.PairWith(_bob);
        using var aliceCarol = _alice.PairWith(_carol);
        using var bobCarol = _bob.PairWith(_carol);

        Assert.NotEqual(aliceBob.Span.ToArray(), aliceCarol.Span.ToArray());
        Assert.NotEqual(aliceBob.Span.ToArray(), bobCarol.Span.ToArray());
        Assert.NotEqual(aliceCarol.Span.ToArray(), bobCarol.Span.ToArray());
    }

    [Fact]
    public void Derive_WrongOwnSeed_DoesNotMatchContact()
    {
        // Carol claims to be alice (alice's ID, carol's seed): she does not get alice's secret with bob.
        using var real = _bob.PairWith(_alice);
        using var forged = PairSecret.Derive(_carol.Seed, _alice.Id, _bob.Id);

        Assert.NotNull(forged);
        Assert.NotEqual(real.Span.ToArray(), forged.Span.ToArray());
    }

    [Theory]
    [InlineData("0200000000000000000000000000000000000000000000000000000000000000")] // no point with y = 2
    [InlineData("0100000000000000000000000000000000000000000000000000000000000000")] // the neutral element
    [InlineData("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")] // order 2
    [InlineData("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")] // y = p, not canonical
    public void Derive_ContactKeyNotAValidPoint_ReturnsNull(string contactKey)
    {
        var contact = AccountId.FromPublicKey(Convert.FromHexString(contactKey));

        Assert.Null(PairSecret.Derive(_alice.Seed, _alice.Id, contact));
    }
}
