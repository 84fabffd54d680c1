using System.Buffers.Binary;
using SecureChat.Crypto;
using SecureChat.Protocol.Identity;

namespace SecureChat.Protocol.Discovery;

/// <summary>
/// The private rendezvous of two contacts on the DHT. For each day (the epoch, Unix time / 86,400)
/// and each direction, both sides derive from their <see cref="PairSecret"/> the same BEP 44
/// signing seed, salt and sealing key; the publisher stores its endpoints there, sealed, and the
/// contact looks them up. To anyone else the key, the salt and the value are random bytes, and
/// two days, two directions or two pairs cannot be linked.
/// </summary>
public sealed class RendezvousKeys : IDisposable
{
    public static readonly TimeSpan EpochLength = TimeSpan.FromDays(1);
    public const int SaltSize = 16;

    /// <summary>The sealed plaintext is padded to this size so the value's length says nothing about the endpoints.</summary>
    public const int PaddedSize = EndpointList.MaxSize;

    /// <summary>The bytes of a sealed record: nonce, ciphertext of the padded list, tag.</summary>
    public const int SealedSize = SecretBox.Overhead + PaddedSize;

    private static ReadOnlySpan<byte> Label => "SecureChat rendezvous v1"u8;

    private readonly SecretBytes _signingSeed;
    private readonly SecretBytes _sealingKey;

    private RendezvousKeys(long epoch, byte[] okm)
    {
        Epoch = epoch;
        _signingSeed = new SecretBytes(okm.AsSpan(0, 32));
        Salt = okm.AsSpan(32, SaltSize).ToArray();
        _sealingKey = new SecretBytes(okm.AsSpan(32 + SaltSize, SecretBox.KeySize));
        SequenceOffset = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(okm.AsSpan(32 + SaltSize + SecretBox.KeySize)) & 0x3fffffff;
        PublicKey = new byte[Ed25519.PublicKeySize];
        Ed25519.DerivePublicKey(_signingSeed.Span, PublicKey);
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(okm);
    }

    public long Epoch { get; }

    /// <summary>The BEP 44 key the record is signed with (and looked up by).</summary>
    public byte[] PublicKey { get; }

    public byte[] Salt { get; }

    /// <summary>
    /// Added to the publish time to make the record's BEP 44 sequence number, so that records put
    /// in the same second (other contacts, the next day's) do not share a <c>seq</c> that would link
    /// them: 30 bits from the same expansion, fixed for the record, so its <c>seq</c> still only grows.
    /// </summary>
    public long SequenceOffset { get; }

    /// <summary>The BEP 44 sequence number of the record published at <paramref name="time"/>.</summary>
    public long SequenceAt(DateTimeOffset time) => time.ToUnixTimeSeconds() + SequenceOffset;

    public ReadOnlySpan<byte> SigningSeed => _signingSeed.Span;

    public static long EpochOf(DateTimeOffset time) => time.ToUnixTimeSeconds() / (long)EpochLength.TotalSeconds;

    /// <summary>The keys for what <paramref name="publisher"/> stores for <paramref name="reader"/> in one epoch.</summary>
    public static RendezvousKeys Derive(ReadOnlySpan<byte> pairSecret, long epoch, AccountId publisher, AccountId reader)
    {
        Span<byte> context = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(context, epoch);
        return new RendezvousKeys(epoch, PairSecret.Expand(pairSecret, Label, context, publisher, reader, 32 + SaltSize + SecretBox.KeySize + 4));
    }

    /// <summary>Seals an endpoint list, padded to a fixed size, bound to this epoch's key and salt.</summary>
    public byte[] Seal(EndpointList endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var padded = new byte[PaddedSize];
        endpoints.Encode().CopyTo(padded, 0);
        return SecretBox.Seal(_sealingKey.Span, AssociatedData(), padded);
    }

    /// <summary>Opens a sealed record; null for anything forged, damaged or sealed under other keys.</summary>
    public EndpointList? Open(ReadOnlySpan<byte> sealedValue)
    {
        using var plain = SecretBox.TryOpen(_sealingKey.Span, AssociatedData(), sealedValue);
        return plain is null ? null : EndpointList.TryDecode(plain.Span);
    }

    public void Dispose()
    {
        _signingSeed.Dispose();
        _sealingKey.Dispose();
    }

    private byte[] AssociatedData() => [.. Label, .. PublicKey, .. Salt];
}
