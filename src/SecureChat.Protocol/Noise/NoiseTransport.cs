namespace SecureChat.Protocol.Noise;

/// <summary>
/// The transport phase of a Noise session (Noise spec revision 34, section 5): the two
/// <see cref="CipherState"/>s from <c>Split()</c>, oriented for this party, and the final handshake
/// hash for channel binding (section 11.2). Transport messages use empty associated data.
/// </summary>
public sealed class NoiseTransport : IDisposable
{
    private readonly byte[] _handshakeHash;

    internal NoiseTransport(CipherState send, CipherState receive, ReadOnlySpan<byte> handshakeHash, Crypto.SecretBytes exporterSecret)
    {
        Send = send;
        Receive = receive;
        _handshakeHash = handshakeHash.ToArray();
        ExporterSecret = exporterSecret;
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

    /// <summary>
    /// A 32-byte secret both parties share after the handshake, independent of the transport keys:
    /// the third output of Split's HKDF (an extension; the spec's Split uses the first two). It
    /// inherits the handshake's authentication and forward secrecy, so protocols above the channel
    /// can derive their own keys from it.
    /// </summary>
    public Crypto.SecretBytes ExporterSecret { get; }

    /// <summary>Wipes both cipher keys and the exporter secret.</summary>
    public void Dispose()
    {
        Send.Dispose();
        Receive.Dispose();
        ExporterSecret.Dispose();
    }
}
