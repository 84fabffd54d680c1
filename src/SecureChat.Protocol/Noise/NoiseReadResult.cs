namespace SecureChat.Protocol.Noise;

/// <summary>
/// The outcome of reading a handshake message. Anything but <see cref="Ok"/> ends the handshake
/// (Noise spec revision 34, section 5: "the handshake has failed").
/// </summary>
public enum NoiseReadResult
{
    /// <summary>The message was read; the payload is valid.</summary>
    Ok,

    /// <summary>The message is longer than 65535 bytes or too short for its message pattern.</summary>
    Malformed,

    /// <summary>An encrypted static key or payload did not authenticate.</summary>
    AuthenticationFailed,

    /// <summary>A public key in the message is a point of small order, unusable for Diffie-Hellman.</summary>
    InvalidKey,
}
