using CsCheck;

namespace SecureChat.Crypto.Tests;

/// <summary>
/// XChaCha20-Poly1305 sealing: what was sealed opens under the same key and associated data, and
/// anything else (wrong key, moved, truncated, flipped) is a null result, never an exception.
/// </summary>
public sealed class SecretBoxTests
{
    private static readonly byte[] Key = Enumerable.Range(0, SecretBox.KeySize).Select(i => (byte)i).ToArray();
    private static readonly byte[] AssociatedData = "SecureChat test slot"u8.ToArray();
    private static readonly byte[] Plaintext = "the quick brown fox jumps over the lazy dog"u8.ToArray();

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(64)]
    [InlineData(1000)]
    public void TryOpen_WhatWasSealed_ReturnsThePlaintext(int length)
    {
        var plaintext = Enumerable.Range(0, length).Select(i => (byte)(i * 7)).ToArray();

        var sealedValue = SecretBox.Seal(Key, AssociatedData, plaintext);
        using var opened = SecretBox.TryOpen(Key, AssociatedData, sealedValue);

        Assert.Equal(SecretBox.Overhead + length, sealedValue.Length);
        Assert.NotNull(opened);
        Assert.Equal(plaintext, opened.Span.ToArray());
    }

    [Fact]
    public void Seal_SamePlaintextTwice_UsesFreshNonces()
    {
        var first = SecretBox.Seal(Key, AssociatedData, Plaintext);
        var second = SecretBox.Seal(Key, AssociatedData, Plaintext);

        Assert.NotEqual(first.AsSpan(0, SecretBox.NonceSize).ToArray(), second.AsSpan(0, SecretBox.NonceSize).ToArray());
        Assert.NotEqual(first, second);
    }

    [Fact]
    public void Seal_Output_DoesNotContainThePlaintext()
    {
        var sealedValue = SecretBox.Seal(Key, AssociatedData, Plaintext);

        Assert.Equal(-1, sealedValue.AsSpan().IndexOf(Plaintext.AsSpan(0, 8)));
    }

    [Fact]
    public void TryOpen_WrongKey_ReturnsNull()
    {
        var sealedValue = SecretBox.Seal(Key, AssociatedData, Plaintext);
        var otherKey = (byte[])Key.Clone();
        otherKey[^1] ^= 0x80;

        Assert.Null(SecretBox.TryOpen(otherKey, AssociatedData, sealedValue));
    }

    [Fact]
    public void TryOpen_WrongAssociatedData_ReturnsNull()
    {
        var sealedValue = SecretBox.Seal(Key, AssociatedData, Plaintext);

        Assert.Null(SecretBox.TryOpen(Key, "SecureChat other slot"u8, sealedValue));
        Assert.Null(SecretBox.TryOpen(Key, [], sealedValue));
        Assert.Null(SecretBox.TryOpen(Key, [.. AssociatedData, 0], sealedValue));
    }

    [Fact]
    public void TryOpen_EveryTruncation_ReturnsNull()
    {
        var sealedValue = SecretBox.Seal(Key, AssociatedData, Plaintext);

        for (var length = 0; length < sealedValue.Length; length++)
        {
            Assert.Null(SecretBox.TryOpen(Key, AssociatedData, sealedValue.AsSpan(0, length)));
            Assert.Null(SecretBox.TryOpen(Key, AssociatedData, sealedValue.AsSpan(sealedValue.Length - length)));
        }
    }

    [Fact]
    public void TryOpen_AppendedByte_ReturnsNull()
    {
        var sealedValue = SecretBox.Seal(Key, AssociatedData, Plaintext);

        Assert.Null(SecretBox.TryOpen(Key, AssociatedData, [.. sealedValue, 0]));
    }

    [Fact]
    public void TryOpen_AnySingleBitFlip_ReturnsNull()
    {
        var sealedValue = SecretBox.Seal(Key, AssociatedData, Plaintext);

        for (var bit = 0; bit < sealedValue.Length * 8; bit++)
        {
            var flipped = (byte[])sealedValue.Clone();
            flipped[bit / 8] ^= (byte)(1 << (bit % 8));

            Assert.Null(SecretBox.TryOpen(Key, AssociatedData, flipped));
        }
    }

    [Fact]
    public void TryOpen_RandomBytes_ReturnsNullWithoutThrowing()
    {
        Gen.Byte.Array[0, 200].Sample(bytes => Assert.Null(SecretBox.TryOpen(Key, AssociatedData, bytes)));
    }

    [Fact]
    public void TryOpen_RoundTripProperty_Holds()
    {
        Gen.Select(Gen.Byte.Array[SecretBox.KeySize], Gen.Byte.Array[0, 64], Gen.Byte.Array[0, 300]).Sample((key, associatedData, plaintext) =>
        {
            using var opened = SecretBox.TryOpen(key, associatedData, SecretBox.Seal(key, associatedData, plaintext));
            Assert.NotNull(opened);
            Assert.Equal(plaintext, opened.Span.ToArray());
        });
    }

    [Theory]
    [InlineData(0)]
    [InlineData(16)]
    [InlineData(31)]
    [InlineData(33)]
    public void Seal_KeyOfWrongSize_ThrowsArgumentException(int size)
    {
        Assert.Throws<ArgumentException>(() => SecretBox.Seal(new byte[size], AssociatedData, Plaintext));
    }

    [Fact]
    public void TryOpen_KeyOfWrongSize_ThrowsArgumentException()
    {
        var sealedValue = SecretBox.Seal(Key, AssociatedData, Plaintext);

        Assert.Throws<ArgumentException>(() => SecretBox.TryOpen(new byte[16], AssociatedData, sealedValue));
    }
}
