using System.Net;

namespace SecureChat.Dht.Tests;

/// <summary>
/// BEP 5's announce tokens: tied to the querier's IP address, and accepted for up to ten minutes
/// (the current secret and the one before it, rotated every five) however busy or quiet the node was.
/// </summary>
public sealed class TokenIssuerTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 24, 0, 0, 0, TimeSpan.Zero);
    private static readonly IPAddress Alice = IPAddress.Parse("192.0.2.1");
    private static readonly IPAddress Mallory = IPAddress.Parse("192.0.2.66");

    [Fact]
    public void Check_TokenJustIssued_IsAccepted()
    {
        var tokens = new TokenIssuer();

        var token = tokens.Issue(Alice, Start);

        Assert.Equal(TokenIssuer.TokenSize, token.Length);
        Assert.True(tokens.Check(token, Alice, Start));
    }

    [Theory]
    [InlineData("192.0.2.66")]
    [InlineData("192.0.2.0")]
    [InlineData("::ffff:192.0.2.2")]
    [InlineData("2001:db8::1")]
    public void Check_TokenOfAnotherAddress_IsRejected(string other)
    {
        var tokens = new TokenIssuer();

        Assert.False(tokens.Check(tokens.Issue(Alice, Start), IPAddress.Parse(other), Start));
    }

    [Fact]
    public void Check_TokenOfAnotherNode_IsRejected()
    {
        Assert.False(new TokenIssuer().Check(new TokenIssuer().Issue(Alice, Start), Alice, Start));
    }

    [Fact]
    public void Check_TokenWithAByteChanged_IsRejected()
    {
        var tokens = new TokenIssuer();
        var token = tokens.Issue(Alice, Start);
        for (var i = 0; i < token.Length; i++)
        {
            var changed = (byte[])token.Clone();
            changed[i] ^= 1;
            Assert.False(tokens.Check(changed, Alice, Start));
        }
    }

    [Fact]
    public void Check_TokenTruncatedOrExtended_IsRejected()
    {
        var tokens = new TokenIssuer();
        var token = tokens.Issue(Alice, Start);

        Assert.False(tokens.Check(token[..^1], Alice, Start));
        Assert.False(tokens.Check([.. token, 0], Alice, Start));
        Assert.False(tokens.Check([], Alice, Start));
    }

    [Fact]
    public void Check_OneRotationLater_IsAccepted()
    {
        var tokens = new TokenIssuer();
        var token = tokens.Issue(Alice, Start);
        tokens.Issue(Mallory, Start.AddMinutes(5));

        Assert.True(tokens.Check(token, Alice, Start.AddMinutes(9)));
    }

    [Fact]
    public void Check_TwoRotationsLater_IsRejected()
    {
        var tokens = new TokenIssuer();
        var token = tokens.Issue(Alice, Start);
        tokens.Issue(Mallory, Start.AddMinutes(5));

        Assert.False(tokens.Check(token, Alice, Start.AddMinutes(10)));
    }

    [Fact]
    public void Check_SevenMinutesOnAQuietNode_IsAccepted()
    {
        var tokens = new TokenIssuer();
        var token = tokens.Issue(Alice, Start);

        Assert.True(tokens.Check(token, Alice, Start.AddMinutes(7)));
    }

    [Theory]
    [InlineData(10)]
    [InlineData(60)]
    [InlineData(24 * 60)]
    public void Check_TenMinutesOrMoreOnAQuietNode_IsRejected(int minutes)
    {
        // With no token issued or checked in between, the secrets must still have moved on.
        var tokens = new TokenIssuer();
        var token = tokens.Issue(Alice, Start);

        Assert.False(tokens.Check(token, Alice, Start.AddMinutes(minutes)));
    }
}
