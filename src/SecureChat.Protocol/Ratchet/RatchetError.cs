namespace SecureChat.Protocol.Ratchet;

/// <summary>
/// Why a ratchet message was not accepted. Hostile or broken input is a result, not an exception
/// (STYLE rule 3): whatever the value, a rejected message leaves the session exactly as it was.
/// </summary>
public enum RatchetError
{
    /// <summary>The message was decrypted and the session advanced.</summary>
    None = 0,

    /// <summary>
    /// The message is shorter than a header and a tag, names another header version, or carries a
    /// message number no conforming sender produces (2^32-1).
    /// </summary>
    Malformed,

    /// <summary>The header's ratchet public key is a point of small order, unusable for Diffie-Hellman.</summary>
    InvalidKey,

    /// <summary>
    /// Accepting the message would mean deriving more than <see cref="RatchetOptions.MaxSkipPerChain"/>
    /// message keys in one chain (Double Ratchet specification, section 3.5: MAX_SKIP).
    /// </summary>
    TooManySkipped,

    /// <summary>
    /// No key this session holds or can derive authenticates the message: it is forged or corrupted,
    /// it was already decrypted once (a replay; its key is gone), or its skipped key was evicted or
    /// expired.
    /// </summary>
    Unauthenticated,
}
