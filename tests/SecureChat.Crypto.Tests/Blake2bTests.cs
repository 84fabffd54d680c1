namespace SecureChat.Crypto.Tests;

/// <summary>BLAKE2b against RFC 7693.</summary>
public sealed class Blake2bTests
{
    [Fact]
    public void Hash512_Rfc7693AppendixA_MatchesVector()
    {
        Assert.Equal(
            "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923",
            Convert.ToHexStringLower(Blake2b.Hash512("abc"u8)));
    }

    [Fact]
    public void Hash256_Abc_MatchesReference()
    {
        // BLAKE2b with a 32-byte digest (parameter block digest length 32, not a truncation of BLAKE2b-512).
        Assert.Equal(
            "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319",
            Convert.ToHexStringLower(Blake2b.Hash256("abc"u8)));
    }

    [Fact]
    public void Hash256_EmptyInput_MatchesReference()
    {
        Assert.Equal(
            "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8",
            Convert.ToHexStringLower(Blake2b.Hash256([])));
    }
}
