using System.Buffers.Binary;
using SecureChat.Crypto;

namespace SecureChat.Protocol.Identity;

/// <summary>
/// The account key's statement that a device's keys belong to it. Fixed layout, 169 bytes:
/// <code>
///  0       1                33                65                97          105               169
///  +-------+----------------+-----------------+-----------------+-----------+-----------------+
///  | ver=1 | account Ed25519| device X25519   | device Ed25519  | issued at | signature       |
///  |       | public key     | public key      | public key      | u64 BE s  | Ed25519, 64     |
///  +-------+----------------+-----------------+-----------------+-----------+-----------------+
/// </code>
/// The signature is by the account key over the ASCII label "SecureChat device certificate v1"
/// followed by bytes 0..105.
/// </summary>
public sealed record DeviceCertificate
{
    public const byte CurrentVersion = 1;
    public const int Size = 169;
    private const int SignedLength = 105;
    private static ReadOnlySpan<byte> SignatureLabel => "SecureChat device certificate v1"u8;

    private readonly byte[] _encoded;

    private DeviceCertificate(byte[] encoded)
    {
        _encoded = encoded;
        Account = AccountId.FromPublicKey(encoded.AsSpan(1, 32));
        IssuedAt = DateTimeOffset.FromUnixTimeSeconds((long)Math.Min(BinaryPrimitives.ReadUInt64BigEndian(encoded.AsSpan(97, 8)), 253402300799UL));
    }

    public AccountId Account { get; }

    /// <summary>The device's X25519 key: its Noise static key.</summary>
    public ReadOnlySpan<byte> DeviceAgreementKey => _encoded.AsSpan(33, 32);

    /// <summary>The device's own Ed25519 key.</summary>
    public ReadOnlySpan<byte> DeviceSigningKey => _encoded.AsSpan(65, 32);

    public DateTimeOffset IssuedAt { get; }

    public ReadOnlySpan<byte> Encoded => _encoded;

    /// <summary>Signs a certificate for a device with the account's private key.</summary>
    public static DeviceCertificate Issue(
        ReadOnlySpan<byte> accountPrivateKey,
        ReadOnlySpan<byte> deviceAgreementKey,
        ReadOnlySpan<byte> deviceSigningKey,
        DateTimeOffset issuedAt)
    {
        if (deviceAgreementKey.Length != X25519.KeySize || deviceSigningKey.Length != Ed25519.PublicKeySize)
        {
            throw new ArgumentException("Device keys are 32 bytes each.", deviceAgreementKey.Length != X25519.KeySize ? nameof(deviceAgreementKey) : nameof(deviceSigningKey));
        }

        var encoded = new byte[Size];
        encoded[0] = CurrentVersion;
        Ed25519.DerivePublicKey(accountPrivateKey, encoded.AsSpan(1, 32));
        deviceAgreementKey.CopyTo(encoded.AsSpan(33, 32));
        deviceSigningKey.CopyTo(encoded.AsSpan(65, 32));
        BinaryPrimitives.WriteUInt64BigEndian(encoded.AsSpan(97, 8), (ulong)issuedAt.ToUnixTimeSeconds());
        Ed25519.Sign(accountPrivateKey, SignedBytes(encoded), encoded.AsSpan(SignedLength));
        return new DeviceCertificate(encoded);
    }

    /// <summary>
    /// Decodes and verifies a certificate received from outside. Null for any other length, an
    /// unknown version, or a signature that does not verify under the account key it names.
    /// </summary>
    public static DeviceCertificate? TryDecode(ReadOnlySpan<byte> encoded)
    {
        if (encoded.Length != Size || encoded[0] != CurrentVersion)
        {
            return null;
        }

        var copy = encoded.ToArray();
        if (!Ed25519.Verify(copy.AsSpan(1, 32), SignedBytes(copy), copy.AsSpan(SignedLength)))
        {
            return null;
        }

        return new DeviceCertificate(copy);
    }

    public bool Equals(DeviceCertificate? other) => other is not null && _encoded.AsSpan().SequenceEqual(other._encoded);

    public override int GetHashCode() => BinaryPrimitives.ReadInt32LittleEndian(_encoded.AsSpan(33, 4));

    private static byte[] SignedBytes(byte[] encoded) => [.. SignatureLabel, .. encoded.AsSpan(0, SignedLength)];
}
