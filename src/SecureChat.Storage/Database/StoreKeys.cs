using System.Security.Cryptography;
using SecureChat.Crypto;

namespace SecureChat.Storage.Database;

/// <summary>
/// The keys the store derives from the data key (HKDF-SHA256, RFC 5869, one label each): one seals
/// fields, one computes the keyed lookups that let a row be found without storing what it is.
/// </summary>
internal sealed class StoreKeys : IDisposable
{
    private readonly byte[] _lookupKey;

    public StoreKeys(SecretBytes dataKey)
    {
        Span<byte> fieldKey = stackalloc byte[SecretBox.KeySize];
        _lookupKey = new byte[32];
        try
        {
            HKDF.DeriveKey(HashAlgorithmName.SHA256, dataKey.Span, fieldKey, salt: [], info: "SecureChat store fields v1"u8);
            HKDF.DeriveKey(HashAlgorithmName.SHA256, dataKey.Span, _lookupKey, salt: [], info: "SecureChat store lookup v1"u8);
            Fields = new SealingKey(fieldKey);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(fieldKey);
        }
    }

    public SealingKey Fields { get; }

    /// <summary>A 16-byte keyed digest of <paramref name="value"/> under a purpose label: equal inputs give equal lookups, and nothing else is learnt.</summary>
    public byte[] Lookup(string purpose, ReadOnlySpan<byte> value)
    {
        byte[] input = [.. System.Text.Encoding.UTF8.GetBytes(purpose), 0, .. value];
        return HMACSHA256.HashData(_lookupKey, input)[..16];
    }

    public void Dispose()
    {
        Fields.Dispose();
        CryptographicOperations.ZeroMemory(_lookupKey);
    }
}
