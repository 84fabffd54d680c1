namespace SecureChat.Protocol.Channel;

/// <summary>Why a secure channel could not be opened or was closed.</summary>
public enum ChannelError
{
    /// <summary>The peer is not a SecureChat node, or speaks a version this one does not.</summary>
    UnsupportedPeer,

    /// <summary>A handshake message failed authentication or was malformed.</summary>
    HandshakeFailed,

    /// <summary>The peer closed the connection before the handshake finished.</summary>
    ClosedDuringHandshake,

    /// <summary>The handshake did not finish in time.</summary>
    HandshakeTimeout,

    /// <summary>The peer's certificate or payload is invalid.</summary>
    InvalidPeerCertificate,

    /// <summary>The peer presented a key other than the one pinned for it.</summary>
    PeerKeyMismatch,

    /// <summary>A frame announced a length above the maximum frame size.</summary>
    FrameTooLarge,

    /// <summary>The connection ended in the middle of a frame.</summary>
    TruncatedFrame,

    /// <summary>A transport frame failed authentication: tampered, replayed, reordered or forged.</summary>
    AuthenticationFailed,

    /// <summary>A frame decrypted but its content breaks the protocol.</summary>
    ProtocolViolation,

    /// <summary>The connection ended without a close frame.</summary>
    ConnectionLost,

    /// <summary>The peer's account is one this node's person refused (blocked, or too many strangers asking).</summary>
    PeerRefused,
}

/// <summary>A broken channel or protocol violation, with a sentence a person can act on.</summary>
public sealed class ChannelException : Exception
{
    public ChannelException(ChannelError error, string message)
        : base(message)
    {
        Error = error;
    }

    public ChannelException(ChannelError error, string message, Exception innerException)
        : base(message, innerException)
    {
        Error = error;
    }

    public ChannelException()
        : this(ChannelError.ProtocolViolation, "The secure channel failed.")
    {
    }

    public ChannelException(string message)
        : this(ChannelError.ProtocolViolation, message)
    {
    }

    public ChannelException(string message, Exception innerException)
        : this(ChannelError.ProtocolViolation, message, innerException)
    {
    }

    public ChannelError Error { get; }
}
