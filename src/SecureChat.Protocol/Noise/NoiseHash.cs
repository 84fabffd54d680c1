namespace SecureChat.Protocol.Noise;

/// <summary>The Noise hash functions (Noise spec revision 34, sections 12.5 to 12.8).</summary>
public enum NoiseHash
{
    /// <summary><c>SHA256</c>: HASHLEN 32, BLOCKLEN 64.</summary>
    Sha256,

    /// <summary><c>SHA512</c>: HASHLEN 64, BLOCKLEN 128.</summary>
    Sha512,

    /// <summary><c>BLAKE2b</c> with a 64-byte digest: HASHLEN 64, BLOCKLEN 128.</summary>
    Blake2b,

    /// <summary><c>BLAKE2s</c> with a 32-byte digest: HASHLEN 32, BLOCKLEN 64.</summary>
    Blake2s,
}
