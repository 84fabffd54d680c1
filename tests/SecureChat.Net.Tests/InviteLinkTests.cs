using System.Net;
using CsCheck;
using SecureChat.Protocol.Identity;

namespace SecureChat.Net.Tests;

/// <summary>
/// Invite links as people paste them: what a node writes reads back the same, anything else is
/// refused with a sentence (never an exception), and a link cannot make the reader hold more than
/// <see cref="InviteLink.MaxEndpoints"/> addresses.
/// </summary>
public sealed class InviteLinkTests
{
    private static readonly AccountId Account = AccountId.FromPublicKey(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());

    public static TheoryData<string?, string[]> RoundTripCases => new()
    {
        { null, [] },
        { "Bob", [] },
        { "Bob Smith & Co = ?ok #1 100%", ["127.0.0.1:7311"] },
        { "Zoë Šťastná 日本語 🎉👍🏽", ["[::1]:7311"] },
        { "+/;:@,", ["127.0.0.1:1", "[2001:db8::7]:65535", "bob.example.org:7311", "10.0.0.2:7312"] },
    };

    [Theory]
    [MemberData(nameof(RoundTripCases))]
    public void TryParse_TextOfToString_RoundTrips(string? name, string[] endpoints)
    {
        var link = new InviteLink(Account, name, [.. endpoints.Select(ParseEndpoint)]);

        var text = link.ToString();

        Assert.True(InviteLink.TryParse(text, out var parsed, out var error), error);
        Assert.Null(error);
        AssertSame(link, parsed);
        Assert.True(InviteLink.LooksLikeLink(text));
    }

    [Fact]
    public void ToString_NameAndAddresses_ArePercentEncodedAfterTheId()
    {
        var link = new InviteLink(Account, "Bob & Co=?", [new PeerEndpoint("127.0.0.1", 7311), new PeerEndpoint("::1", 7312)]);

        Assert.Equal($"securechat:{Account.Text}?name=Bob%20%26%20Co%3D%3F&at=127.0.0.1%3A7311&at=%5B%3A%3A1%5D%3A7312", link.ToString());
    }

    [Fact]
    public void ToString_NoNameButAnAddress_StartsTheQueryWithTheAddress()
    {
        var link = new InviteLink(Account, null, [new PeerEndpoint("127.0.0.1", 7311)]);

        Assert.Equal($"securechat:{Account.Text}?at=127.0.0.1%3A7311", link.ToString());
        Assert.Equal($"securechat:{Account.Text}", new InviteLink(Account, "", []).ToString());
    }

    [Theory]
    [InlineData("SECURECHAT:", "", "")]
    [InlineData("SecureChat:", "  ", "\n")]
    [InlineData("securechat:", "\t\r\n ", "  \t")]
    public void TryParse_SchemeInAnyCaseAndSurroundingWhiteSpace_IsAccepted(string scheme, string before, string after)
    {
        var text = before + scheme + Account.Text + "?name=Bob&at=127.0.0.1%3A7311" + after;

        Assert.True(InviteLink.LooksLikeLink(text));
        Assert.True(InviteLink.TryParse(text, out var parsed, out var error), error);
        AssertSame(new InviteLink(Account, "Bob", [new PeerEndpoint("127.0.0.1", 7311)]), parsed);
    }

    [Fact]
    public void TryParse_UnescapedAddressAndUpperCaseId_AreAccepted()
    {
        Assert.True(InviteLink.TryParse($"securechat:{Account.Text.ToUpperInvariant()}?at=127.0.0.1:7311&name=Bob", out var parsed, out var error), error);

        AssertSame(new InviteLink(Account, "Bob", [new PeerEndpoint("127.0.0.1", 7311)]), parsed);
    }

    [Theory]
    [InlineData("https://securechat.example/add?id={0}")]
    [InlineData("secure:{0}")]
    [InlineData("securechat{0}")]
    [InlineData("mailto:{0}")]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(null)]
    public void TryParse_WrongScheme_IsRefusedWithASentence(string? format)
    {
        var text = format is null ? null : string.Format(System.Globalization.CultureInfo.InvariantCulture, format, Account.Text);

        AssertRefused(text, "A SecureChat link starts with 'securechat:'.");
        Assert.False(InviteLink.LooksLikeLink(text));
    }

    [Fact]
    public void TryParse_BareId_IsNotALinkAndIsRefused()
    {
        Assert.False(InviteLink.LooksLikeLink(Account.Text));
        Assert.False(InviteLink.LooksLikeLink(" " + Account.Text + " "));

        AssertRefused(Account.Text, "A SecureChat link starts with 'securechat:'.");
    }

    [Theory]
    [InlineData("securechat:")]
    [InlineData("securechat:?name=Bob")]
    [InlineData("securechat:bob")]
    [InlineData("securechat:47pjoycnsrfmxikm95jh13y88e8qnhzu5kungjpxyepgt7a8krp0")] // '0' is not z-base-32
    [InlineData("securechat:47pjoycnsrfmxikm95jh13y88e8qnhzu5kungjpxyepgt7a8krpyy")] // one character too many
    [InlineData("securechat:47pjoycnsrfmxikm95jh13y88e8qnhzu5kungjpxyepgt7a8krp")] // one too few
    [InlineData("securechat:47pjoycnsrfmxikm95jh13y88e8q hzu5kungjpxyepgt7a8krpy")]
    [InlineData("securechat://47pjoycnsrfmxikm95jh13y88e8qnhzu5kungjpxyepgt7a8krpy")]
    public void TryParse_BadId_IsRefusedWithASentence(string text)
    {
        var error = AssertRefused(text);

        Assert.Equal($"The link does not hold a valid SecureChat ID (an ID is {AccountId.TextLength} characters): ask for the link again.", error);
    }

    [Fact]
    public void TryParse_TextLongerThanMaxLength_IsRefusedBeforeItIsRead()
    {
        var longest = LinkOfLength(InviteLink.MaxLength);
        var tooLong = LinkOfLength(InviteLink.MaxLength + 1);

        Assert.True(InviteLink.TryParse(longest, out _, out var error), error);
        Assert.True(InviteLink.TryParse("  " + longest + "\n", out _, out error), error);
        var refusal = AssertRefused(tooLong);
        Assert.Contains(InviteLink.MaxLength.ToString(System.Globalization.CultureInfo.InvariantCulture), refusal, StringComparison.Ordinal);
        AssertRefused(new string('x', 1_000_000));
    }

    [Theory]
    [InlineData("at=", "The address is empty")]
    [InlineData("at=127.0.0.1", "'127.0.0.1' is not a valid address")]
    [InlineData("at=127.0.0.1%3A0", "'0' is not a valid port")]
    [InlineData("at=127.0.0.1:70000", "'70000' is not a valid port")]
    [InlineData("at=%5B%3A%3A1%5D", "is not a valid address")]
    [InlineData("at=[nonsense]:7311", "'nonsense' is not a valid IPv6 address")]
    [InlineData("name=Bob&at=127.0.0.1:7311&at=bad_host!:1", "is not a valid host name")]
    public void TryParse_BadAddress_IsRefusedWithTheAddressError(string query, string expected)
    {
        var error = AssertRefused($"securechat:{Account.Text}?{query}");

        Assert.StartsWith("The link's address is not usable: ", error, StringComparison.Ordinal);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("name=%zz")]
    [InlineData("name=100%")]
    [InlineData("name=%E9t%E9")] // Latin-1 bytes: not UTF-8
    public void TryParse_BadPercentEncoding_IsRefusedWithASentence(string query)
    {
        var key = query[..query.IndexOf('=', StringComparison.Ordinal)];

        var error = AssertRefused($"securechat:{Account.Text}?{query}");

        Assert.Equal($"The link's '{key}' is not percent-encoded UTF-8 text: ask for the link again.", error);
    }

    [Theory]
    [InlineData("v=2&name=Bob&colour=blue")]
    [InlineData("name=Bob&flag&&=x&attach=127.0.0.1")]
    [InlineData("NAME=Eve&name=Bob&AT=bad")]
    public void TryParse_UnknownParameters_AreIgnored(string query)
    {
        Assert.True(InviteLink.TryParse($"securechat:{Account.Text}?{query}", out var parsed, out var error), error);

        AssertSame(new InviteLink(Account, "Bob", []), parsed);
    }

    [Fact]
    public void TryParse_MoreAddressesThanMaxEndpoints_KeepsTheFirstMaxEndpoints()
    {
        var endpoints = Enumerable.Range(1, InviteLink.MaxEndpoints + 5).Select(i => new PeerEndpoint("127.0.0.1", 7000 + i)).ToList();
        var text = $"securechat:{Account.Text}?" + string.Join('&', endpoints.Select(e => $"at={e}"));

        Assert.True(InviteLink.TryParse(text, out var parsed, out var error), error);

        Assert.Equal(endpoints.Take(InviteLink.MaxEndpoints), parsed.Endpoints);
    }

    [Fact]
    public void TryParse_BadAddressPastTheCap_IsPassedOver()
    {
        var text = $"securechat:{Account.Text}?" + string.Concat(Enumerable.Range(1, InviteLink.MaxEndpoints).Select(i => $"at=127.0.0.1:{i}&")) + "at=nonsense";

        Assert.True(InviteLink.TryParse(text, out var parsed, out var error), error);

        Assert.Equal(InviteLink.MaxEndpoints, parsed.Endpoints.Count);
    }

    [Fact]
    public void TryParse_ArbitraryText_NeverThrows()
    {
        Gen.String.Sample(CheckTotal, iter: 5000);
    }

    [Fact]
    public void TryParse_ArbitraryTextAfterAValidId_NeverThrows()
    {
        // Random text rarely gets past the scheme; text after a real ID reaches the query parser.
        var query = Gen.OneOf(
            Gen.String,
            Gen.Char["?&=%atnme:[]0123456789.ABCDEFabcdef \u00e9\ud83c\udf89"].Array[0, 120].Select(chars => new string(chars)));
        Gen.Select(Gen.OneOf("securechat:", " SECURECHAT:"), query).Sample(
            (scheme, rest) => CheckTotal(scheme + Account.Text + "?" + rest),
            iter: 5000);
    }

    [Fact]
    public void TryParse_GeneratedLinks_RoundTrip()
    {
        Gen.Select(Accounts(), Names(), Endpoints().List[0, InviteLink.MaxEndpoints]).Sample(
            (account, name, endpoints) =>
            {
                var link = new InviteLink(account, name, endpoints);

                Assert.True(InviteLink.TryParse(link.ToString(), out var parsed, out var error), error);
                AssertSame(link, parsed);
            },
            iter: 2000);
    }

    private static void CheckTotal(string? text)
    {
        var ok = InviteLink.TryParse(text, out var link, out var error);

        Assert.Equal(ok, link is not null);
        Assert.Equal(ok, error is null);
        if (ok)
        {
            Assert.True(link!.Endpoints.Count <= InviteLink.MaxEndpoints);
        }
        else
        {
            Assert.False(string.IsNullOrWhiteSpace(error));
        }
    }

    private static Gen<AccountId> Accounts() => Gen.Byte.Array[32].Select(key => AccountId.FromPublicKey(key));

    /// <summary>Null or non-empty names, from pieces chosen to need escaping: delimiters, non-ASCII, emoji (surrogate pairs).</summary>
    private static Gen<string?> Names() =>
        Gen.OneOf("a", "Z", " ", "&", "=", "?", "#", "%", "+", "/", ":", "é", "ß", "日本", "Привет", "🎉", "👍🏽", "\t", "%20")
            .Array[1, 12]
            .Select(pieces => string.Concat(pieces))
            .Null(0.2)!;

    private static Gen<PeerEndpoint> Endpoints() =>
        Gen.Select(
            Gen.OneOf(
                Gen.Byte.Array[4].Select(bytes => new IPAddress(bytes).ToString()),
                Gen.Byte.Array[16].Select(bytes => new IPAddress(bytes).ToString()),
                Gen.OneOf("localhost", "bob.example.org", "::1")),
            Gen.Int[1, 65535],
            (host, port) => new PeerEndpoint(host, port));

    private static string LinkOfLength(int length)
    {
        var prefix = new InviteLink(Account, "x", []).ToString();
        return prefix + new string('y', length - prefix.Length);
    }

    private static PeerEndpoint ParseEndpoint(string text)
    {
        Assert.True(PeerEndpoint.TryParse(text, out var endpoint, out var error), error);
        return endpoint;
    }

    private static string AssertRefused(string? text, string? expected = null)
    {
        Assert.False(InviteLink.TryParse(text, out var link, out var error));
        Assert.Null(link);
        Assert.NotNull(error);
        Assert.EndsWith(".", error, StringComparison.Ordinal);
        if (expected is not null)
        {
            Assert.Equal(expected, error);
        }

        return error;
    }

    /// <summary>The record's generated equality compares the address list by reference, so the parts are compared one by one.</summary>
    private static void AssertSame(InviteLink expected, InviteLink? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.Account, actual.Account);
        Assert.Equal(expected.Name, actual.Name);
        Assert.Equal(expected.Endpoints, actual.Endpoints);
        Assert.Equal(expected.Token, actual.Token);
    }

    private static readonly byte[] TokenBytes = [.. Enumerable.Range(200, InviteLink.TokenBytes).Select(i => (byte)i)];

    [Theory]
    [InlineData(null, new string[0])]
    [InlineData("Bob", new[] { "127.0.0.1:7311", "[::1]:7312" })]
    public void TryParse_LinkWithToken_RoundTripsTheToken(string? name, string[] endpoints)
    {
        var link = new InviteLink(Account, name, [.. endpoints.Select(ParseEndpoint)], InviteLink.EncodeToken(TokenBytes));

        var text = link.ToString();

        Assert.True(InviteLink.TryParse(text, out var parsed, out var error), error);
        AssertSame(link, parsed);
        Assert.EndsWith("t=yMnKy8zNzs_Q0dLT1NXW1w", text, StringComparison.Ordinal);
        Assert.True(InviteLink.TryDecodeToken(parsed.Token, out var bytes));
        Assert.Equal(TokenBytes, bytes);
    }

    [Fact]
    public void EncodeToken_RandomTokens_AreUrlSafeAndDecodeBack()
    {
        Gen.Byte.Array[InviteLink.TokenBytes].Sample(token =>
        {
            var text = InviteLink.EncodeToken(token);
            Assert.Equal(InviteLink.TokenLength, text.Length);
            Assert.All(text, c => Assert.True(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'));
            Assert.True(InviteLink.TryDecodeToken(text, out var back));
            Assert.Equal(token, back);
            Assert.True(InviteLink.TryParse($"securechat:{Account.Text}?t={text}", out var link, out _));
            Assert.Equal(text, link.Token);
        });
    }

    [Theory]
    [InlineData("t=")] // empty
    [InlineData("t=yMnKy8zNzs_Q0dLT1NXW1")] // one character short
    [InlineData("t=yMnKy8zNzs_Q0dLT1NXW1ww")] // one too many
    [InlineData("t=yMnKy8zNzs_Q0dLT1NXW1x")] // the last character carries bits no token has
    [InlineData("t=yMnKy8zNzs%2FQ0dLT1NXW1w")] // '/' (base64, not base64url)
    [InlineData("t=yMnKy8zNzs+Q0dLT1NXW1w")] // '+'
    [InlineData("t=yMnKy8zNzs_Q0dLT1NXW1w==")] // padded
    [InlineData("t=yMnKy8zNzs_Q0dLT1NXW1w&t=yMnKy8zNzs_Q0dLT1NXW1w")] // twice
    [InlineData("t=yMnKy8zNzs_Q0dLT1NXW1%")] // broken escape
    [InlineData("t")] // no value
    public void TryParse_MalformedToken_IsRefusedWithASentence(string query)
    {
        Assert.False(InviteLink.TryParse($"securechat:{Account.Text}?{query}", out var link, out var error));
        Assert.Null(link);
        Assert.NotNull(error);
        Assert.EndsWith(".", error, StringComparison.Ordinal);
    }

    [Fact]
    public void New_MalformedToken_Throws()
    {
        Assert.Throws<ArgumentException>(() => new InviteLink(Account, null, [], "not a token"));
        Assert.Throws<ArgumentException>(() => InviteLink.EncodeToken(new byte[15]));
    }
}
