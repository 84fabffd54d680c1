using System.Buffers.Binary;
using NSec.Cryptography;
using SecureChat.Crypto;

namespace SecureChat.Bench.Search;

/// <summary>
/// The two keys a searchable store needs, derived from the data key (itself from Argon2id): one
/// seals message bodies, the other blinds index tokens. Separate keys, so the index key can be
/// rotated (the index rebuilt) without touching the messages. Imported once: sealing a million
/// values through <see cref="SecretBox"/> would import the key a million times.
/// </summary>
public sealed class SearchKeys : IDisposable
{
    private static readonly AeadAlgorithm Aead = AeadAlgorithm.XChaCha20Poly1305;

    private SearchKeys(Key messages, Key index)
    {
        Messages = messages;
        Index = index;
    }

    /// <summary>XChaCha20-Poly1305, for message bodies.</summary>
    public Key Messages { get; }

    /// <summary>Keyed BLAKE2b-256, for blinded tokens.</summary>
    public Key Index { get; }

    public static SearchKeys Derive(SecretBytes dataKey)
    {
        ArgumentNullException.ThrowIfNull(dataKey);
        using var root = Key.Import(MacAlgorithm.Blake2b_256, dataKey.Span, KeyBlobFormat.RawSymmetricKey);
        Span<byte> messages = stackalloc byte[32];
        Span<byte> index = stackalloc byte[32];
        try
        {
            MacAlgorithm.Blake2b_256.Mac(root, "SecureChat search v1: message bodies"u8, messages);
            MacAlgorithm.Blake2b_256.Mac(root, "SecureChat search v1: index tokens"u8, index);
            return new SearchKeys(
                Key.Import(Aead, messages, KeyBlobFormat.RawSymmetricKey),
                Key.Import(MacAlgorithm.Blake2b_256, index, KeyBlobFormat.RawSymmetricKey));
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(messages);
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(index);
        }
    }

    /// <summary>Seals a body: <c>nonce (24) || ciphertext || tag (16)</c>, bound to the message ID.</summary>
    public byte[] Seal(long messageId, ReadOnlySpan<byte> plaintext)
    {
        Span<byte> ad = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(ad, messageId);
        return Seal(ad, plaintext);
    }

    /// <summary>Seals anything under the message key, bound to <paramref name="ad"/>.</summary>
    public byte[] Seal(ReadOnlySpan<byte> ad, ReadOnlySpan<byte> plaintext)
    {
        var output = new byte[SecretBox.Overhead + plaintext.Length];
        System.Security.Cryptography.RandomNumberGenerator.Fill(output.AsSpan(0, SecretBox.NonceSize));
        Aead.Encrypt(Messages, output.AsSpan(0, SecretBox.NonceSize), ad, plaintext, output.AsSpan(SecretBox.NonceSize));
        return output;
    }

    /// <summary>
    /// Opens a body into <paramref name="plaintext"/> (at least the sealed length less
    /// <see cref="SecretBox.Overhead"/>); false when it does not authenticate for this ID.
    /// </summary>
    public bool TryOpen(long messageId, ReadOnlySpan<byte> sealedValue, Span<byte> plaintext)
    {
        if (sealedValue.Length < SecretBox.Overhead)
        {
            return false;
        }

        Span<byte> ad = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(ad, messageId);
        return TryOpen(ad, sealedValue, plaintext);
    }

    /// <summary>Opens what <see cref="Seal(ReadOnlySpan{byte}, ReadOnlySpan{byte})"/> sealed with the same <paramref name="ad"/>.</summary>
    public bool TryOpen(ReadOnlySpan<byte> ad, ReadOnlySpan<byte> sealedValue, Span<byte> plaintext)
    {
        if (sealedValue.Length < SecretBox.Overhead)
        {
            return false;
        }

        return Aead.Decrypt(Messages, sealedValue[..SecretBox.NonceSize], ad, sealedValue[SecretBox.NonceSize..], plaintext[..(sealedValue.Length - SecretBox.Overhead)]);
    }

    public void Dispose()
    {
        Messages.Dispose();
        Index.Dispose();
    }
}
