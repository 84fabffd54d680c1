using NSec.Cryptography;

namespace SecureChat.Crypto;

/// <summary>
/// An XChaCha20-Poly1305 key for sealing values: <c>nonce (24, random) || ciphertext || tag (16)</c>.
/// Keep one to seal many values (the store's fields): importing a key costs far more than sealing a
/// short value. <see cref="SecretBox"/> is the one-off form. Wipes the key on dispose.
/// </summary>
public sealed class SealingKey : IDisposable
{
    private readonly Key _key;

    public SealingKey(ReadOnlySpan<byte> key)
    {
        if (key.Length != SecretBox.KeySize)
        {
            throw new ArgumentException($"Expected a {SecretBox.KeySize}-byte key.", nameof(key));
        }

        _key = Key.Import(AeadAlgorithm.XChaCha20Poly1305, key, KeyBlobFormat.RawSymmetricKey);
    }

    public byte[] Seal(ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> plaintext)
    {
        var output = new byte[SecretBox.Overhead + plaintext.Length];
        System.Security.Cryptography.RandomNumberGenerator.Fill(output.AsSpan(0, SecretBox.NonceSize));
        AeadAlgorithm.XChaCha20Poly1305.Encrypt(_key, output.AsSpan(0, SecretBox.NonceSize), associatedData, plaintext, output.AsSpan(SecretBox.NonceSize));
        return output;
    }

    /// <summary>The plaintext, or null when the value was not sealed under this key and associated data.</summary>
    public byte[]? TryOpen(ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> sealedValue)
    {
        if (sealedValue.Length < SecretBox.Overhead)
        {
            return null;
        }

        var plaintext = new byte[sealedValue.Length - SecretBox.Overhead];
        return AeadAlgorithm.XChaCha20Poly1305.Decrypt(_key, sealedValue[..SecretBox.NonceSize], associatedData, sealedValue[SecretBox.NonceSize..], plaintext)
            ? plaintext
            : null;
    }

    public void Dispose() => _key.Dispose();
}
