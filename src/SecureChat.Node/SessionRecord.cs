using System.Security.Cryptography;
using SecureChat.Protocol.Ratchet;

namespace SecureChat.Node;

/// <summary>
/// The ratchet session a node keeps with one contact, as it is persisted (sealed by the store):
/// <code>
/// version (1 byte, = 1) || session ID (16) || flags (1 byte; bit 0: the peer confirmed the session) || ratchet state
/// </code>
/// The session ID is the first 16 bytes of the handshake hash of the connection that started it.
/// </summary>
internal sealed class SessionRecord : IDisposable
{
    private const byte Version = 1;
    private const int HeaderSize = 1 + SessionIdSize + 1;
    public const int SessionIdSize = 16;

    public SessionRecord(byte[] id, RatchetSession ratchet, bool peerConfirmed)
    {
        Id = id;
        Ratchet = ratchet;
        PeerConfirmed = peerConfirmed;
    }

    public byte[] Id { get; }

    public RatchetSession Ratchet { get; }

    /// <summary>True once a message of the peer in this session authenticated: it holds the session too.</summary>
    public bool PeerConfirmed { get; set; }

    /// <summary>The record's bytes; they hold secrets, and the caller wipes them once sealed.</summary>
    public byte[] Encode()
    {
        var state = Ratchet.Export();
        try
        {
            var encoded = new byte[HeaderSize + state.Length];
            encoded[0] = Version;
            Id.CopyTo(encoded, 1);
            encoded[1 + SessionIdSize] = PeerConfirmed ? (byte)1 : (byte)0;
            state.CopyTo(encoded, HeaderSize);
            return encoded;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(state);
        }
    }

    /// <summary>The record in <paramref name="encoded"/>, or null if it is not one.</summary>
    public static SessionRecord? TryDecode(ReadOnlySpan<byte> encoded, RatchetOptions options)
    {
        if (encoded.Length <= HeaderSize || encoded[0] != Version || encoded[1 + SessionIdSize] > 1)
        {
            return null;
        }

        return RatchetSession.Import(encoded[HeaderSize..], options) is { } ratchet
            ? new SessionRecord(encoded.Slice(1, SessionIdSize).ToArray(), ratchet, encoded[1 + SessionIdSize] == 1)
            : null;
    }

    public void Dispose() => Ratchet.Dispose();
}
