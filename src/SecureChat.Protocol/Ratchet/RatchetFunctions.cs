using System.Security.Cryptography;

namespace SecureChat.Protocol.Ratchet;

/// <summary>
/// The external functions of the Double Ratchet specification (section 3.1) as SecureChat fixes
/// them (docs/ratchet.md, section 2): KDF_RK is HKDF-SHA256, KDF_CK is HMAC-SHA256 with constant
/// inputs, and ENCRYPT derives a ChaCha20-Poly1305 key and nonce from the message key with
/// HKDF-SHA256. Every intermediate secret lives on the stack and is wiped before returning.
/// </summary>
internal static class RatchetFunctions
{
    public const int KeySize = 32;
    public const int TagSize = 16;

    private const int NonceSize = 12;

    private static ReadOnlySpan<byte> RootInfo => "SecureChat ratchet root v1"u8;

    private static ReadOnlySpan<byte> MessageInfo => "SecureChat ratchet message v1"u8;

    // Section 5.2's recommendation for KDF_CK: distinct single-byte inputs for the two outputs.
    private static ReadOnlySpan<byte> MessageKeyInput => [0x01];

    private static ReadOnlySpan<byte> ChainKeyInput => [0x02];

    /// <summary>
    /// KDF_RK(rk, dh_out): HKDF-SHA256 with salt = rk and ikm = dh_out, 64 bytes, split into the
    /// new root key and a chain key. <paramref name="rootKey"/> is overwritten in place.
    /// </summary>
    public static void DeriveRootKey(Span<byte> rootKey, ReadOnlySpan<byte> dhOutput, Span<byte> chainKey)
    {
        Span<byte> output = stackalloc byte[2 * KeySize];
        try
        {
            HKDF.DeriveKey(HashAlgorithmName.SHA256, dhOutput, output, rootKey, RootInfo);
            output[..KeySize].CopyTo(rootKey);
            output[KeySize..].CopyTo(chainKey);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(output);
        }
    }

    /// <summary>
    /// KDF_CK(ck): the message key is HMAC-SHA256(ck, 0x01) and the next chain key
    /// HMAC-SHA256(ck, 0x02). <paramref name="chainKey"/> is overwritten in place.
    /// </summary>
    public static void DeriveChainKey(Span<byte> chainKey, Span<byte> messageKey)
    {
        HMACSHA256.HashData(chainKey, MessageKeyInput, messageKey);
        Span<byte> next = stackalloc byte[KeySize];
        try
        {
            HMACSHA256.HashData(chainKey, ChainKeyInput, next);
            next.CopyTo(chainKey);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(next);
        }
    }

    /// <summary>
    /// ENCRYPT(mk, plaintext, ad): writes the ciphertext and the <see cref="TagSize"/>-byte tag to
    /// <paramref name="output"/>, which is exactly <c>plaintext.Length + TagSize</c> bytes.
    /// </summary>
    public static void Encrypt(ReadOnlySpan<byte> messageKey, ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> associatedData, Span<byte> output)
    {
        Span<byte> keyAndNonce = stackalloc byte[KeySize + NonceSize];
        try
        {
            DeriveAeadKey(messageKey, keyAndNonce);
            using var aead = new ChaCha20Poly1305(keyAndNonce[..KeySize]);
            aead.Encrypt(keyAndNonce[KeySize..], plaintext, output[..plaintext.Length], output[plaintext.Length..], associatedData);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(keyAndNonce);
        }
    }

    /// <summary>
    /// DECRYPT(mk, ciphertext, ad): false, with <paramref name="plaintext"/> wiped, when the
    /// ciphertext does not authenticate. <paramref name="ciphertext"/> ends with the tag and is at
    /// least <see cref="TagSize"/> bytes; <paramref name="plaintext"/> is exactly the rest.
    /// </summary>
    public static bool TryDecrypt(ReadOnlySpan<byte> messageKey, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> associatedData, Span<byte> plaintext)
    {
        Span<byte> keyAndNonce = stackalloc byte[KeySize + NonceSize];
        try
        {
            DeriveAeadKey(messageKey, keyAndNonce);
            using var aead = new ChaCha20Poly1305(keyAndNonce[..KeySize]);
            aead.Decrypt(keyAndNonce[KeySize..], ciphertext[..plaintext.Length], ciphertext[plaintext.Length..], plaintext, associatedData);
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            // A forged, corrupted or replayed message is hostile input, reported as a result.
            CryptographicOperations.ZeroMemory(plaintext);
            return false;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(keyAndNonce);
        }
    }

    // Every message key encrypts exactly one message, so a nonce derived with the key is never
    // reused under it (section 5.2 recommends the same derivation of key and IV from mk).
    private static void DeriveAeadKey(ReadOnlySpan<byte> messageKey, Span<byte> keyAndNonce)
    {
        Span<byte> salt = stackalloc byte[KeySize];
        salt.Clear();
        HKDF.DeriveKey(HashAlgorithmName.SHA256, messageKey, keyAndNonce, salt, MessageInfo);
    }
}
