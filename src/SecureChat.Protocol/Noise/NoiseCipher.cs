namespace SecureChat.Protocol.Noise;

/// <summary>The Noise cipher functions (Noise spec revision 34, section 12).</summary>
public enum NoiseCipher
{
    /// <summary><c>ChaChaPoly</c>: AEAD_CHACHA20_POLY1305 (RFC 8439); nonce = 4 zero bytes || little-endian n (section 12.3).</summary>
    ChaChaPoly,

    /// <summary><c>AESGCM</c>: AES-256-GCM with a 16-byte tag; nonce = 4 zero bytes || big-endian n (section 12.4).</summary>
    AesGcm,
}
