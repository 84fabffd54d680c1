using System.Text.RegularExpressions;

namespace SecureChat.Protocol.Identity.Tests;

/// <summary>The number two people read to each other: the same on both sides, 60 digits in 12 groups of 5.</summary>
public sealed partial class SafetyNumberTests
{
    private static readonly AccountId A = AccountId.FromPublicKey(IdentityVectors.AccountPublic);
    private static readonly AccountId B = AccountId.FromPublicKey(IdentityVectors.OtherPublic);

    [Fact]
    public void Compute_KnownPair_IsGolden()
    {
        Assert.Equal("53998 10490 50526 53369 29291 87383 56461 25884 01624 15725 66169 55343", SafetyNumber.Compute(A, B));
    }

    [Fact]
    public void Compute_EitherOrder_GivesTheSameNumber()
    {
        Assert.Equal(SafetyNumber.Compute(A, B), SafetyNumber.Compute(B, A));
    }

    [Fact]
    public void Compute_AnyPair_IsTwelveGroupsOfFiveDigits()
    {
        var number = SafetyNumber.Compute(A, B);

        Assert.Matches(SafetyNumberPattern(), number);
        Assert.Equal(60, number.Count(char.IsAsciiDigit));
        Assert.Equal(12, number.Split(' ').Length);
    }

    [Fact]
    public void Compute_AnotherPair_Differs()
    {
        var c = AccountId.FromPublicKey(Enumerable.Repeat((byte)7, 32).ToArray());

        Assert.NotEqual(SafetyNumber.Compute(A, B), SafetyNumber.Compute(A, c));
        Assert.NotEqual(SafetyNumber.Compute(A, B), SafetyNumber.Compute(c, B));
    }

    [Fact]
    public void Compute_NullAccount_ThrowsArgumentNullException()
    {
        Assert.Throws<ArgumentNullException>(() => SafetyNumber.Compute(A, null!));
        Assert.Throws<ArgumentNullException>(() => SafetyNumber.Compute(null!, A));
    }

    [GeneratedRegex(@"^\d{5}( \d{5}){11}$")]
    private static partial Regex SafetyNumberPattern();
}
