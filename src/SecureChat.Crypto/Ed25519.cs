using NSec.Cryptography;

namespace SecureChat.Crypto;

/// <summary>Ed25519 signatures (RFC 8032) through libsodium. Private keys are 32-byte seeds.</summary>
public static class Ed25519
{
    public const int PrivateKeySize = 32;
    public const int PublicKeySize = 32;
    public const int SignatureSize = 64;

    /// <summary>Creates a key pair; the private seed is returned wiping-owned.</summary>
    public static SecretBytes GenerateKeyPair(Span<byte> publicKey)
    {
        CheckSize(publicKey.Length, PublicKeySize, nameof(publicKey));
        using var key = Key.Create(SignatureAlgorithm.Ed25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        key.PublicKey.Export(KeyBlobFormat.RawPublicKey).CopyTo(publicKey);
        return SecretBytes.Adopt(key.Export(KeyBlobFormat.RawPrivateKey));
    }

    /// <summary>Computes the public key of a private seed.</summary>
    public static void DerivePublicKey(ReadOnlySpan<byte> privateKey, Span<byte> publicKey)
    {
        CheckSize(publicKey.Length, PublicKeySize, nameof(publicKey));
        using var key = Import(privateKey);
        key.PublicKey.Export(KeyBlobFormat.RawPublicKey).CopyTo(publicKey);
    }

    public static void Sign(ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> data, Span<byte> signature)
    {
        CheckSize(signature.Length, SignatureSize, nameof(signature));
        using var key = Import(privateKey);
        SignatureAlgorithm.Ed25519.Sign(key, data, signature);
    }

    /// <summary>False for a bad signature or a public key that is not a valid point: hostile input is not an error.</summary>
    public static bool Verify(ReadOnlySpan<byte> publicKey, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        if (publicKey.Length != PublicKeySize || signature.Length != SignatureSize)
        {
            return false;
        }

        return PublicKey.TryImport(SignatureAlgorithm.Ed25519, publicKey, KeyBlobFormat.RawPublicKey, out var key)
            && SignatureAlgorithm.Ed25519.Verify(key!, data, signature);
    }

    private static Key Import(ReadOnlySpan<byte> privateKey)
    {
        CheckSize(privateKey.Length, PrivateKeySize, nameof(privateKey));
        return Key.Import(SignatureAlgorithm.Ed25519, privateKey, KeyBlobFormat.RawPrivateKey);
    }

    private static void CheckSize(int actual, int expected, string name)
    {
        if (actual != expected)
        {
            throw new ArgumentException($"Expected {expected} bytes, got {actual}.", name);
        }
    }
}
