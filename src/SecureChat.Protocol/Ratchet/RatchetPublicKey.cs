using System.Buffers.Binary;
using SecureChat.Crypto;

namespace SecureChat.Protocol.Ratchet;

/// <summary>
/// A ratchet public key (X25519, 32 bytes) held by value and compared by content, so that it can
/// name a receiving chain in the table of skipped message keys. Public keys are not secret.
/// </summary>
internal readonly record struct RatchetPublicKey
{
    public const int Size = X25519.KeySize;

    private readonly ulong _word0;
    private readonly ulong _word1;
    private readonly ulong _word2;
    private readonly ulong _word3;

    private RatchetPublicKey(ulong word0, ulong word1, ulong word2, ulong word3)
    {
        _word0 = word0;
        _word1 = word1;
        _word2 = word2;
        _word3 = word3;
    }

    /// <exception cref="ArgumentException"><paramref name="bytes"/> is not <see cref="Size"/> bytes.</exception>
    public static RatchetPublicKey Read(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
        {
            throw new ArgumentException($"A ratchet public key is {Size} bytes, got {bytes.Length}.", nameof(bytes));
        }

        return new RatchetPublicKey(
            BinaryPrimitives.ReadUInt64LittleEndian(bytes),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes[8..]),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes[16..]),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes[24..]));
    }

    public void CopyTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(destination, _word0);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], _word1);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[16..], _word2);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[24..], _word3);
    }

    public override string ToString()
    {
        Span<byte> bytes = stackalloc byte[Size];
        CopyTo(bytes);
        return Convert.ToHexStringLower(bytes);
    }
}
