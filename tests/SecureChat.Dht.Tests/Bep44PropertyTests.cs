using System.Text;
using CsCheck;
using SecureChat.Crypto;
using SecureChat.Testing;

namespace SecureChat.Dht.Tests;

/// <summary>
/// BEP 44 items as a codec: any value, salt and sequence within the limits signs and verifies as
/// the same item; random fields and damaged signed fields are rejected with null, never an exception.
/// </summary>
public sealed class Bep44PropertyTests
{
    private static readonly Gen<(int Kind, int Position, byte[] Bytes)> Mutations =
        Gen.Select(Gen.Int[0, ByteMutation.Kinds - 1], Gen.Int[0, int.MaxValue], Gen.Byte.Array[1, 8]);

    /// <summary>Bencoded values of 1 to 1,000 bytes: strings up to the limit, integers, lists.</summary>
    private static readonly Gen<byte[]> EncodedValues = Gen.OneOf(
        Gen.Byte.Array[0, DhtItem.MaxValueSize - 5].Select(bytes => new BString(bytes).Encode()),
        Gen.Long.Select(n => new BInteger(n).Encode()),
        Gen.Byte.Array[0, 40].Array[0, 8].Select(items => new BList([.. items.Select(b => new BString(b))]).Encode()));

    private static readonly Gen<long> Sequences = Gen.OneOf(Gen.Long[0, long.MaxValue], Gen.OneOf(0L, 1L, long.MaxValue));

    [Fact]
    public void TryMutable_SignedItems_RoundTrip()
    {
        Gen.Select(Gen.Byte.Array[Ed25519.PrivateKeySize], EncodedValues, Gen.Byte.Array[0, DhtItem.MaxSaltSize], Sequences).Sample((seed, value, salt, sequence) =>
        {
            var signed = DhtItem.Sign(seed, value, salt, sequence);

            var received = DhtItem.TryMutable(value, signed.PublicKey!, salt, sequence, signed.Signature!);

            Assert.NotNull(received);
            Assert.Equal(signed.Target, received.Target);
            Assert.Equal(DhtItem.MutableTarget(signed.PublicKey, salt), received.Target);
            Assert.Equal(value, received.Value);
            Assert.Equal(salt, received.Salt);
            Assert.Equal(sequence, received.Sequence);
        }, iter: 300);
    }

    [Fact]
    public void Immutable_EncodedValues_AreStoredUnderTheirHash()
    {
        EncodedValues.Sample(value =>
        {
            var item = DhtItem.Immutable(value);

            Assert.NotNull(item);
            Assert.Equal(NodeId.Sha1(value), item.Target);
            Assert.False(item.IsMutable);
        }, iter: 1000);
    }

    [Fact]
    public void ImmutableAndTryMutable_ArbitraryFields_NeverThrow()
    {
        Gen.Select(Gen.Byte.Array[0, 1100], Gen.Byte.Array[0, 40], Gen.Byte.Array[0, 80], Gen.Long, Gen.Byte.Array[0, 80]).Sample((value, key, salt, sequence, signature) =>
        {
            var immutable = DhtItem.Immutable(value);
            Assert.Equal(value.Length is > 0 and <= DhtItem.MaxValueSize && Bencode.TryDecode(value) is not null, immutable is not null);
            Assert.Null(DhtItem.TryMutable(value, key, salt, sequence, signature));
        }, iter: 2000);
    }

    [Fact]
    public void TryMutable_AnySignedFieldDamaged_IsRejected()
    {
        Gen.Select(EncodedValues, Gen.Byte.Array[0, DhtItem.MaxSaltSize], Sequences, Gen.Int[0, 3], Mutations).Sample((value, salt, sequence, field, mutation) =>
        {
            var seed = Encoding.ASCII.GetBytes("a fixed seed of thirty-two bytes");
            var signed = DhtItem.Sign(seed, value, salt, sequence);
            byte[][] fields = [value, signed.PublicKey!, salt, signed.Signature!];
            var damaged = ByteMutation.Apply(fields[field], mutation.Kind, mutation.Position, mutation.Bytes);
            if (damaged.AsSpan().SequenceEqual(fields[field]))
            {
                return;
            }

            fields[field] = damaged;

            Assert.Null(DhtItem.TryMutable(fields[0], fields[1], fields[2], sequence, fields[3]));
        }, iter: 1000);
    }
}
