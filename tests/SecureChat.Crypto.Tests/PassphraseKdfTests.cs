namespace SecureChat.Crypto.Tests;

/// <summary>
/// Argon2id (RFC 9106) as the passphrase KDF. RFC 9106 section 5.3's Argon2id vector cannot be
/// used: it has a secret value K, associated data X, four lanes and 32 KiB of memory, and this KDF
/// takes none of those (one lane, at least 8 MiB). The known answers below were computed with the
/// reference implementation (phc-winner-argon2, <c>argon2id_hash_raw</c>, version 0x13, one lane,
/// 32-byte tag), checked first against that implementation's own published Argon2id test.
/// </summary>
public sealed class PassphraseKdfTests
{
    private static readonly byte[] Salt = "somesaltsomesalt"u8.ToArray();

    [Theory]
    [InlineData("password", "736f6d6573616c74736f6d6573616c74", 8192, 1, "84fb006bbc3cd69895722b64b5bf735251a9e8e9f3ecb93ff595b98aeb7accb7")]
    [InlineData("", "00000000000000000000000000000000", 8192, 2, "dac5cbb0267dbc1a755aa5550b3707ed5f65647b6d8c189a98eedb05dd51fd5c")]
    [InlineData("correct horse battery staple", "000102030405060708090a0b0c0d0e0f", 65536, 3, "0d1a3c6523c8f06e4e0af9c515aa5b5448cfebd6838f2d52c3d8b6ef8ddc3c2e")]
    public void DeriveKey_ReferenceImplementation_MatchesKnownAnswer(string passphrase, string salt, int memoryKiB, int passes, string expected)
    {
        using var key = PassphraseKdf.DeriveKey(System.Text.Encoding.UTF8.GetBytes(passphrase), Convert.FromHexString(salt), new Argon2idParameters(memoryKiB, passes));

        Assert.Equal(expected, Convert.ToHexStringLower(key.Span));
    }

    [Fact]
    public void DeriveKey_SameInputs_GivesTheSameKey()
    {
        using var a = PassphraseKdf.DeriveKey("passphrase"u8, Salt, Argon2idParameters.Minimum);
        using var b = PassphraseKdf.DeriveKey("passphrase"u8, Salt, Argon2idParameters.Minimum);

        Assert.Equal(PassphraseKdf.KeySize, a.Length);
        Assert.True(a.Span.SequenceEqual(b.Span));
    }

    [Fact]
    public void DeriveKey_SaltDiffersInOneBit_GivesAnotherKey()
    {
        var otherSalt = (byte[])Salt.Clone();
        otherSalt[15] ^= 1;

        using var a = PassphraseKdf.DeriveKey("passphrase"u8, Salt, Argon2idParameters.Minimum);
        using var b = PassphraseKdf.DeriveKey("passphrase"u8, otherSalt, Argon2idParameters.Minimum);

        Assert.False(a.Span.SequenceEqual(b.Span));
    }

    [Fact]
    public void DeriveKey_PassphraseDiffersInOneCharacter_GivesAnotherKey()
    {
        using var a = PassphraseKdf.DeriveKey("passphrase"u8, Salt, Argon2idParameters.Minimum);
        using var b = PassphraseKdf.DeriveKey("passphrasf"u8, Salt, Argon2idParameters.Minimum);
        using var c = PassphraseKdf.DeriveKey("passphrase "u8, Salt, Argon2idParameters.Minimum);

        Assert.False(a.Span.SequenceEqual(b.Span));
        Assert.False(a.Span.SequenceEqual(c.Span));
    }

    [Fact]
    public void DeriveKey_OtherCost_GivesAnotherKey()
    {
        using var a = PassphraseKdf.DeriveKey("passphrase"u8, Salt, Argon2idParameters.Minimum);
        using var morePasses = PassphraseKdf.DeriveKey("passphrase"u8, Salt, Argon2idParameters.Minimum with { Passes = 2 });
        using var moreMemory = PassphraseKdf.DeriveKey("passphrase"u8, Salt, Argon2idParameters.Minimum with { MemoryKiB = 8200 });

        Assert.False(a.Span.SequenceEqual(morePasses.Span));
        Assert.False(a.Span.SequenceEqual(moreMemory.Span));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(8)]
    [InlineData(15)]
    [InlineData(17)]
    [InlineData(32)]
    public void DeriveKey_SaltOfWrongSize_ThrowsArgumentException(int size)
    {
        Assert.Throws<ArgumentException>(() => PassphraseKdf.DeriveKey("passphrase"u8, new byte[size], Argon2idParameters.Minimum));
    }

    [Theory]
    [InlineData(8191, 1)]
    [InlineData(8192, 0)]
    [InlineData(0, 0)]
    [InlineData(-1, 3)]
    [InlineData(8192, -1)]
    [InlineData((1024 * 1024) + 1, 1)]
    [InlineData(8192, 17)]
    [InlineData(int.MaxValue, int.MaxValue)]
    public void DeriveKey_ParametersOutOfRange_ThrowsArgumentException(int memoryKiB, int passes)
    {
        var parameters = new Argon2idParameters(memoryKiB, passes);

        Assert.False(parameters.IsWithinBounds);
        Assert.Throws<ArgumentException>(() => PassphraseKdf.DeriveKey("passphrase"u8, Salt, parameters));
    }

    [Fact]
    public void DeriveKey_NullParameters_ThrowsArgumentNullException()
    {
        Assert.Throws<ArgumentNullException>(() => PassphraseKdf.DeriveKey("passphrase"u8, Salt, null!));
    }

    [Fact]
    public void IsWithinBounds_DefaultAndMinimum_AreAccepted()
    {
        Assert.True(Argon2idParameters.Default.IsWithinBounds);
        Assert.True(Argon2idParameters.Minimum.IsWithinBounds);
        Assert.True(new Argon2idParameters(1024 * 1024, 16).IsWithinBounds);
    }

    [Fact]
    public void Default_IsAtLeastAsCostlyAsMinimum()
    {
        Assert.True(Argon2idParameters.Default.MemoryKiB >= Argon2idParameters.Minimum.MemoryKiB);
        Assert.True(Argon2idParameters.Default.Passes >= Argon2idParameters.Minimum.Passes);
    }
}
