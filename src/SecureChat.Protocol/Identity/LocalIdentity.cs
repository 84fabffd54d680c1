using SecureChat.Crypto;

namespace SecureChat.Protocol.Identity;

/// <summary>
/// This node's keys: the account's Ed25519 key, and this device's X25519 (Noise static) and
/// Ed25519 keys with the certificate that binds them to the account. Wipes its secrets on dispose.
/// </summary>
public sealed class LocalIdentity : IDisposable
{
    private readonly SecretBytes _accountPrivateKey;
    private readonly SecretBytes _deviceAgreementPrivateKey;
    private readonly SecretBytes _deviceSigningPrivateKey;

    private LocalIdentity(
        string displayName,
        SecretBytes accountPrivateKey,
        SecretBytes deviceAgreementPrivateKey,
        SecretBytes deviceSigningPrivateKey,
        DeviceCertificate certificate)
    {
        DisplayName = displayName;
        _accountPrivateKey = accountPrivateKey;
        _deviceAgreementPrivateKey = deviceAgreementPrivateKey;
        _deviceSigningPrivateKey = deviceSigningPrivateKey;
        Certificate = certificate;
    }

    public string DisplayName { get; }

    public AccountId Account => Certificate.Account;

    public DeviceCertificate Certificate { get; }

    /// <summary>The device's X25519 private key, used as the Noise static key.</summary>
    public ReadOnlySpan<byte> DeviceAgreementPrivateKey => _deviceAgreementPrivateKey.Span;

    public ReadOnlySpan<byte> AccountPrivateKey => _accountPrivateKey.Span;

    public ReadOnlySpan<byte> DeviceSigningPrivateKey => _deviceSigningPrivateKey.Span;

    /// <summary>Creates a new account with its first device.</summary>
    public static LocalIdentity Create(string displayName, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(displayName);
        Span<byte> accountPublic = stackalloc byte[Ed25519.PublicKeySize];
        Span<byte> deviceSigningPublic = stackalloc byte[Ed25519.PublicKeySize];
        Span<byte> deviceAgreementPublic = stackalloc byte[X25519.KeySize];
        var deviceAgreementPrivate = new byte[X25519.KeySize];
        var account = Ed25519.GenerateKeyPair(accountPublic);
        var deviceSigning = Ed25519.GenerateKeyPair(deviceSigningPublic);
        X25519.GenerateKeyPair(deviceAgreementPrivate, deviceAgreementPublic);
        var certificate = DeviceCertificate.Issue(account.Span, deviceAgreementPublic, deviceSigningPublic, now);
        return new LocalIdentity(displayName, account, SecretBytes.Adopt(deviceAgreementPrivate), deviceSigning, certificate);
    }

    /// <summary>
    /// Rebuilds an identity from stored private keys and certificate. Null when the keys do not
    /// match the certificate (a corrupted or mixed-up store), which callers report as such.
    /// </summary>
    public static LocalIdentity? TryRestore(
        string displayName,
        ReadOnlySpan<byte> accountPrivateKey,
        ReadOnlySpan<byte> deviceAgreementPrivateKey,
        ReadOnlySpan<byte> deviceSigningPrivateKey,
        ReadOnlySpan<byte> certificate)
    {
        var cert = DeviceCertificate.TryDecode(certificate);
        if (cert is null
            || accountPrivateKey.Length != Ed25519.PrivateKeySize
            || deviceAgreementPrivateKey.Length != X25519.KeySize
            || deviceSigningPrivateKey.Length != Ed25519.PrivateKeySize)
        {
            return null;
        }

        Span<byte> derived = stackalloc byte[32];
        Ed25519.DerivePublicKey(accountPrivateKey, derived);
        var matches = derived.SequenceEqual(cert.Account.PublicKey);
        X25519.DerivePublicKey(deviceAgreementPrivateKey, derived);
        matches &= derived.SequenceEqual(cert.DeviceAgreementKey);
        Ed25519.DerivePublicKey(deviceSigningPrivateKey, derived);
        matches &= derived.SequenceEqual(cert.DeviceSigningKey);
        if (!matches)
        {
            return null;
        }

        return new LocalIdentity(
            displayName,
            new SecretBytes(accountPrivateKey),
            new SecretBytes(deviceAgreementPrivateKey),
            new SecretBytes(deviceSigningPrivateKey),
            cert);
    }

    public void Dispose()
    {
        _accountPrivateKey.Dispose();
        _deviceAgreementPrivateKey.Dispose();
        _deviceSigningPrivateKey.Dispose();
    }
}
