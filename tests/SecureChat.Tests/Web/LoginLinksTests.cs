using Microsoft.Extensions.Time.Testing;
using SecureChat.Web;

namespace SecureChat.Tests.Web;

/// <summary>
/// The one-time tokens of the web UI's links against a fake clock: each is traded once, within its
/// lifetime; every refusal says why and how to get a fresh link.
/// </summary>
[Trait("Speed", "Slow")]
public sealed class LoginLinksTests
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public void Redeem_ALiveToken_IsAcceptedOnce_ThenSpent()
    {
        var links = new LoginLinks(_clock, LoginLinks.DefaultLifetime);
        var token = links.Issue();

        Assert.Equal(LinkRedemption.Accepted, links.Redeem(token));
        Assert.Equal(LinkRedemption.Spent, links.Redeem(token));
        Assert.Equal(LinkRedemption.Spent, links.Redeem(token));

        // Spent stays spent, even past the lifetime: the sentence says why it was refused.
        _clock.Advance(LoginLinks.DefaultLifetime);
        Assert.Equal(LinkRedemption.Spent, links.Redeem(token));
    }

    [Fact]
    public void Redeem_JustBeforeTheLifetimeEnds_IsAccepted()
    {
        var links = new LoginLinks(_clock, LoginLinks.DefaultLifetime);
        var token = links.Issue();

        _clock.Advance(LoginLinks.DefaultLifetime - TimeSpan.FromMilliseconds(1));

        Assert.Equal(LinkRedemption.Accepted, links.Redeem(token));
    }

    [Fact]
    public void Redeem_AtTheEndOfTheLifetime_IsExpiredForever()
    {
        var links = new LoginLinks(_clock, LoginLinks.DefaultLifetime);
        var token = links.Issue();
        var other = links.Issue();

        _clock.Advance(LoginLinks.DefaultLifetime);

        Assert.Equal(LinkRedemption.Expired, links.Redeem(token));
        Assert.Equal(LinkRedemption.Expired, links.Redeem(token));
        Assert.Equal(LinkRedemption.Expired, links.Redeem(other));

        // A token made now has a lifetime of its own.
        Assert.Equal(LinkRedemption.Accepted, links.Redeem(links.Issue()));
    }

    [Fact]
    public void Redeem_ATokenNotIssuedHere_IsUnknown()
    {
        var links = new LoginLinks(_clock, LoginLinks.DefaultLifetime);
        var token = links.Issue();
        var elsewhere = new LoginLinks(_clock, LoginLinks.DefaultLifetime).Issue();

        string?[] strangers = [null, string.Empty, "   ", elsewhere, token[..^1], token + "A", token.ToUpperInvariant(), new string('A', 257)];
        foreach (var stranger in strangers)
        {
            Assert.Equal(LinkRedemption.Unknown, links.Redeem(stranger));
        }

        // None of them spent the real one.
        Assert.Equal(LinkRedemption.Accepted, links.Redeem(token));
    }

    [Fact]
    public void Issue_ManyTimes_GivesDistinct256BitTokens_AndForgetsTheOldestPastTheBound()
    {
        var links = new LoginLinks(_clock, LoginLinks.DefaultLifetime);
        var first = links.Issue();
        var tokens = Enumerable.Range(0, LoginLinks.MaxRemembered).Select(_ => links.Issue()).ToList();

        Assert.All(tokens, t => Assert.Matches("^[A-Za-z0-9_-]{43}$", t));
        Assert.Equal(tokens.Count, tokens.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(LinkRedemption.Unknown, links.Redeem(first));
        Assert.Equal(LinkRedemption.Accepted, links.Redeem(tokens[0]));
        Assert.Equal(LinkRedemption.Accepted, links.Redeem(tokens[^1]));
    }

    [Fact]
    public void Refusal_OfEachKind_IsASentenceThatNamesSecurechatUi()
    {
        var links = new LoginLinks(_clock, TimeSpan.FromMinutes(10));

        Assert.Equal(
            "This link has expired: a link is good for 10 minutes after the node made it. For a fresh link, run `securechat ui` in a terminal and open the link it prints.",
            links.Refusal(LinkRedemption.Expired));
        foreach (var outcome in new[] { LinkRedemption.Spent, LinkRedemption.Expired, LinkRedemption.Unknown })
        {
            var sentence = links.Refusal(outcome);
            Assert.Contains("run `securechat ui` in a terminal", sentence, StringComparison.Ordinal);
            Assert.EndsWith(".", sentence, StringComparison.Ordinal);
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => links.Refusal(LinkRedemption.Accepted));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LoginLinks(_clock, TimeSpan.Zero));
    }

    [Theory]
    [InlineData(600, "10 minutes")]
    [InlineData(60, "1 minute")]
    [InlineData(1, "1 second")]
    [InlineData(90, "90 seconds")]
    public void Describe_ALifetime_ReadsAsPeopleSayIt(int seconds, string expected) =>
        Assert.Equal(expected, LoginLinks.Describe(TimeSpan.FromSeconds(seconds)));
}
