using System.Text.RegularExpressions;
using CsCheck;
using SecureChat.Crypto;

namespace SecureChat.Protocol.Identity.Tests;

/// <summary>Account IDs as people type them: 52 z-base-32 characters of the Ed25519 key, and a short fingerprint.</summary>
public sealed partial class AccountIdTests
{
    private static readonly AccountId Account = AccountId.FromPublicKey(IdentityVectors.AccountPublic);

    [Fact]
    public void Text_KnownKey_IsGoldenZBase32()
    {
        Assert.Equal(IdentityVectors.AccountText, Account.Text);
        Assert.Equal(AccountId.TextLength, Account.Text.Length);
        Assert.Equal(IdentityVectors.AccountText, Account.ToString());
        Assert.Equal(IdentityVectors.AccountPublic, Account.PublicKey.ToArray());
    }

    [Fact]
    public void TryParse_TextOfRandomKeys_RoundTrips()
    {
        Gen.Byte.Array[Ed25519.PublicKeySize].Sample(key =>
        {
            var id = AccountId.FromPublicKey(key);

            Assert.Equal(52, id.Text.Length);
            Assert.True(AccountId.TryParse(id.Text, out var parsed));
            Assert.Equal(id, parsed);
            Assert.Equal(key, parsed.PublicKey.ToArray());
        });
    }

    [Fact]
    public void TryParse_UpperCase_GivesTheSameAccount()
    {
        Assert.True(AccountId.TryParse(IdentityVectors.AccountText.ToUpperInvariant(), out var parsed));

        Assert.Equal(Account, parsed);
        Assert.Equal(IdentityVectors.AccountText, parsed.Text);
    }

    [Theory]
    [InlineData(" ", "")]
    [InlineData("", "\n")]
    [InlineData("\t  ", " \r\n")]
    public void TryParse_SurroundingWhiteSpace_IsIgnored(string before, string after)
    {
        Assert.True(AccountId.TryParse(before + IdentityVectors.AccountText + after, out var parsed));

        Assert.Equal(Account, parsed);
    }

    [Theory]
    [InlineData(51)]
    [InlineData(53)]
    public void TryParse_WrongLength_ReturnsFalse(int length)
    {
        var text = (IdentityVectors.AccountText + "y")[..length];

        Assert.False(AccountId.TryParse(text, out var parsed));
        Assert.Null(parsed);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("47pjoycnsrfmxikm95jh13y88e8qnhzu5kungjpxyepgt7a8krp0")] // '0' is not in the alphabet
    [InlineData("47pjoycnsrfmxikm95jh13y88e8qnhzu5kungjpxyepgt7a8krpb")] // non-zero padding bits
    [InlineData("47pjoycnsrfmxikm95jh13y88e8q hzu5kungjpxyepgt7a8krpy")] // inner space
    [InlineData("47pj-oycn-srfm-xikm-95jh-13y8-8e8q-nhzu-5kun-gjpx-yepg")]
    public void TryParse_Malformed_ReturnsFalse(string? text)
    {
        Assert.False(AccountId.TryParse(text, out var parsed));
        Assert.Null(parsed);
    }

    [Fact]
    public void TryParse_RandomStrings_NeverThrows()
    {
        Gen.String.Sample(text =>
        {
            if (AccountId.TryParse(text, out var parsed))
            {
                Assert.Equal(AccountId.TextLength, parsed.Text.Length);
            }
        }, iter: 2000);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(31)]
    [InlineData(33)]
    [InlineData(64)]
    public void FromPublicKey_WrongSize_ThrowsArgumentException(int size)
    {
        Assert.Throws<ArgumentException>(() => AccountId.FromPublicKey(new byte[size]));
    }

    [Fact]
    public void Fingerprint_KnownKey_IsGoldenAndStable()
    {
        Assert.Equal("141n-egz6-auom-xayq", Account.Fingerprint);
        Assert.Equal(Account.Fingerprint, Account.Fingerprint);
        Assert.Equal(Account.Fingerprint, AccountId.FromPublicKey(IdentityVectors.AccountPublic).Fingerprint);
    }

    [Fact]
    public void Fingerprint_AnyKey_IsFourGroupsOfFourAlphabetCharacters()
    {
        Gen.Byte.Array[Ed25519.PublicKeySize].Sample(key =>
            Assert.Matches(FingerprintPattern(), AccountId.FromPublicKey(key).Fingerprint));
    }

    [Fact]
    public void Fingerprint_AnotherKey_Differs()
    {
        Assert.NotEqual(Account.Fingerprint, AccountId.FromPublicKey(IdentityVectors.OtherPublic).Fingerprint);
    }

    [Fact]
    public void Equals_SameKey_IsEqualWithTheSameHashCode()
    {
        var again = AccountId.FromPublicKey(IdentityVectors.AccountPublic);
        var other = AccountId.FromPublicKey(IdentityVectors.OtherPublic);

        Assert.True(Account.Equals(again));
        Assert.True(Account.Equals((object)again));
        Assert.Equal(Account.GetHashCode(), again.GetHashCode());
        Assert.False(Account.Equals(other));
        Assert.False(Account.Equals(null));
    }

    [Fact]
    public void FromPublicKey_CallerChangesItsBuffer_IdIsUnchanged()
    {
        var key = (byte[])IdentityVectors.AccountPublic.Clone();
        var id = AccountId.FromPublicKey(key);

        key[0] ^= 0xFF;

        Assert.Equal(IdentityVectors.AccountPublic, id.PublicKey.ToArray());
    }

    [GeneratedRegex("^[ybndrfg8ejkmcpqxot1uwisza345h769]{4}(-[ybndrfg8ejkmcpqxot1uwisza345h769]{4}){3}$")]
    private static partial Regex FingerprintPattern();
}
