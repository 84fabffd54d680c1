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
        using var sealingKey = new SealingKey(key);
        return sealingKey.Seal(associatedData, plaintext);
    }

    /// <summary>
    /// Opens a sealed value. Returns null when it was not sealed under this key and associated data
    /// (wrong key, tampered, truncated, or moved): a failed authentication is a result, not an error.
    /// The caller owns and wipes the returned plaintext.
    /// </summary>
    public static SecretBytes? TryOpen(ReadOnlySpan<byte> key, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> sealedValue)
    {
        using var sealingKey = new SealingKey(key);
        return sealingKey.TryOpen(associatedData, sealedValue) is { } plaintext ? SecretBytes.Adopt(plaintext) : null;
    }
}
