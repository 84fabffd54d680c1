using SecureChat.Crypto;
using SecureChat.Protocol.Identity;

namespace SecureChat.Storage.Tests;

/// <summary>A peer's account key, and its first device's keys.</summary>
internal sealed class Peer : IDisposable
{
    /// <summary>When the peer's first device certificate was issued, unless a test says otherwise.</summary>
    public static readonly DateTimeOffset IssuedAt = new(2025, 5, 1, 9, 0, 0, TimeSpan.Zero);

    private readonly SecretBytes _accountKey;
    private readonly byte[] _agreementKey = RandomKey();
    private readonly byte[] _signingKey = RandomKey();

    private Peer(SecretBytes accountKey, byte[] accountPublic)
    {
        _accountKey = accountKey;
        Account = AccountId.FromPublicKey(accountPublic);
    }

    public AccountId Account { get; }

    public static Peer Create()
    {
        var accountPublic = new byte[Ed25519.PublicKeySize];
        return new Peer(Ed25519.GenerateKeyPair(accountPublic), accountPublic);
    }

    public DeviceCertificate Certificate(DateTimeOffset? issuedAt = null) =>
        DeviceCertificate.Issue(_accountKey.Span, _agreementKey, _signingKey, issuedAt ?? IssuedAt);

    /// <summary>The same account key vouching for another device (a reinstall, or a thief of the account key).</summary>
    public DeviceCertificate CertificateForNewDevice() =>
        DeviceCertificate.Issue(_accountKey.Span, RandomKey(), RandomKey(), IssuedAt.AddDays(1));

    public void Dispose() => _accountKey.Dispose();

    private static byte[] RandomKey()
    {
        var publicKey = new byte[X25519.KeySize];
        Span<byte> privateKey = stackalloc byte[X25519.KeySize];
        X25519.GenerateKeyPair(privateKey, publicKey);
        return publicKey;
    }
}
