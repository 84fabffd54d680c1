namespace SecureChat.Crypto;

/// <summary>Unkeyed BLAKE2b (RFC 7693) through libsodium, for fingerprints and derived identifiers.</summary>
public static class Blake2b
{
    /// <summary>BLAKE2b-256 of <paramref name="data"/>.</summary>
    public static byte[] Hash256(ReadOnlySpan<byte> data) => NSec.Cryptography.HashAlgorithm.Blake2b_256.Hash(data);

    /// <summary>BLAKE2b-512 of <paramref name="data"/>.</summary>
    public static byte[] Hash512(ReadOnlySpan<byte> data) => NSec.Cryptography.HashAlgorithm.Blake2b_512.Hash(data);
}
