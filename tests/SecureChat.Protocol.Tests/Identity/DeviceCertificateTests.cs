using System.Buffers.Binary;
using CsCheck;
using SecureChat.Crypto;

namespace SecureChat.Protocol.Identity.Tests;

/// <summary>
/// The 169-byte device certificate: version, account key, device X25519 key, device Ed25519 key,
/// issue time (u64 BE seconds), and the account's signature over a label and those 105 bytes.
/// </summary>
public sealed class DeviceCertificateTests
{
    private static readonly byte[] Golden = Convert.FromHexString(IdentityVectors.CertificateHex);

    [Fact]
    public void Issue_KnownKeys_GivesGoldenBytes()
    {
        var certificate = DeviceCertificate.Issue(IdentityVectors.AccountSeed, IdentityVectors.AgreementPublic, IdentityVectors.OtherPublic, IdentityVectors.IssuedAt);

        Assert.Equal(DeviceCertificate.Size, certificate.Encoded.Length);
        Assert.Equal(IdentityVectors.CertificateHex, Convert.ToHexStringLower(certificate.Encoded));
    }

    [Fact]
    public void TryDecode_GoldenBytes_GivesTheFields()
    {
        var certificate = DeviceCertificate.TryDecode(Golden);

        Assert.NotNull(certificate);
        Assert.Equal(IdentityVectors.AccountText, certificate.Account.Text);
        Assert.Equal(IdentityVectors.AgreementPublic, certificate.DeviceAgreementKey.ToArray());
        Assert.Equal(IdentityVectors.OtherPublic, certificate.DeviceSigningKey.ToArray());
        Assert.Equal(IdentityVectors.IssuedAt, certificate.IssuedAt);
        Assert.Equal(Golden, certificate.Encoded.ToArray());
    }

    [Fact]
    public void Issue_Signature_IsTheAccountKeysOverTheLabelAndTheFirst105Bytes()
    {
        var certificate = DeviceCertificate.Issue(IdentityVectors.AccountSeed, IdentityVectors.AgreementPublic, IdentityVectors.OtherPublic, IdentityVectors.IssuedAt);
        var encoded = certificate.Encoded.ToArray();
        byte[] signed = [.. "SecureChat device certificate v1"u8, .. encoded.AsSpan(0, 105)];

        Assert.Equal(DeviceCertificate.CurrentVersion, encoded[0]);
        Assert.Equal(IdentityVectors.AccountPublic, encoded[1..33]);
        Assert.Equal(IdentityVectors.AgreementPublic, encoded[33..65]);
        Assert.Equal(IdentityVectors.OtherPublic, encoded[65..97]);
        Assert.Equal(1735689600UL, BinaryPrimitives.ReadUInt64BigEndian(encoded.AsSpan(97, 8)));
        Assert.True(Ed25519.Verify(IdentityVectors.AccountPublic, signed, encoded.AsSpan(105)));
    }

    [Fact]
    public void TryDecode_IssuedCertificate_RoundTrips()
    {
        var publicKey = new byte[32];
        using var accountKey = Ed25519.GenerateKeyPair(publicKey);
        var agreement = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        var signing = Enumerable.Range(100, 32).Select(i => (byte)i).ToArray();
        var now = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);

        var issued = DeviceCertificate.Issue(accountKey.Span, agreement, signing, now);
        var decoded = DeviceCertificate.TryDecode(issued.Encoded);

        Assert.NotNull(decoded);
        Assert.Equal(issued, decoded);
        Assert.Equal(AccountId.FromPublicKey(publicKey), decoded.Account);
        Assert.Equal(agreement, decoded.DeviceAgreementKey.ToArray());
        Assert.Equal(signing, decoded.DeviceSigningKey.ToArray());
        Assert.Equal(now, decoded.IssuedAt);
    }

    [Fact]
    public void TryDecode_AnySingleBitFlip_ReturnsNull()
    {
        foreach (var flipped in IdentityVectors.EveryBitFlip(Golden))
        {
            Assert.Null(DeviceCertificate.TryDecode(flipped));
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(105)]
    [InlineData(168)]
    [InlineData(170)]
    [InlineData(338)]
    public void TryDecode_WrongLength_ReturnsNull(int length)
    {
        var bytes = new byte[length];
        Golden.AsSpan(0, Math.Min(length, Golden.Length)).CopyTo(bytes);

        Assert.Null(DeviceCertificate.TryDecode(bytes));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(255)]
    public void TryDecode_OtherVersionEvenIfSigned_ReturnsNull(byte version)
    {
        var bytes = (byte[])Golden.Clone();
        bytes[0] = version;
        Resign(bytes);

        Assert.Null(DeviceCertificate.TryDecode(bytes));
    }

    [Fact]
    public void TryDecode_SignedByAnotherKeyThanTheOneItNames_ReturnsNull()
    {
        var bytes = (byte[])Golden.Clone();
        Ed25519.Sign(IdentityVectors.OtherSeed, [.. "SecureChat device certificate v1"u8, .. bytes.AsSpan(0, 105)], bytes.AsSpan(105));

        Assert.Null(DeviceCertificate.TryDecode(bytes));
    }

    [Fact]
    public void TryDecode_SignatureWithoutTheLabel_ReturnsNull()
    {
        var bytes = (byte[])Golden.Clone();
        Ed25519.Sign(IdentityVectors.AccountSeed, bytes.AsSpan(0, 105), bytes.AsSpan(105));

        Assert.Null(DeviceCertificate.TryDecode(bytes));
    }

    [Fact]
    public void TryDecode_IssueTimeBeyondYear9999_IsClampedNotThrown()
    {
        var bytes = (byte[])Golden.Clone();
        bytes.AsSpan(97, 8).Fill(0xFF);
        Resign(bytes);

        var certificate = DeviceCertificate.TryDecode(bytes);

        Assert.NotNull(certificate);
        Assert.Equal(9999, certificate.IssuedAt.Year);
    }

    [Fact]
    public void TryDecode_CallerChangesItsBuffer_CertificateIsUnchanged()
    {
        var bytes = (byte[])Golden.Clone();
        var certificate = DeviceCertificate.TryDecode(bytes);

        bytes.AsSpan().Clear();

        Assert.NotNull(certificate);
        Assert.Equal(Golden, certificate.Encoded.ToArray());
    }

    [Fact]
    public void TryDecode_RandomBytes_NeverThrows()
    {
        Gen.Byte.Array[0, 400].Sample(bytes => Assert.Null(DeviceCertificate.TryDecode(bytes)), iter: 1000);
    }

    [Fact]
    public void TryDecode_RandomBytesOfTheRightSizeAndVersion_ReturnsNull()
    {
        Gen.Byte.Array[DeviceCertificate.Size].Sample(bytes =>
        {
            bytes[0] = DeviceCertificate.CurrentVersion;
            Assert.Null(DeviceCertificate.TryDecode(bytes));
        }, iter: 1000);
    }

    [Fact]
    public void TryDecode_GoldenWithRandomBytesSpliced_NeverThrows()
    {
        Gen.Select(Gen.Int[0, DeviceCertificate.Size - 1], Gen.Byte.Array[1, 16]).Sample((offset, patch) =>
        {
            var bytes = (byte[])Golden.Clone();
            patch.AsSpan(0, Math.Min(patch.Length, bytes.Length - offset)).CopyTo(bytes.AsSpan(offset));
            var decoded = DeviceCertificate.TryDecode(bytes);
            Assert.True(decoded is null || bytes.AsSpan().SequenceEqual(Golden));
        }, iter: 1000);
    }

    [Theory]
    [InlineData(31, 32)]
    [InlineData(33, 32)]
    [InlineData(32, 31)]
    [InlineData(32, 33)]
    [InlineData(0, 32)]
    public void Issue_DeviceKeyOfWrongSize_ThrowsArgumentException(int agreementSize, int signingSize)
    {
        Assert.Throws<ArgumentException>(() =>
            DeviceCertificate.Issue(IdentityVectors.AccountSeed, new byte[agreementSize], new byte[signingSize], IdentityVectors.IssuedAt));
    }

    private static void Resign(byte[] bytes) =>
        Ed25519.Sign(IdentityVectors.AccountSeed, [.. "SecureChat device certificate v1"u8, .. bytes.AsSpan(0, 105)], bytes.AsSpan(105));
}
