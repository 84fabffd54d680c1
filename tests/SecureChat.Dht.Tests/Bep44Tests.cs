using System.Security.Cryptography;
using System.Text;
using SecureChat.Crypto;

namespace SecureChat.Dht.Tests;

/// <summary>
/// BEP 44 items: the spec's three test vectors, every bit of a signed item flipped and rejected,
/// and the size, salt and sequence limits enforced on items from outside even when they are signed.
/// </summary>
public sealed class Bep44Tests
{
    // BEP 44, "Test Vectors". The private key there is libtorrent's 64-byte expanded form, which a
    // seed-based Ed25519 API cannot import, so the vectors are verified, not re-signed.
    private const string SpecValue = "12:Hello World!";
    private const string SpecPublicKey = "77ff84905a91936367c01360803104f92432fcd904a43511876df5cdf3e7e548";

    private static readonly Dictionary<string, MutableVector> Vectors = new()
    {
        ["test 1 (mutable)"] = new(
            Salt: string.Empty,
            Buffer: "3:seqi1e1:v12:Hello World!",
            Target: "4a533d47ec9c7d95b1ad75f576cffc641853b750",
            Signature: "305ac8aeb6c9c151fa120f120ea2cfb923564e11552d06a5d856091e5e853cff1260d3f39e4999684aa92eb73ffd136e6f4f3ecbfda0ce53a1608ecd7ae21f01"),
        ["test 2 (mutable with salt)"] = new(
            Salt: "foobar",
            Buffer: "4:salt6:foobar3:seqi1e1:v12:Hello World!",
            Target: "411eba73b6f087ca51a3795d9c8c938d365e32c1",
            Signature: "6834284b6b24c3204eb2fea824d82f88883a3d95e8b4a21b8c0ded553d17d17ddf9a8a7104b1258f30bed3787e6cb896fca78c58f8e03b5f18f14951a87d9a08"),
    };

    public static TheoryData<string> MutableVectors => [.. Vectors.Keys];

    [Theory]
    [MemberData(nameof(MutableVectors))]
    public void SignedBytes_SpecVector_MatchesTheBufferBeingSigned(string name)
    {
        var vector = Vectors[name];

        Assert.Equal(Encoding.ASCII.GetBytes(vector.Buffer), DhtItem.SignedBytes(Encoding.ASCII.GetBytes(vector.Salt), 1, Encoding.ASCII.GetBytes(SpecValue)));
    }

    [Theory]
    [MemberData(nameof(MutableVectors))]
    public void MutableTarget_SpecVector_IsSha1OfKeyAndSalt(string name)
    {
        var vector = Vectors[name];

        Assert.Equal(vector.Target, DhtItem.MutableTarget(Convert.FromHexString(SpecPublicKey), Encoding.ASCII.GetBytes(vector.Salt)).ToString());
    }

    [Theory]
    [MemberData(nameof(MutableVectors))]
    public void TryMutable_SpecVector_VerifiesTheSpecSignature(string name)
    {
        var vector = Vectors[name];

        var item = DhtItem.TryMutable(
            Encoding.ASCII.GetBytes(SpecValue), Convert.FromHexString(SpecPublicKey), Encoding.ASCII.GetBytes(vector.Salt), 1, Convert.FromHexString(vector.Signature));

        Assert.NotNull(item);
        Assert.True(item.IsMutable);
        Assert.Equal(vector.Target, item.Target.ToString());
        Assert.Equal(1, item.Sequence);
        Assert.Equal(Encoding.ASCII.GetBytes(SpecValue), item.Value);
    }

    [Fact]
    public void TryMutable_SpecSignatureUnderTheOtherSalt_IsRejected()
    {
        // The salted vector's signature must not verify the unsalted item: the salt is signed.
        var salted = Vectors["test 2 (mutable with salt)"].Signature;

        Assert.Null(DhtItem.TryMutable(Encoding.ASCII.GetBytes(SpecValue), Convert.FromHexString(SpecPublicKey), [], 1, Convert.FromHexString(salted)));
    }

    [Fact]
    public void Immutable_SpecVector_TargetIsSha1OfTheBencodedValue()
    {
        var item = DhtItem.Immutable(Encoding.ASCII.GetBytes(SpecValue));

        Assert.NotNull(item);
        Assert.False(item.IsMutable);
        Assert.Equal("e5f96f6f38320f0f33959cb4d3d656452117aadb", item.Target.ToString());
        Assert.Null(item.Signature);
        Assert.Empty(item.Salt);
    }

    [Fact]
    public void Sign_ThenTryMutable_RoundTrips()
    {
        var (seed, _) = NewKey();
        var signed = DhtItem.Sign(seed, "d4:textl1:a1:bee"u8.ToArray(), "room"u8.ToArray(), 42);

        var received = DhtItem.TryMutable(signed.Value, signed.PublicKey!, signed.Salt, signed.Sequence, signed.Signature!);

        Assert.NotNull(received);
        Assert.Equal(signed.Target, received.Target);
        Assert.Equal(DhtItem.MutableTarget(signed.PublicKey!, "room"u8), received.Target);
    }

    [Fact]
    public void TryMutable_EveryBitOfTheSignatureFlipped_IsRejected()
    {
        var item = Signed();
        foreach (var flipped in EveryBitFlipped(item.Signature!))
        {
            Assert.Null(DhtItem.TryMutable(item.Value, item.PublicKey!, item.Salt, item.Sequence, flipped));
        }
    }

    [Fact]
    public void TryMutable_EveryBitOfThePublicKeyFlipped_IsRejected()
    {
        var item = Signed();
        foreach (var flipped in EveryBitFlipped(item.PublicKey!))
        {
            Assert.Null(DhtItem.TryMutable(item.Value, flipped, item.Salt, item.Sequence, item.Signature!));
        }
    }

    [Fact]
    public void TryMutable_EveryBitOfTheValueFlipped_IsRejected()
    {
        var item = Signed();
        foreach (var flipped in EveryBitFlipped(item.Value))
        {
            Assert.Null(DhtItem.TryMutable(flipped, item.PublicKey!, item.Salt, item.Sequence, item.Signature!));
        }
    }

    [Fact]
    public void TryMutable_EveryBitOfTheSaltFlipped_IsRejected()
    {
        var item = Signed();
        foreach (var flipped in EveryBitFlipped(item.Salt))
        {
            Assert.Null(DhtItem.TryMutable(item.Value, item.PublicKey!, flipped, item.Sequence, item.Signature!));
        }
    }

    [Fact]
    public void TryMutable_EveryBitOfTheSequenceFlipped_IsRejected()
    {
        var item = Signed();
        for (var bit = 0; bit < 63; bit++)
        {
            Assert.Null(DhtItem.TryMutable(item.Value, item.PublicKey!, item.Salt, item.Sequence ^ (1L << bit), item.Signature!));
        }
    }

    [Fact]
    public void TryMutable_SaltAddedOrRemoved_IsRejected()
    {
        var (seed, _) = NewKey();
        var unsalted = DhtItem.Sign(seed, "1:x"u8.ToArray(), [], 1);
        var salted = DhtItem.Sign(seed, "1:x"u8.ToArray(), "s"u8.ToArray(), 1);

        Assert.Null(DhtItem.TryMutable(unsalted.Value, unsalted.PublicKey!, "s"u8.ToArray(), 1, unsalted.Signature!));
        Assert.Null(DhtItem.TryMutable(salted.Value, salted.PublicKey!, [], 1, salted.Signature!));
    }

    [Fact]
    public void TryMutable_TruncatedOrExtendedFields_AreRejected()
    {
        var item = Signed();

        Assert.Null(DhtItem.TryMutable(item.Value, item.PublicKey!, item.Salt, item.Sequence, item.Signature![..63]));
        Assert.Null(DhtItem.TryMutable(item.Value, item.PublicKey!, item.Salt, item.Sequence, [.. item.Signature!, 0]));
        Assert.Null(DhtItem.TryMutable(item.Value, item.PublicKey![..31], item.Salt, item.Sequence, item.Signature!));
        Assert.Null(DhtItem.TryMutable(item.Value, [.. item.PublicKey!, 0], item.Salt, item.Sequence, item.Signature!));
        Assert.Null(DhtItem.TryMutable(item.Value[..^1], item.PublicKey!, item.Salt, item.Sequence, item.Signature!));
        Assert.Null(DhtItem.TryMutable([], item.PublicKey!, item.Salt, item.Sequence, item.Signature!));
        Assert.Null(DhtItem.TryMutable(item.Value, new byte[32], item.Salt, item.Sequence, item.Signature!));
        Assert.Null(DhtItem.TryMutable(item.Value, item.PublicKey!, item.Salt, item.Sequence, new byte[64]));
    }

    [Fact]
    public void TryMutable_ValueOfExactlyThousandBytes_IsAccepted()
    {
        var (seed, _) = NewKey();
        var value = StringOfLength(DhtItem.MaxValueSize);
        var item = DhtItem.Sign(seed, value, [], 1);

        Assert.NotNull(DhtItem.TryMutable(value, item.PublicKey!, [], 1, item.Signature!));
        Assert.NotNull(DhtItem.Immutable(value));
    }

    [Fact]
    public void TryMutable_ValueOfThousandAndOneBytesValidlySigned_IsRejected()
    {
        var (seed, publicKey) = NewKey();
        var value = StringOfLength(DhtItem.MaxValueSize + 1);

        Assert.Null(DhtItem.TryMutable(value, publicKey, [], 1, SignRaw(seed, [], 1, value)));
        Assert.Null(DhtItem.Immutable(value));
        Assert.Throws<ArgumentException>(() => DhtItem.Sign(seed, value, [], 1));
    }

    [Fact]
    public void TryMutable_SaltOfSixtyFourBytes_IsAccepted()
    {
        var (seed, _) = NewKey();
        var salt = new byte[DhtItem.MaxSaltSize];
        var item = DhtItem.Sign(seed, "1:x"u8.ToArray(), salt, 1);

        Assert.NotNull(DhtItem.TryMutable(item.Value, item.PublicKey!, salt, 1, item.Signature!));
    }

    [Fact]
    public void TryMutable_SaltOfSixtyFiveBytesValidlySigned_IsRejected()
    {
        var (seed, publicKey) = NewKey();
        var salt = new byte[DhtItem.MaxSaltSize + 1];

        Assert.Null(DhtItem.TryMutable("1:x"u8.ToArray(), publicKey, salt, 1, SignRaw(seed, salt, 1, "1:x"u8.ToArray())));
        Assert.Throws<ArgumentException>(() => DhtItem.Sign(seed, "1:x"u8.ToArray(), salt, 1));
    }

    [Fact]
    public void TryMutable_NegativeSequenceValidlySigned_IsRejected()
    {
        var (seed, publicKey) = NewKey();

        Assert.Null(DhtItem.TryMutable("1:x"u8.ToArray(), publicKey, [], -1, SignRaw(seed, [], -1, "1:x"u8.ToArray())));
        Assert.Throws<ArgumentOutOfRangeException>(() => DhtItem.Sign(seed, "1:x"u8.ToArray(), [], -1));
    }

    [Fact]
    public void TryMutable_SequenceZeroAndLargest_AreAccepted()
    {
        var (seed, _) = NewKey();
        foreach (var sequence in new[] { 0L, long.MaxValue })
        {
            var item = DhtItem.Sign(seed, "1:x"u8.ToArray(), [], sequence);
            Assert.NotNull(DhtItem.TryMutable(item.Value, item.PublicKey!, [], sequence, item.Signature!));
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("12:Hello")]
    [InlineData("i1ei2e")]
    [InlineData("i01e")]
    [InlineData("Hello World!")]
    public void TryMutable_ValueNotOneBencodedValueValidlySigned_IsRejected(string text)
    {
        var (seed, publicKey) = NewKey();
        var value = Encoding.ASCII.GetBytes(text);

        Assert.Null(DhtItem.TryMutable(value, publicKey, [], 1, SignRaw(seed, [], 1, value)));
        Assert.Null(DhtItem.Immutable(value));
    }

    [Fact]
    public void SignedBytes_LongestSaltAndLargestSequence_FollowTheLayout()
    {
        var salt = Enumerable.Repeat((byte)'s', 64).ToArray();

        var bytes = DhtItem.SignedBytes(salt, long.MaxValue, "le"u8);

        Assert.Equal(Encoding.ASCII.GetBytes($"4:salt64:{new string('s', 64)}3:seqi9223372036854775807e1:vle"), bytes);
    }

    private static DhtItem Signed()
    {
        var (seed, _) = NewKey();
        return DhtItem.Sign(seed, "d1:ai1e1:bl3:abcee"u8.ToArray(), "salt"u8.ToArray(), 7);
    }

    private static (byte[] Seed, byte[] PublicKey) NewKey()
    {
        var seed = RandomNumberGenerator.GetBytes(Ed25519.PrivateKeySize);
        var publicKey = new byte[Ed25519.PublicKeySize];
        Ed25519.DerivePublicKey(seed, publicKey);
        return (seed, publicKey);
    }

    /// <summary>A signature over BEP 44's buffer without the checks <see cref="DhtItem.Sign"/> makes: what a hostile node can produce.</summary>
    private static byte[] SignRaw(byte[] seed, byte[] salt, long sequence, byte[] value)
    {
        var signature = new byte[Ed25519.SignatureSize];
        Ed25519.Sign(seed, DhtItem.SignedBytes(salt, sequence, value), signature);
        return signature;
    }

    /// <summary>One bencoded string whose encoding is exactly <paramref name="length"/> bytes.</summary>
    private static byte[] StringOfLength(int length)
    {
        var header = $"{length - 4}:";
        Assert.Equal(4, header.Length);
        return [.. Encoding.ASCII.GetBytes(header), .. Enumerable.Repeat((byte)'x', length - 4)];
    }

    private static IEnumerable<byte[]> EveryBitFlipped(byte[] bytes)
    {
        Assert.NotEmpty(bytes);
        for (var bit = 0; bit < bytes.Length * 8; bit++)
        {
            var copy = (byte[])bytes.Clone();
            copy[bit / 8] ^= (byte)(0x80 >> (bit % 8));
            yield return copy;
        }
    }

    private sealed record MutableVector(string Salt, string Buffer, string Target, string Signature);
}
