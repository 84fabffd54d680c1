using System.Buffers.Binary;

namespace SecureChat.Protocol.Ratchet;

/// <summary>
/// The header of a ratchet message (Double Ratchet specification, section 3.1: HEADER(dh_pair, pn, n)),
/// sent in clear and authenticated as associated data. Fixed size, integers big-endian:
/// <code>
/// +---------+--------------- ... ---------+------------+------------+-------------- ... ---+
/// | version | dh: ratchet public key (32) | pn (u32 BE)| n (u32 BE) | ciphertext || tag(16)|
/// +---------+--------------- ... ---------+------------+------------+-------------- ... ---+
///  0         1                             33           37           41
/// </code>
/// version is 1; dh is the sender's current ratchet public key (X25519); pn is the number of
/// messages in the sender's previous sending chain; n is this message's number in the current one.
/// </summary>
internal readonly record struct RatchetHeader(RatchetPublicKey PublicKey, uint PreviousChainLength, uint MessageNumber)
{
    public const int Size = 1 + RatchetPublicKey.Size + 4 + 4;
    public const byte Version = 1;

    // A sender refuses to encrypt once n would reach 2^32-1 (RatchetSession.Encrypt), so the highest
    // number a message carries is 2^32-2, and the receiving count n+1 always fits in 32 bits.
    public const uint MaxMessageNumber = uint.MaxValue - 1;

    private const int PublicKeyOffset = 1;
    private const int PreviousChainLengthOffset = PublicKeyOffset + RatchetPublicKey.Size;
    private const int MessageNumberOffset = PreviousChainLengthOffset + 4;

    public void WriteTo(Span<byte> destination)
    {
        destination[0] = Version;
        PublicKey.CopyTo(destination.Slice(PublicKeyOffset, RatchetPublicKey.Size));
        BinaryPrimitives.WriteUInt32BigEndian(destination[PreviousChainLengthOffset..], PreviousChainLength);
        BinaryPrimitives.WriteUInt32BigEndian(destination[MessageNumberOffset..], MessageNumber);
    }

    /// <summary>
    /// Reads the header at the start of <paramref name="message"/>. False when the message cannot
    /// hold a header and a tag, names another version, or carries a message number above
    /// <see cref="MaxMessageNumber"/>. The public key is not checked here.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> message, out RatchetHeader header)
    {
        header = default;
        if (message.Length < Size + RatchetFunctions.TagSize || message[0] != Version)
        {
            return false;
        }

        var messageNumber = BinaryPrimitives.ReadUInt32BigEndian(message[MessageNumberOffset..]);
        if (messageNumber > MaxMessageNumber)
        {
            return false;
        }

        header = new RatchetHeader(
            RatchetPublicKey.Read(message.Slice(PublicKeyOffset, RatchetPublicKey.Size)),
            BinaryPrimitives.ReadUInt32BigEndian(message[PreviousChainLengthOffset..]),
            messageNumber);
        return true;
    }
}
