using System.Globalization;
using System.Text;
using SecureChat.Crypto;

namespace SecureChat.Dht;

/// <summary>
/// A BEP 44 item. Immutable: the value alone, stored under SHA-1 of its bencoded form. Mutable: a
/// value signed by an Ed25519 key with a sequence number and an optional salt, stored under
/// SHA-1 of the key followed by the salt.
/// </summary>
public sealed record DhtItem
{
    /// <summary>BEP 44: the bencoded value is at most 1,000 bytes.</summary>
    public const int MaxValueSize = 1000;

    /// <summary>BEP 44: the salt is at most 64 bytes.</summary>
    public const int MaxSaltSize = 64;

    private DhtItem(byte[] value, byte[]? publicKey, byte[] salt, long sequence, byte[]? signature)
    {
        Value = value;
        PublicKey = publicKey;
        Salt = salt;
        Sequence = sequence;
        Signature = signature;
        Target = publicKey is null ? NodeId.Sha1(value) : MutableTarget(publicKey, salt);
    }

    /// <summary>The value, bencoded (exactly the bytes that were hashed or signed).</summary>
    public byte[] Value { get; }

    public byte[]? PublicKey { get; }

    public byte[] Salt { get; }

    public long Sequence { get; }

    public byte[]? Signature { get; }

    public NodeId Target { get; }

    public bool IsMutable => PublicKey is not null;

    public static NodeId MutableTarget(ReadOnlySpan<byte> publicKey, ReadOnlySpan<byte> salt) => NodeId.Sha1([.. publicKey, .. salt]);

    /// <summary>An immutable item; null when the value is not one bencoded value of at most 1,000 bytes.</summary>
    public static DhtItem? Immutable(byte[] encodedValue) =>
        IsValue(encodedValue) ? new DhtItem(encodedValue, null, [], 0, null) : null;

    /// <summary>Signs a mutable item with an Ed25519 seed.</summary>
    /// <exception cref="ArgumentException">The value or salt breaks BEP 44's limits, or the sequence is negative.</exception>
    public static DhtItem Sign(ReadOnlySpan<byte> privateSeed, byte[] encodedValue, byte[] salt, long sequence)
    {
        ArgumentNullException.ThrowIfNull(encodedValue);
        ArgumentNullException.ThrowIfNull(salt);
        if (!IsValue(encodedValue))
        {
            throw new ArgumentException($"A DHT value is one bencoded value of at most {MaxValueSize} bytes.", nameof(encodedValue));
        }

        if (salt.Length > MaxSaltSize)
        {
            throw new ArgumentException($"A salt is at most {MaxSaltSize} bytes.", nameof(salt));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(sequence);
        var publicKey = new byte[Ed25519.PublicKeySize];
        Ed25519.DerivePublicKey(privateSeed, publicKey);
        var signature = new byte[Ed25519.SignatureSize];
        Ed25519.Sign(privateSeed, SignedBytes(salt, sequence, encodedValue), signature);
        return new DhtItem(encodedValue, publicKey, salt, sequence, signature);
    }

    /// <summary>A mutable item received from outside; null unless every field is within limits and the signature verifies.</summary>
    public static DhtItem? TryMutable(byte[] encodedValue, byte[] publicKey, byte[] salt, long sequence, byte[] signature)
    {
        if (!IsValue(encodedValue) || salt.Length > MaxSaltSize || sequence < 0
            || publicKey.Length != Ed25519.PublicKeySize || signature.Length != Ed25519.SignatureSize
            || !Ed25519.Verify(publicKey, SignedBytes(salt, sequence, encodedValue), signature))
        {
            return null;
        }

        return new DhtItem(encodedValue, publicKey, salt, sequence, signature);
    }

    /// <summary>
    /// BEP 44's signed buffer: the bencoded "salt" entry when there is a salt, then "seq" and "v",
    /// as they appear in a sorted dictionary, without its "d" and "e".
    /// </summary>
    public static byte[] SignedBytes(ReadOnlySpan<byte> salt, long sequence, ReadOnlySpan<byte> encodedValue)
    {
        var output = new List<byte>(encodedValue.Length + salt.Length + 32);
        if (!salt.IsEmpty)
        {
            output.AddRange(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"4:salt{salt.Length}:")));
            output.AddRange(salt);
        }

        output.AddRange(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"3:seqi{sequence}e1:v")));
        output.AddRange(encodedValue);
        return [.. output];
    }

    private static bool IsValue(byte[] encodedValue) =>
        encodedValue.Length is > 0 and <= MaxValueSize && Bencode.TryDecode(encodedValue) is not null;
}
