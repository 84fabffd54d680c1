using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace SecureChat.Tests.Web;

/// <summary>
/// Opening the window in a real browser: the printed link (with <c>#token=</c>) opens the app and
/// leaves no token in the address; the same link a second time, the bare address, or a link with
/// a wrong token, shows only the explainer, with the node's sentence on how to get a fresh link.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(BrowserCollection.Name)]
public sealed class LoginTests(BrowserFixture browser, ITestOutputHelper output) : IAsyncLifetime
{
    private WebNode _node = null!;

    public async Task InitializeAsync() => _node = await WebNode.StartAsync("Alice");

    public async Task DisposeAsync() => await _node.DisposeAsync();

    [Fact]
    public async Task PrintedLink_Opened_LoadsTheAppAndLeavesNoTokenInTheAddress()
    {
        await using var session = await browser.NewSessionAsync(output);
        var page = await session.NewPageAsync();
        await page.GotoAsync(_node.LoginUrl.ToString());

        await Expect(page.Locator("#app")).ToBeVisibleAsync();
        Assert.Equal(string.Empty, await page.EvaluateAsync<string>("() => location.hash"));
        Assert.DoesNotContain(_node.Token, page.Url, StringComparison.Ordinal);
        Assert.Equal(0, await page.Locator("#explainer").CountAsync());

        // The session is an HttpOnly cookie: no script of the page can read it.
        Assert.DoesNotContain("sc-session", await page.EvaluateAsync<string>("() => document.cookie"), StringComparison.Ordinal);
        var cookies = await session.Context.CookiesAsync([_node.BaseUrl.ToString()]);
        var cookie = Assert.Single(cookies, c => c.Name == $"sc-session-{_node.Port}");
        Assert.True(cookie.HttpOnly);
        Assert.Equal(Microsoft.Playwright.SameSiteAttribute.Strict, cookie.SameSite);

        // A reload keeps the session: the bare address now opens the app.
        await page.ReloadAsync();
        await Expect(page.Locator("#app")).ToBeVisibleAsync();
        session.AssertNoErrors();
    }

    [Fact]
    public async Task BareAddress_InAFreshBrowser_ShowsOnlyTheExplainer()
    {
        await using var session = await browser.NewSessionAsync(output);
        var page = await session.NewPageAsync();
        var response = await page.GotoAsync(_node.BaseUrl.ToString());

        Assert.Equal(401, response?.Status);
        await Expect(page.Locator("#explainer")).ToBeVisibleAsync();
        await Expect(page.Locator("#explainer")).ToContainTextAsync("securechat run");
        Assert.Equal(0, await page.Locator("#app").CountAsync());
        await Expect(page.Locator("#login-error")).ToBeHiddenAsync();
        await Artifacts.ScreenshotAsync(page, "welcome", output);
        session.AssertNoErrors();
    }

    [Fact]
    public async Task PrintedLink_OpenedInASecondBrowser_IsRefusedWithHowToGetAFreshLink()
    {
        await using (var first = await browser.NewSessionAsync(output))
        {
            var page = await first.NewPageAsync();
            await page.GotoAsync(_node.LoginUrl.ToString());
            await Expect(page.Locator("#app")).ToBeVisibleAsync();
            first.AssertNoErrors();
        }

        await using var second = await browser.NewSessionAsync(output);
        var again = await second.NewPageAsync();
        await again.GotoAsync(_node.LoginUrl.ToString());

        await Expect(again.Locator("#login-error")).ToHaveTextAsync(
            "This link has been used already: each link opens one browser, once. For a fresh link, run `securechat ui` in a terminal and open the link it prints.");
        await Expect(again.Locator("#explainer")).ToContainTextAsync("securechat ui");
        Assert.Equal(0, await again.Locator("#app").CountAsync());
        Assert.Empty(await second.Context.CookiesAsync([_node.BaseUrl.ToString()]));
        await Artifacts.ScreenshotAsync(again, "welcome-used-link", output);
        second.AssertNoErrors("/session");
    }

    [Fact]
    public async Task LinkWithAWrongToken_ShowsTheExplainerWithAnError()
    {
        await using var session = await browser.NewSessionAsync(output);
        var page = await session.NewPageAsync();
        var wrong = new Uri(_node.BaseUrl, "#token=" + new string('A', _node.Token.Length));
        await page.GotoAsync(wrong.ToString());

        await Expect(page.Locator("#login-error")).ToBeVisibleAsync();
        await Expect(page.Locator("#login-error")).ToContainTextAsync("is not one of the running node's");
        await Expect(page.Locator("#login-error")).ToContainTextAsync("securechat ui");
        await Expect(page.Locator("#explainer")).ToBeVisibleAsync();
        Assert.Equal(0, await page.Locator("#app").CountAsync());
        Assert.Equal(string.Empty, await page.EvaluateAsync<string>("() => location.hash"));
        Assert.Empty(await session.Context.CookiesAsync([_node.BaseUrl.ToString()]));
        await Artifacts.ScreenshotAsync(page, "welcome-wrong-token", output);

        // The refused POST /session is the one error the console may show.
        session.AssertNoErrors("/session");
    }
}
