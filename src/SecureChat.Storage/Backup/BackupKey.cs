using System.Security.Cryptography;
using SecureChat.Crypto;

namespace SecureChat.Storage.Backup;

/// <summary>
/// The keys of one backup. Argon2id turns the backup passphrase and the header's salt into a
/// 32-byte key; HKDF-SHA256 (RFC 5869) derives from it, under one label each, the key that seals
/// the chunks and the key check the header carries. Wipes both on dispose.
/// </summary>
internal sealed class BackupKey : IDisposable
{
    private static ReadOnlySpan<byte> ChunkLabel => "SecureChat backup chunks v1"u8;

    private static ReadOnlySpan<byte> CheckLabel => "SecureChat backup check v1"u8;

    private readonly byte[] _check;

    private BackupKey(SealingKey chunks, byte[] check)
    {
        Chunks = chunks;
        _check = check;
    }

    public SealingKey Chunks { get; }

    public byte[] Check => [.. _check];

    public static BackupKey Derive(ReadOnlySpan<byte> passphrase, ReadOnlySpan<byte> salt, Argon2idParameters kdf)
    {
        using var root = PassphraseKdf.DeriveKey(passphrase, salt, kdf);
        Span<byte> chunkKey = stackalloc byte[SecretBox.KeySize];
        try
        {
            HKDF.DeriveKey(HashAlgorithmName.SHA256, root.Span, chunkKey, salt: [], ChunkLabel);
            var check = new byte[BackupHeader.KeyCheckSize];
            HKDF.DeriveKey(HashAlgorithmName.SHA256, root.Span, check, salt: [], CheckLabel);
            return new BackupKey(new SealingKey(chunkKey), check);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(chunkKey);
        }
    }

    /// <summary>Whether <paramref name="check"/> is this key's check value (in constant time).</summary>
    public bool Matches(ReadOnlySpan<byte> check) => CryptographicOperations.FixedTimeEquals(_check, check);

    public void Dispose()
    {
        Chunks.Dispose();
        CryptographicOperations.ZeroMemory(_check);
    }
}
