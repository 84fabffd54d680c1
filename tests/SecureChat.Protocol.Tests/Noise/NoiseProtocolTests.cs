using SecureChat.Protocol.Noise;

namespace SecureChat.Protocol.Tests.Noise;

/// <summary>Protocol names (Noise spec revision 34, section 8) and pattern modifiers (section 9.4).</summary>
public sealed class NoiseProtocolTests
{
    [Fact]
    public void Parse_ChatProtocol_ExposesItsParts()
    {
        var protocol = NoiseProtocol.Parse("Noise_XX_25519_ChaChaPoly_BLAKE2b");

        Assert.Equal("Noise_XX_25519_ChaChaPoly_BLAKE2b", protocol.Name);
        Assert.Equal("XX", protocol.Pattern.Name);
        Assert.Equal(NoiseCipher.ChaChaPoly, protocol.Cipher);
        Assert.Equal(NoiseHash.Blake2b, protocol.Hash);
        Assert.Equal(3, protocol.Pattern.Messages.Count);
        Assert.False(protocol.Pattern.IsOneWay);
    }

    [Fact]
    public void Parse_TwoPskModifiers_PlacesTokensPerSection94()
    {
        var pattern = NoiseProtocol.Parse("Noise_XXpsk0+psk3_25519_AESGCM_SHA512").Pattern;

        Assert.Equal("XX", pattern.BaseName);
        Assert.Equal(["psk0", "psk3"], pattern.Modifiers);
        Assert.Equal(2, pattern.PreSharedKeyCount);
        Assert.Equal([NoiseToken.Psk, NoiseToken.E], pattern.Messages[0]);
        Assert.Equal([NoiseToken.E, NoiseToken.EE, NoiseToken.S, NoiseToken.ES], pattern.Messages[1]);
        Assert.Equal([NoiseToken.S, NoiseToken.SE, NoiseToken.Psk], pattern.Messages[2]);
    }

    [Fact]
    public void Parse_DeferredPattern_KeepsPreMessages()
    {
        var pattern = HandshakePattern.Parse("X1K1");

        Assert.Empty(pattern.InitiatorPreMessage);
        Assert.Equal([NoiseToken.S], pattern.ResponderPreMessage);
        Assert.Equal([NoiseToken.SE], pattern.Messages[3]);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Noise_XX_25519_ChaChaPoly")]
    [InlineData("Noise_XX_25519_ChaChaPoly_BLAKE2b_extra")]
    [InlineData("noise_XX_25519_ChaChaPoly_BLAKE2b")]
    [InlineData("Noise_xx_25519_ChaChaPoly_BLAKE2b")]
    [InlineData("Noise_ZZ_25519_ChaChaPoly_BLAKE2b")]
    [InlineData("Noise_XX_448_ChaChaPoly_BLAKE2b")]
    [InlineData("Noise_XX_25519_AESGCMSIV_BLAKE2b")]
    [InlineData("Noise_XX_25519_ChaChaPoly_SHA3")]
    [InlineData("Noise_XXfallback_25519_ChaChaPoly_BLAKE2b")]
    [InlineData("Noise_XXpsk4_25519_ChaChaPoly_BLAKE2b")]
    [InlineData("Noise_XXpsk0+psk0_25519_ChaChaPoly_BLAKE2b")]
    [InlineData("Noise_XXpsk01_25519_ChaChaPoly_BLAKE2b")]
    [InlineData("Noise_XX+psk0_25519_ChaChaPoly_BLAKE2b")]
    [InlineData("Noise_XXpsk0+_25519_ChaChaPoly_BLAKE2b")]
    public void TryParse_MalformedOrUnsupported_ReturnsFalse(string name)
    {
        Assert.False(NoiseProtocol.TryParse(name, out var protocol));
        Assert.Null(protocol);
        Assert.Throws<ArgumentException>(() => NoiseProtocol.Parse(name));
    }

    [Fact]
    public void TryParse_LongerThan255_ReturnsFalse()
    {
        var name = "Noise_NNpsk0" + string.Concat(Enumerable.Repeat("+psk1", 60)) + "_25519_ChaChaPoly_BLAKE2b";

        Assert.False(NoiseProtocol.TryParse(name, out _));
    }
}
