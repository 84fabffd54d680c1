using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using SecureChat.Crypto;

namespace SecureChat.Protocol.Ratchet;

/// <summary>
/// The exported state of a <see cref="RatchetSession"/> (docs/ratchet.md, section 5). Fixed-size
/// fields, integers big-endian, absent keys written as zeros and flagged:
/// <code>
/// offset  size  field
///      0     4  magic "SCDR"
///      4     1  format version = 1
///      5     1  flags: 0x01 DHr present, 0x02 CKs present, 0x04 CKr present; other bits zero
///      6    32  DHs private key
///     38    32  DHs public key
///     70    32  DHr (zeros if absent)
///    102    32  RK
///    134    32  CKs (zeros if absent)
///    166    32  CKr (zeros if absent)
///    198     4  Ns
///    202     4  Nr
///    206     4  PN
///    210     2  L: length of the associated data, at most 1024
///    212     L  associated data
///  212+L     4  K: number of skipped message keys, at most 100,000
///  216+L  76*K  skipped keys, oldest first, each:
///               ratchet public key (32) || n (4) || stored at, UTC ticks (8) || message key (32)
/// </code>
/// Exactly 216 + L + 76K bytes. Reading checks everything a real session could not produce.
/// </summary>
internal static class RatchetStateFormat
{
    public const int MaxSkippedKeys = 100_000;

    private const byte FormatVersion = 1;
    private const byte HasReceivingPublicKey = 0x01;
    private const byte HasSendingChain = 0x02;
    private const byte HasReceivingChain = 0x04;
    private const int KeySize = RatchetSession.KeySize;
    private const int VersionOffset = 4;
    private const int FlagsOffset = 5;
    private const int SendingPrivateKeyOffset = 6;
    private const int SendingPublicKeyOffset = 38;
    private const int ReceivingPublicKeyOffset = 70;
    private const int RootKeyOffset = 102;
    private const int SendingChainKeyOffset = 134;
    private const int ReceivingChainKeyOffset = 166;
    private const int SendingCountOffset = 198;
    private const int ReceivingCountOffset = 202;
    private const int PreviousSendingCountOffset = 206;
    private const int AssociatedDataLengthOffset = 210;
    private const int AssociatedDataOffset = 212;

    // Everything but the associated data and the skipped keys, counting the skipped-key count.
    private const int FixedSize = AssociatedDataOffset + 4;
    private const int SkippedKeySize = KeySize + 4 + 8 + KeySize;

    private static ReadOnlySpan<byte> Magic => "SCDR"u8;

    public static byte[] Write(RatchetState state, SkippedMessageKeys skipped, ReadOnlySpan<byte> associatedData)
    {
        var output = new byte[FixedSize + associatedData.Length + (skipped.Count * SkippedKeySize)];
        var writer = new SpanWriter(output);
        writer.Write(Magic);
        writer.Write(FormatVersion);
        writer.Write((byte)((state.ReceivingPublicKey is null ? 0 : HasReceivingPublicKey)
            | (state.SendingChainKey is null ? 0 : HasSendingChain)
            | (state.ReceivingChainKey is null ? 0 : HasReceivingChain)));
        writer.Write(state.SendingPrivateKey);
        writer.Write(state.SendingPublicKey);
        writer.Write(state.ReceivingPublicKey ?? default);
        writer.Write(state.RootKey);
        writer.WriteOrZeros(state.SendingChainKey);
        writer.WriteOrZeros(state.ReceivingChainKey);
        writer.Write(state.SendingCount);
        writer.Write(state.ReceivingCount);
        writer.Write(state.PreviousSendingCount);
        writer.Write((ushort)associatedData.Length);
        writer.Write(associatedData);
        writer.Write((uint)skipped.Count);
        foreach (var key in skipped.OldestFirst)
        {
            writer.Write(key.Chain);
            writer.Write(key.MessageNumber);
            writer.Write(key.StoredAt.UtcTicks);
            writer.Write(key.Key);
        }

        return output;
    }

    /// <summary>
    /// Reads an exported state; false for anything <see cref="Write"/> cannot have produced. Keeps at
    /// most <paramref name="capacity"/> skipped keys, the newest. Never throws.
    /// </summary>
    public static bool TryRead(
        ReadOnlySpan<byte> input,
        int capacity,
        [NotNullWhen(true)] out RatchetState? state,
        [NotNullWhen(true)] out SkippedMessageKeys? skipped,
        [NotNullWhen(true)] out byte[]? associatedData)
    {
        state = null;
        skipped = null;
        associatedData = null;
        if (input.Length < FixedSize || !input[..4].SequenceEqual(Magic) || input[VersionOffset] != FormatVersion)
        {
            return false;
        }

        var flags = input[FlagsOffset];
        var associatedDataLength = BinaryPrimitives.ReadUInt16BigEndian(input[AssociatedDataLengthOffset..]);
        if (associatedDataLength > RatchetSession.MaxAssociatedDataSize || input.Length < FixedSize + associatedDataLength)
        {
            return false;
        }

        var count = BinaryPrimitives.ReadUInt32BigEndian(input[(AssociatedDataOffset + associatedDataLength)..]);
        if (count > MaxSkippedKeys || input.Length != FixedSize + associatedDataLength + ((int)count * SkippedKeySize))
        {
            return false;
        }

        var sendingPrivateKey = input.Slice(SendingPrivateKeyOffset, KeySize);
        var sendingPublicKey = input.Slice(SendingPublicKeyOffset, KeySize);
        var receivingPublicKey = input.Slice(ReceivingPublicKeyOffset, KeySize);
        var sendingChainKey = input.Slice(SendingChainKeyOffset, KeySize);
        var receivingChainKey = input.Slice(ReceivingChainKeyOffset, KeySize);
        var sendingCount = BinaryPrimitives.ReadUInt32BigEndian(input[SendingCountOffset..]);
        var receivingCount = BinaryPrimitives.ReadUInt32BigEndian(input[ReceivingCountOffset..]);
        var previousSendingCount = BinaryPrimitives.ReadUInt32BigEndian(input[PreviousSendingCountOffset..]);
        if (!IsConsistent(flags, sendingPrivateKey, sendingPublicKey, receivingPublicKey, sendingChainKey, receivingChainKey, sendingCount, receivingCount, previousSendingCount, count))
        {
            return false;
        }

        var entries = input[(FixedSize + associatedDataLength)..];
        if (!AreValidSkippedKeys(entries, (int)count))
        {
            return false;
        }

        skipped = new SkippedMessageKeys();
        for (var offset = 0; offset < entries.Length; offset += SkippedKeySize)
        {
            var entry = entries.Slice(offset, SkippedKeySize);
            skipped.Add(
                new SkippedMessageKey(
                    RatchetPublicKey.Read(entry[..KeySize]),
                    BinaryPrimitives.ReadUInt32BigEndian(entry[KeySize..]),
                    entry[(KeySize + 12)..].ToArray(),
                    new DateTimeOffset(BinaryPrimitives.ReadInt64BigEndian(entry[(KeySize + 4)..]), TimeSpan.Zero)),
                capacity);
        }

        state = new RatchetState(
            sendingPrivateKey.ToArray(),
            RatchetPublicKey.Read(sendingPublicKey),
            (flags & HasReceivingPublicKey) != 0 ? RatchetPublicKey.Read(receivingPublicKey) : null,
            input.Slice(RootKeyOffset, KeySize).ToArray(),
            (flags & HasSendingChain) != 0 ? sendingChainKey.ToArray() : null,
            (flags & HasReceivingChain) != 0 ? receivingChainKey.ToArray() : null,
            sendingCount,
            receivingCount,
            previousSendingCount);
        associatedData = input.Slice(AssociatedDataOffset, associatedDataLength).ToArray();
        return true;
    }

    // The states a session passes through: Bob before his first message has only DHs and RK; every
    // other state has DHr and CKs; a receiving chain needs DHr; counters of absent chains are zero.
    private static bool IsConsistent(
        byte flags,
        ReadOnlySpan<byte> sendingPrivateKey,
        ReadOnlySpan<byte> sendingPublicKey,
        ReadOnlySpan<byte> receivingPublicKey,
        ReadOnlySpan<byte> sendingChainKey,
        ReadOnlySpan<byte> receivingChainKey,
        uint sendingCount,
        uint receivingCount,
        uint previousSendingCount,
        uint skippedCount)
    {
        if ((flags & ~(HasReceivingPublicKey | HasSendingChain | HasReceivingChain)) != 0)
        {
            return false;
        }

        var hasReceivingPublicKey = (flags & HasReceivingPublicKey) != 0;
        var hasSendingChain = (flags & HasSendingChain) != 0;
        var hasReceivingChain = (flags & HasReceivingChain) != 0;
        if (hasSendingChain != hasReceivingPublicKey || (hasReceivingChain && !hasReceivingPublicKey))
        {
            return false;
        }

        if ((!hasReceivingPublicKey && !IsZero(receivingPublicKey))
            || (!hasSendingChain && (!IsZero(sendingChainKey) || sendingCount != 0 || previousSendingCount != 0 || skippedCount != 0))
            || (!hasReceivingChain && (!IsZero(receivingChainKey) || receivingCount != 0)))
        {
            return false;
        }

        if (hasReceivingPublicKey && !X25519.IsValidPublicKey(receivingPublicKey))
        {
            return false;
        }

        Span<byte> derivedPublicKey = stackalloc byte[KeySize];
        X25519.DerivePublicKey(sendingPrivateKey, derivedPublicKey);
        return CryptographicOperations.FixedTimeEquals(derivedPublicKey, sendingPublicKey);
    }

    // Each key is named once, and no entry carries a time or message number a session cannot store.
    private static bool AreValidSkippedKeys(ReadOnlySpan<byte> entries, int count)
    {
        var names = new HashSet<(RatchetPublicKey, uint)>(count);
        for (var offset = 0; offset < entries.Length; offset += SkippedKeySize)
        {
            var entry = entries.Slice(offset, SkippedKeySize);
            var messageNumber = BinaryPrimitives.ReadUInt32BigEndian(entry[KeySize..]);
            var ticks = BinaryPrimitives.ReadInt64BigEndian(entry[(KeySize + 4)..]);
            if (messageNumber > RatchetHeader.MaxMessageNumber
                || ticks < DateTimeOffset.MinValue.UtcTicks
                || ticks > DateTimeOffset.MaxValue.UtcTicks
                || !names.Add((RatchetPublicKey.Read(entry[..KeySize]), messageNumber)))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsZero(ReadOnlySpan<byte> bytes) => !bytes.ContainsAnyExcept((byte)0);

    // Sequential big-endian writes into an array sized exactly for them.
    private ref struct SpanWriter(Span<byte> output)
    {
        private readonly Span<byte> _output = output;
        private int _position;

        public void Write(ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(_output[_position..]);
            _position += bytes.Length;
        }

        public void Write(byte value) => _output[_position++] = value;

        public void Write(ushort value)
        {
            BinaryPrimitives.WriteUInt16BigEndian(_output[_position..], value);
            _position += 2;
        }

        public void Write(uint value)
        {
            BinaryPrimitives.WriteUInt32BigEndian(_output[_position..], value);
            _position += 4;
        }

        public void Write(long value)
        {
            BinaryPrimitives.WriteInt64BigEndian(_output[_position..], value);
            _position += 8;
        }

        public void Write(RatchetPublicKey key)
        {
            key.CopyTo(_output[_position..]);
            _position += KeySize;
        }

        public void WriteOrZeros(byte[]? key)
        {
            if (key is not null)
            {
                Write(key);
            }
            else
            {
                _position += KeySize;
            }
        }
    }
}
