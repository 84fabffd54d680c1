namespace SecureChat.Protocol.Noise;

/// <summary>
/// The transport phase of a Noise session (Noise spec revision 34, section 5): the two
/// <see cref="CipherState"/>s from <c>Split()</c>, oriented for this party, and the final handshake
/// hash for channel binding (section 11.2). Transport messages use empty associated data.
/// </summary>
public sealed class NoiseTransport : IDisposable
{
    private readonly byte[] _handshakeHash;

    internal NoiseTransport(CipherState send, CipherState receive, ReadOnlySpan<byte> handshakeHash)
    {
        Send = send;
        Receive = receive;
        _handshakeHash = handshakeHash.ToArray();
    }

    /// <summary>
    /// Encrypts what this party sends. After a one-way pattern (section 7.4) the responder's
    /// <see cref="Send"/> must not be used: every operation on it throws.
    /// </summary>
    public CipherState Send { get; }

    /// <summary>
    /// Decrypts what the other party sends. After a one-way pattern the initiator's
    /// <see cref="Receive"/> must not be used: every operation on it throws.
    /// </summary>
    public CipherState Receive { get; }

    /// <summary>The handshake hash h (a copy): identical on both sides, unique to this session.</summary>
    public byte[] HandshakeHash => (byte[])_handshakeHash.Clone();

    /// <summary>Wipes both cipher keys.</summary>
    public void Dispose()
    {
        Send.Dispose();
        Receive.Dispose();
    }
}
