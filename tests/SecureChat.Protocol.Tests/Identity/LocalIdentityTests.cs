using SecureChat.Crypto;

namespace SecureChat.Protocol.Identity.Tests;

/// <summary>This node's keys: created with a certificate that binds them, restored only when they match it.</summary>
public sealed class LocalIdentityTests
{
    private static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Create_NewIdentity_CertificateBindsItsKeys()
    {
        using var identity = LocalIdentity.Create("Alice", Now);
        var derived = new byte[32];

        Assert.Equal("Alice", identity.DisplayName);
        Assert.Equal(identity.Account, identity.Certificate.Account);
        Assert.Equal(Now, identity.Certificate.IssuedAt);
        Assert.Equal(identity.Certificate, DeviceCertificate.TryDecode(identity.Certificate.Encoded));
        Ed25519.DerivePublicKey(identity.AccountPrivateKey, derived);
        Assert.Equal(identity.Account.PublicKey.ToArray(), derived);
        X25519.DerivePublicKey(identity.DeviceAgreementPrivateKey, derived);
        Assert.Equal(identity.Certificate.DeviceAgreementKey.ToArray(), derived);
        Ed25519.DerivePublicKey(identity.DeviceSigningPrivateKey, derived);
        Assert.Equal(identity.Certificate.DeviceSigningKey.ToArray(), derived);
    }

    [Fact]
    public void Create_Twice_GivesDifferentAccounts()
    {
        using var a = LocalIdentity.Create("A", Now);
        using var b = LocalIdentity.Create("A", Now);

        Assert.NotEqual(a.Account, b.Account);
        Assert.False(a.DeviceAgreementPrivateKey.SequenceEqual(b.DeviceAgreementPrivateKey));
    }

    [Fact]
    public void TryRestore_ItsOwnKeys_GivesTheSameIdentity()
    {
        using var original = LocalIdentity.Create("Alice", Now);

        using var restored = LocalIdentity.TryRestore(
            "Alice", original.AccountPrivateKey, original.DeviceAgreementPrivateKey, original.DeviceSigningPrivateKey, original.Certificate.Encoded);

        Assert.NotNull(restored);
        Assert.Equal(original.Account, restored.Account);
        Assert.Equal(original.Certificate, restored.Certificate);
        Assert.True(original.AccountPrivateKey.SequenceEqual(restored.AccountPrivateKey));
        Assert.True(original.DeviceAgreementPrivateKey.SequenceEqual(restored.DeviceAgreementPrivateKey));
        Assert.True(original.DeviceSigningPrivateKey.SequenceEqual(restored.DeviceSigningPrivateKey));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void TryRestore_OneKeyFromAnotherIdentity_ReturnsNull(int which)
    {
        using var mine = LocalIdentity.Create("Alice", Now);
        using var other = LocalIdentity.Create("Mallory", Now);

        var restored = LocalIdentity.TryRestore(
            "Alice",
            which == 0 ? other.AccountPrivateKey : mine.AccountPrivateKey,
            which == 1 ? other.DeviceAgreementPrivateKey : mine.DeviceAgreementPrivateKey,
            which == 2 ? other.DeviceSigningPrivateKey : mine.DeviceSigningPrivateKey,
            mine.Certificate.Encoded);

        Assert.Null(restored);
    }

    [Fact]
    public void TryRestore_AllKeysOfAnotherIdentity_ReturnsNull()
    {
        using var mine = LocalIdentity.Create("Alice", Now);
        using var other = LocalIdentity.Create("Mallory", Now);

        Assert.Null(LocalIdentity.TryRestore("Alice", other.AccountPrivateKey, other.DeviceAgreementPrivateKey, other.DeviceSigningPrivateKey, mine.Certificate.Encoded));
    }

    [Fact]
    public void TryRestore_TamperedCertificate_ReturnsNull()
    {
        using var mine = LocalIdentity.Create("Alice", Now);
        var certificate = mine.Certificate.Encoded.ToArray();
        certificate[40] ^= 1;

        Assert.Null(LocalIdentity.TryRestore("Alice", mine.AccountPrivateKey, mine.DeviceAgreementPrivateKey, mine.DeviceSigningPrivateKey, certificate));
    }

    [Theory]
    [InlineData(31, 32, 32)]
    [InlineData(32, 33, 32)]
    [InlineData(32, 32, 0)]
    [InlineData(64, 32, 32)]
    public void TryRestore_KeyOfWrongLength_ReturnsNull(int accountSize, int agreementSize, int signingSize)
    {
        using var mine = LocalIdentity.Create("Alice", Now);

        Assert.Null(LocalIdentity.TryRestore("Alice", new byte[accountSize], new byte[agreementSize], new byte[signingSize], mine.Certificate.Encoded));
    }

    [Fact]
    public void Dispose_PrivateKeys_AreNoLongerReadable()
    {
        var identity = LocalIdentity.Create("Alice", Now);

        identity.Dispose();

        Assert.Throws<ObjectDisposedException>(() => identity.AccountPrivateKey.Length);
        Assert.Throws<ObjectDisposedException>(() => identity.DeviceAgreementPrivateKey.Length);
        Assert.Throws<ObjectDisposedException>(() => identity.DeviceSigningPrivateKey.Length);
    }
}
