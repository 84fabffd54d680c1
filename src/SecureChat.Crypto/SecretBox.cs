using NSec.Cryptography;

namespace SecureChat.Crypto;

/// <summary>
/// XChaCha20-Poly1305 sealing of data at rest: <c>nonce (24) || ciphertext || tag (16)</c>, with a
/// random nonce per seal. Associated data binds a sealed value to where it is stored, so sealed
/// values cannot be swapped between places.
/// </summary>
public static class SecretBox
{
    public const int KeySize = 32;
    public const int NonceSize = 24;
    public const int TagSize = 16;
    public const int Overhead = NonceSize + TagSize;

    /// <summary>Seals <paramref name="plaintext"/> under <paramref name="key"/>.</summary>
    public static byte[] Seal(ReadOnlySpan<byte> key, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> plaintext)
    {
        var output = new byte[Overhead + plaintext.Length];
        System.Security.Cryptography.RandomNumberGenerator.Fill(output.AsSpan(0, NonceSize));
        using var k = Import(key);
        AeadAlgorithm.XChaCha20Poly1305.Encrypt(k, output.AsSpan(0, NonceSize), associatedData, plaintext, output.AsSpan(NonceSize));
        return output;
    }

    /// <summary>
    /// Opens a sealed value. Returns null when it was not sealed under this key and associated data
    /// (wrong key, tampered, truncated, or moved): a failed authentication is a result, not an error.
    /// The caller owns and wipes the returned plaintext.
    /// </summary>
    public static SecretBytes? TryOpen(ReadOnlySpan<byte> key, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> sealedValue)
    {
        if (sealedValue.Length < Overhead)
        {
            return null;
        }

        var plaintext = new byte[sealedValue.Length - Overhead];
        using var k = Import(key);
        if (!AeadAlgorithm.XChaCha20Poly1305.Decrypt(k, sealedValue[..NonceSize], associatedData, sealedValue[NonceSize..], plaintext))
        {
            return null;
        }

        return SecretBytes.Adopt(plaintext);
    }

    private static Key Import(ReadOnlySpan<byte> key)
    {
        if (key.Length != KeySize)
        {
            throw new ArgumentException($"Expected a {KeySize}-byte key.", nameof(key));
        }

        return Key.Import(AeadAlgorithm.XChaCha20Poly1305, key, KeyBlobFormat.RawSymmetricKey);
    }
}
