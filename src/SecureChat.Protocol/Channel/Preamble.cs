namespace SecureChat.Protocol.Channel;

/// <summary>The handshake pattern an initiator chose, announced in the preamble.</summary>
public enum ChannelPattern : byte
{
    /// <summary><c>Noise_XX_25519_ChaChaPoly_BLAKE2b</c>: the responder's key is not known yet.</summary>
    XX = 1,

    /// <summary><c>Noise_IK_25519_ChaChaPoly_BLAKE2b</c>: the initiator knows the responder's static key.</summary>
    IK = 2,
}

/// <summary>
/// The eight bytes an initiator sends before its first frame:
/// <code>
///  0                   5         6         7         8
///  +-------------------+---------+---------+---------+
///  | "SCHAT" (ASCII)   | version | pattern | 0x00    |
///  +-------------------+---------+---------+---------+
/// </code>
/// It is sent in clear (the responder must know the pattern before it reads message 1) and is
/// bound into the handshake through the Noise prologue, so tampering with it fails the handshake.
/// </summary>
public static class Preamble
{
    public const int Size = 8;
    public const byte ProtocolVersion = 1;
    private static ReadOnlySpan<byte> Magic => "SCHAT"u8;
    private static ReadOnlySpan<byte> PrologueLabel => "SecureChat channel v1"u8;

    public static byte[] Encode(ChannelPattern pattern) => [.. Magic, ProtocolVersion, (byte)pattern, 0];

    /// <summary>Reads a preamble; a typed rejection for anything else.</summary>
    public static ChannelError? TryDecode(ReadOnlySpan<byte> preamble, out ChannelPattern pattern)
    {
        pattern = default;
        if (preamble.Length != Size || !preamble[..5].SequenceEqual(Magic) || preamble[7] != 0)
        {
            return ChannelError.UnsupportedPeer;
        }

        if (preamble[5] != ProtocolVersion || !Enum.IsDefined((ChannelPattern)preamble[6]))
        {
            return ChannelError.UnsupportedPeer;
        }

        pattern = (ChannelPattern)preamble[6];
        return null;
    }

    /// <summary>The Noise prologue: a fixed label followed by the preamble as sent.</summary>
    public static byte[] Prologue(ReadOnlySpan<byte> preamble) => [.. PrologueLabel, .. preamble];
}
