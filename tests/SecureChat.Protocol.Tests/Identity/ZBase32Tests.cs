using CsCheck;

namespace SecureChat.Protocol.Identity.Tests;

/// <summary>
/// z-base-32 with the alphabet <c>ybndrfg8ejkmcpqxot1uwisza345h769</c>, bits most significant
/// first, the last character padded with zero bits.
/// </summary>
public sealed class ZBase32Tests
{
    private const string Alphabet = "ybndrfg8ejkmcpqxot1uwisza345h769";

    // 0x00 = 00000 000|00 -> y y; 0xFF = 11111 111|00 -> 31 28 -> 9 h; 0xF0 = 11110 000|00 -> 30 0 -> 6 y;
    // 0x01 0x02 = 00000 00100 00001 0|0000 -> 0 4 1 0 -> y r b y; "hello" is the spec's usual example.
    [Theory]
    [InlineData("", "")]
    [InlineData("00", "yy")]
    [InlineData("ff", "9h")]
    [InlineData("f0", "6y")]
    [InlineData("0102", "yrby")]
    [InlineData("68656c6c6f", "pb1sa5dx")]
    public void Encode_KnownBytes_GivesGoldenText(string hex, string text)
    {
        Assert.Equal(text, ZBase32.Encode(Convert.FromHexString(hex)));
    }

    [Theory]
    [InlineData("yy", "00")]
    [InlineData("9h", "ff")]
    [InlineData("9H", "ff")]
    [InlineData("6y", "f0")]
    [InlineData("yrby", "0102")]
    [InlineData("PB1SA5DX", "68656c6c6f")]
    public void TryDecode_GoldenText_GivesKnownBytes(string text, string hex)
    {
        var output = new byte[hex.Length / 2];

        Assert.True(ZBase32.TryDecode(text, output));
        Assert.Equal(hex, Convert.ToHexStringLower(output));
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 2)]
    [InlineData(2, 4)]
    [InlineData(3, 5)]
    [InlineData(4, 7)]
    [InlineData(5, 8)]
    [InlineData(10, 16)]
    [InlineData(32, 52)]
    public void EncodedLength_ByteCount_IsCeilingOfBitsOverFive(int bytes, int chars)
    {
        Assert.Equal(chars, ZBase32.EncodedLength(bytes));
    }

    [Fact]
    public void TryDecode_EncodeOfRandomBytes_RoundTrips()
    {
        Gen.Byte.Array[0, 80].Sample(bytes =>
        {
            var text = ZBase32.Encode(bytes);
            var output = new byte[bytes.Length];

            Assert.Equal(ZBase32.EncodedLength(bytes.Length), text.Length);
            Assert.All(text, c => Assert.Contains(c, Alphabet));
            Assert.True(ZBase32.TryDecode(text, output));
            Assert.Equal(bytes, output);
            Assert.True(ZBase32.TryDecode(text.ToUpperInvariant(), output));
            Assert.Equal(bytes, output);
        }, iter: 2000);
    }

    [Theory]
    [InlineData("y", 1)]
    [InlineData("yyy", 1)]
    [InlineData("", 1)]
    [InlineData("yy", 0)]
    [InlineData("yyy", 2)]
    [InlineData("yyyyy", 2)]
    public void TryDecode_WrongLength_ReturnsFalse(string text, int byteCount)
    {
        Assert.False(ZBase32.TryDecode(text, new byte[byteCount]));
    }

    [Theory]
    [InlineData("0y")] // 0, l, v and 2 are left out of the alphabet on purpose
    [InlineData("ly")]
    [InlineData("vy")]
    [InlineData("2y")]
    [InlineData("y=")]
    [InlineData("y ")]
    [InlineData("y-")]
    [InlineData("y\0")]
    [InlineData("yé")]
    public void TryDecode_CharacterOutsideTheAlphabet_ReturnsFalse(string text)
    {
        Assert.False(ZBase32.TryDecode(text, new byte[1]));
    }

    [Fact]
    public void TryDecode_LookAlikeOfAnAlphabetLetter_ReturnsFalse()
    {
        // U+212A KELVIN SIGN lower-cases to 'k' in Unicode, but it is not the letter a person typed.
        var text = ZBase32.Encode(new byte[] { 0x52, 0x52 });
        Assert.Contains('k', text);
        var disguised = text.Replace('k', '\u212A');

        Assert.True(ZBase32.TryDecode(text.ToUpperInvariant(), new byte[2]));
        Assert.False(ZBase32.TryDecode(disguised, new byte[2]));
    }

    [Fact]
    public void TryDecode_NonZeroPaddingBits_ReturnsFalse()
    {
        // One byte is 8 bits in 2 characters: the second character's low 2 bits are padding, so of
        // its 32 values only 0, 4, 8, ..., 28 are canonical.
        for (var value = 0; value < 32; value++)
        {
            var text = "y" + Alphabet[value];
            Assert.Equal(value % 4 == 0, ZBase32.TryDecode(text, new byte[1]));
        }

        // 32 bytes: 256 bits in 52 characters leave 4 padding bits, so only 'y' (0) and 'o' (16) may end an ID.
        var key = new byte[32];
        var id = ZBase32.Encode(key);
        for (var value = 0; value < 32; value++)
        {
            var text = id[..^1] + Alphabet[value];
            Assert.Equal(value is 0 or 16, ZBase32.TryDecode(text, key));
        }
    }

    [Fact]
    public void TryDecode_RandomStrings_NeverThrows()
    {
        Gen.String.Sample(text =>
        {
            var output = new byte[text.Length * 5 / 8];
            _ = ZBase32.TryDecode(text, output);
            _ = ZBase32.TryDecode(text, new byte[32]);
        }, iter: 2000);
    }

    [Fact]
    public void TryDecode_RandomAlphabetStrings_AcceptsExactlyTheCanonicalSpellings()
    {
        Gen.Char[Alphabet + Alphabet.ToUpperInvariant()].Array[0, 60].Select(chars => new string(chars)).Sample(text =>
        {
            var byteCount = text.Length * 5 / 8;
            var output = new byte[byteCount];
            var decoded = ZBase32.TryDecode(text, output);

            Assert.Equal(decoded, ZBase32.EncodedLength(byteCount) == text.Length && ZBase32.Encode(output) == text.ToLowerInvariant());
        }, iter: 2000);
    }
}
