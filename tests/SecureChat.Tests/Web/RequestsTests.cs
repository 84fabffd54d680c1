using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using SecureChat.Testing;
using SecureChat.Tests.Node;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace SecureChat.Tests.Web;

/// <summary>
/// Requests in a real browser: a stranger (a node of its own, named as it likes) dials Alice's
/// node; her window shows it as a request, never as a contact, and her Accept, Decline and Block
/// do what they say, to the node's store and to the stranger's next connection.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(BrowserCollection.Name)]
public sealed partial class RequestsTests(BrowserFixture browser, ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>The paths a page's console may report refused: the login page itself (401 until the token is traded).</summary>
    private static readonly string[] Login = ["/"];

    private WebNode _alice = null!;

    public async Task InitializeAsync() => _alice = await WebNode.StartAsync("Alice");

    public async Task DisposeAsync() => await _alice.DisposeAsync();

    [Fact]
    public async Task StrangerCallingItselfByAContactsId_ShownAsARequestThenAsItsClaim_NeverReceivesWhatIsTypedToTheContact()
    {
        // Bob knows Alice by ID (so she is no stranger to him); Alice adds Bob by ID and address, named "bob".
        await using var bob = await WebNode.StartAsync("Bob");
        using (await bob.Api.AddContactAsync(_alice.Identity))
        using (await _alice.Api.AddContactAsync(bob.Identity with { Name = "bob" }, bob.Node.ListenAddress))
        {
        }

        // The stranger calls itself by Bob's full account ID.
        await using var stranger = await WebNode.StartAsync(bob.Id);
        await using var session = await browser.NewSessionAsync(output);
        var alice = await ChatPage.OpenAsync(session, _alice);
        await DialAliceAsync(stranger);
        await stranger.Api.SendAsync(_alice.Id, "Alice, it's Bob: this is my new account.");

        // A request that shows the name as its claim, with the stranger's own fingerprint and ID; not a contact.
        var request = alice.Request(stranger.Id);
        await Expect(request.Locator(".request-claim")).ToHaveTextAsync($"calls themself “{bob.Id}”");
        await Expect(request.Locator(".request-fingerprint")).ToHaveTextAsync(stranger.Identity.Fingerprint);
        await Expect(request.Locator(".request-id")).ToHaveTextAsync(stranger.Id);
        await Expect(request.Locator(".request-messages")).ToContainTextAsync("Alice, it's Bob: this is my new account.");
        await Expect(alice.Page.Locator("#requests-count")).ToHaveTextAsync("1");
        await Expect(alice.Page.Locator("#contact-list button.contact")).ToHaveCountAsync(1);
        await Expect(alice.ContactById(bob.Id).Locator(".contact-name")).ToHaveTextAsync("bob");
        await Expect(alice.Page.Locator("#contact-list")).Not.ToContainTextAsync(stranger.Identity.Fingerprint);
        await Artifacts.ScreenshotAsync(alice.Page, "requests-hijack", output);

        // Bob's entry opens Bob's conversation, and what Alice types there reaches Bob's node.
        await OpenAsync(alice, bob, "bob");
        await alice.SendAsync("Meet at the station at six.");
        await ExpectDeliveredToAsync(alice, bob, "Meet at the station at six.");
        await ExpectNeverReceivedAsync(stranger, "Meet at the station at six.");

        // Accepted without a name: a contact shown as its claim, fingerprint beside it, with its held message.
        await request.Locator("[data-role=accept]").ClickAsync();
        await Expect(request).ToHaveCountAsync(0);
        await Expect(alice.Page.Locator("#no-requests")).ToBeVisibleAsync();
        await Expect(alice.Page.Locator("#requests-count")).ToBeHiddenAsync();
        var accepted = alice.ContactById(stranger.Id);
        await Expect(accepted.Locator(".contact-name")).ToHaveTextAsync($"calls themself “{bob.Id}”");
        await Expect(accepted.Locator(".contact-fingerprint")).ToHaveTextAsync(stranger.Identity.Fingerprint);
        await Expect(alice.Page.Locator("#conversation-title")).ToHaveTextAsync($"calls themself “{bob.Id}”");
        await Expect(alice.Page.Locator("#conversation-fingerprint")).ToHaveTextAsync(stranger.Identity.Fingerprint);
        await Expect(alice.Message("Alice, it's Bob: this is my new account.")).ToBeVisibleAsync();
        await Artifacts.ScreenshotAsync(alice.Page, "requests-hijack-accepted", output);
        using (var view = await _alice.Api.GetJsonAsync($"api/contacts/{stranger.Id}"))
        {
            Assert.False(view.RootElement.GetProperty("named").GetBoolean(), view.RootElement.ToString());
            Assert.Equal(bob.Id, view.RootElement.GetProperty("displayName").GetString());
        }

        // Bob's entry still opens Bob, with none of the stranger's words, and still reaches Bob.
        await OpenAsync(alice, bob, "bob");
        await Expect(alice.Message("Meet at the station at six.")).ToBeVisibleAsync();
        await Expect(alice.Message("Alice, it's Bob: this is my new account.")).ToHaveCountAsync(0);
        await alice.SendAsync("Is that other account yours?");
        await ExpectDeliveredToAsync(alice, bob, "Is that other account yours?");
        await ExpectNeverReceivedAsync(stranger, "Is that other account yours?");
        session.AssertNoErrors(Login);
    }

    [Fact]
    public async Task Accept_WithANameTypedAndEnter_MakesANamedContactHoldingItsMessages()
    {
        await using var carol = await WebNode.StartAsync("Carol");
        await using var session = await browser.NewSessionAsync(output);
        var alice = await ChatPage.OpenAsync(session, _alice);
        await Expect(alice.Page.Locator("#no-requests")).ToBeVisibleAsync();
        await DialAliceAsync(carol);
        await carol.Api.SendAsync(_alice.Id, "Hi Alice, we met at the book fair.");
        await carol.Api.SendAsync(_alice.Id, "<b>Carol</b> from the stand by the door");

        // The request arrives live with a notice, its held messages as text.
        var request = alice.Request(carol.Id);
        await Expect(request.Locator(".request-claim")).ToHaveTextAsync("calls themself “Carol”");
        await Expect(request.Locator(".request-messages li")).ToHaveCountAsync(2);
        await Expect(request.Locator(".request-held")).ToHaveTextAsync("2 messages held:");
        await Expect(request.Locator(".request-messages li").Nth(1).Locator(".text")).ToHaveTextAsync("<b>Carol</b> from the stand by the door");
        Assert.Equal(0, await request.Locator("b").CountAsync());
        await Expect(alice.Notices.Filter(new LocatorFilterOptions { HasTextString = "New request" })).ToContainTextAsync(carol.Identity.Fingerprint);
        await alice.Page.EvaluateAsync("() => document.querySelectorAll('#notices .notice-close').forEach(b => b.click())");
        await Artifacts.ScreenshotAsync(alice.Page, "requests", output);

        // From the keyboard: a name in the request's field, Enter accepts.
        await request.Locator("[data-role=name]").FocusAsync();
        await alice.Page.Keyboard.TypeAsync("Carol W");
        await alice.Page.Keyboard.PressAsync("Enter");
        await Expect(request).ToHaveCountAsync(0);
        var contact = alice.ContactById(carol.Id);
        await Expect(contact.Locator(".contact-name")).ToHaveTextAsync("Carol W");
        await Expect(contact.Locator(".contact-fingerprint")).ToHaveCountAsync(0);
        await Expect(alice.Page.Locator("#conversation-title")).ToHaveTextAsync("Carol W");
        await Expect(alice.Message("Hi Alice, we met at the book fair.")).ToBeVisibleAsync();
        await Expect(alice.Message("<b>Carol</b> from the stand by the door")).ToBeVisibleAsync();
        await Expect(alice.Page.Locator("#message-input")).ToBeFocusedAsync();
        using (var view = await _alice.Api.GetJsonAsync($"api/contacts/{carol.Id}"))
        {
            Assert.True(view.RootElement.GetProperty("named").GetBoolean(), view.RootElement.ToString());
            Assert.Equal("Carol W", view.RootElement.GetProperty("name").GetString());
        }

        await alice.SendAsync("Welcome, Carol.");
        await ExpectDeliveredToAsync(alice, carol, "Welcome, Carol.");
        session.AssertNoErrors(Login);
    }

    [Fact]
    public async Task Decline_OnAPhoneSizedScreen_ForgetsTheRequest_AndADialAgainIsANewRequest()
    {
        await using var dave = await WebNode.StartAsync("Dave");
        await using var phone = await browser.NewSessionAsync(output, Screen.Phone);
        var alice = await ChatPage.OpenAsync(phone, _alice);
        await DialAliceAsync(dave);
        await dave.Api.SendAsync(_alice.Id, "first try");

        var request = alice.Request(dave.Id);
        await Expect(request.Locator(".request-messages")).ToContainTextAsync("first try");
        var width = await alice.Page.EvaluateAsync<int>("() => document.documentElement.scrollWidth");
        Assert.True(width <= 390, $"The page is {width} px wide on a 390 px screen: it scrolls sideways.");
        await Artifacts.ScreenshotAsync(alice.Page, "phone-requests", output);

        // Dave's node stops first: a node that dialed Alice redials her at once, and comes back as a new request.
        Assert.Equal(0, await dave.Node.TerminateAsync());
        await request.Locator("[data-role=decline]").ClickAsync();
        await Expect(request).ToHaveCountAsync(0);
        await Expect(alice.Page.Locator("#no-requests")).ToBeVisibleAsync();
        await Expect(alice.Page.Locator("#contact-list button.contact")).ToHaveCountAsync(0);
        Assert.Empty(await ListAsync(_alice, "api/requests"));
        Assert.DoesNotContain(await ListAsync(_alice, "api/contacts"), c => c.GetProperty("id").GetString() == dave.Id);

        // Dave's node starts again, dials and writes again: a new request, without what was declined.
        await using var again = await RunningNode.StartAsync(dave.Home, "Dave again", dave.Node.ListenPort);
        await again.Api.SendAsync(_alice.Id, "second try");
        await Expect(request.Locator(".request-messages")).ToContainTextAsync("second try");
        await Expect(request.Locator(".request-messages")).Not.ToContainTextAsync("first try");
        phone.AssertNoErrors(Login);
    }

    [Fact]
    public async Task Block_OfARequest_ListsItBlocked_RefusesItsNextConnection_UntilUnblocked()
    {
        await using var eve = await WebNode.StartAsync("Eve");
        await using var session = await browser.NewSessionAsync(output);
        var alice = await ChatPage.OpenAsync(session, _alice);
        await DialAliceAsync(eve);
        await eve.Api.SendAsync(_alice.Id, "let me in");
        var request = alice.Request(eve.Id);
        await Expect(request.Locator(".request-messages")).ToContainTextAsync("let me in");

        await request.Locator("[data-role=block]").ClickAsync();
        await Expect(request).ToHaveCountAsync(0);
        await Expect(alice.Page.Locator("#no-requests")).ToBeVisibleAsync();
        await Expect(alice.Page.Locator("#blocked-button")).ToBeFocusedAsync();

        // The blocked list, from the keyboard: Eve's fingerprint and ID.
        await alice.Page.Keyboard.PressAsync("Enter");
        await Expect(alice.Page.Locator("#blocked-dialog")).ToBeVisibleAsync();
        var blocked = alice.Page.Locator($"#blocked-list li.blocked[data-id=\"{eve.Id}\"]");
        await Expect(blocked.Locator(".blocked-fingerprint")).ToHaveTextAsync(eve.Identity.Fingerprint);
        await Expect(blocked.Locator(".blocked-id")).ToHaveTextAsync(eve.Id);
        await Artifacts.ScreenshotAsync(alice.Page, "blocked", output);

        // Eve's next connection is refused at the handshake, and Alice's requests stay empty.
        await ExpectRefusedAsync(eve);
        await Expect(alice.Page.Locator("#request-list li.request")).ToHaveCountAsync(0);

        // Unblocked, she is no longer listed, and her next dial is a request again. (Her node stops
        // first: it redials Alice on its own, and a redial must not race the one this test makes.)
        Assert.Equal(0, await eve.Node.TerminateAsync());
        await blocked.Locator("button").ClickAsync();
        await Expect(blocked).ToHaveCountAsync(0);
        await Expect(alice.Page.Locator("#no-blocked")).ToBeVisibleAsync();
        Assert.Empty(await ListAsync(_alice, "api/blocked"));
        await alice.Page.Keyboard.PressAsync("Escape");
        await Expect(alice.Page.Locator("#blocked-dialog")).ToBeHiddenAsync();
        await using var again = await RunningNode.StartAsync(eve.Home, "Eve again", eve.Node.ListenPort);
        await again.Api.SendAsync(_alice.Id, "may I, now?");
        await Expect(request.Locator(".request-messages")).ToContainTextAsync("may I, now?");
        session.AssertNoErrors(Login);
    }

    [Fact]
    public async Task StrangerCallingItselfLikeAContact_AcceptedUnnamed_BothShowFingerprints_ThenBlockedAfterConfirming()
    {
        // Alice's contact "Dave", known by ID only (his node is not running).
        using var daveHome = new TemporaryHome();
        var dave = await SecureChatCli.InitAsync(daveHome, "Dave");
        using (await _alice.Api.AddContactAsync(dave))
        {
        }

        await using var impostor = await WebNode.StartAsync("DAVE");
        await using var session = await browser.NewSessionAsync(output);
        var alice = await ChatPage.OpenAsync(session, _alice);
        var real = alice.ContactById(dave.Id);
        await Expect(real.Locator(".contact-name")).ToHaveTextAsync("Dave");
        await Expect(real.Locator(".contact-fingerprint")).ToHaveCountAsync(0);
        await DialAliceAsync(impostor);
        await impostor.Api.SendAsync(_alice.Id, "Dave here, from a new phone.");
        var request = alice.Request(impostor.Id);
        await Expect(request.Locator(".request-messages")).ToContainTextAsync("Dave here");

        // Accepted without a name, the two read alike: both entries show their fingerprints.
        await request.Locator("[data-role=accept]").ClickAsync();
        var accepted = alice.ContactById(impostor.Id);
        await Expect(accepted.Locator(".contact-name")).ToHaveTextAsync("calls themself “DAVE”");
        await Expect(accepted.Locator(".contact-fingerprint")).ToHaveTextAsync(impostor.Identity.Fingerprint);
        await Expect(real.Locator(".contact-fingerprint")).ToHaveTextAsync(dave.Fingerprint);
        await alice.Page.EvaluateAsync("() => document.querySelectorAll('#notices .notice-close').forEach(b => b.click())");
        await Artifacts.ScreenshotAsync(alice.Page, "requests-alike", output);

        // Block asks first; Cancel keeps the contact.
        await Expect(alice.Page.Locator("#conversation-title")).ToHaveTextAsync("calls themself “DAVE”");
        await alice.Page.ClickAsync("#block-button");
        await Expect(alice.Page.Locator("#block-text")).ToContainTextAsync(impostor.Identity.Fingerprint);
        await alice.Page.Keyboard.PressAsync("Escape");
        await Expect(alice.Page.Locator("#block-dialog")).ToBeHiddenAsync();
        await Expect(accepted).ToBeVisibleAsync();
        Assert.Empty(await ListAsync(_alice, "api/blocked"));

        await alice.Page.ClickAsync("#block-button");
        await alice.Page.ClickAsync("#block-confirm");
        await Expect(alice.Page.Locator("#block-dialog")).ToBeHiddenAsync();
        await Expect(accepted).ToHaveCountAsync(0);
        await Expect(alice.Page.Locator("#conversation")).ToBeHiddenAsync();
        await Expect(real.Locator(".contact-fingerprint")).ToHaveCountAsync(0);
        Assert.DoesNotContain(await ListAsync(_alice, "api/contacts"), c => c.GetProperty("id").GetString() == impostor.Id);
        Assert.Contains(await ListAsync(_alice, "api/blocked"), b => b.GetProperty("id").GetString() == impostor.Id);
        await alice.Page.ClickAsync("#blocked-button");
        await Expect(alice.Page.Locator($"#blocked-list li.blocked[data-id=\"{impostor.Id}\"]")).ToBeVisibleAsync();
        await ExpectRefusedAsync(impostor);
        session.AssertNoErrors(Login);
    }

    /// <summary>The stranger's node dials Alice's (its Connect panel), and the handshake completes.</summary>
    private async Task DialAliceAsync(WebNode stranger)
    {
        var (status, body) = await stranger.Api.TryPostAsync("api/connect", new { address = _alice.Node.ListenAddress });
        Assert.True(
            status == System.Net.HttpStatusCode.OK,
            $"{stranger} answered {(int)status} to Connect: {body}\n{ChildProcess.Tail(stranger.Node.Process.Stderr, 3000)}\n{ChildProcess.Tail(_alice.Node.Process.Stderr, 3000)}");
        using var contact = JsonDocument.Parse(body);
        Assert.Equal(_alice.Id, contact.RootElement.GetProperty("id").GetString());
    }

    /// <summary>
    /// The stranger's node dials Alice's again, and Alice's node refuses it at the handshake (its
    /// log says so) without a request. The dialer's own answer proves nothing: in Noise XX the
    /// dialer's half of the handshake ends before Alice's node has checked who it is.
    /// </summary>
    private async Task ExpectRefusedAsync(WebNode stranger)
    {
        var before = Refusals(_alice.Node.Process.Stderr, stranger);
        await stranger.Api.TryPostAsync("api/connect", new { address = _alice.Node.ListenAddress });
        await Eventually.UntilAsync(
            $"Alice's node to refuse {stranger.Identity.Fingerprint} at the handshake",
            ChatProcess.Timeout,
            () => Task.FromResult(_alice.Node.Process.Stderr),
            log => Refusals(log, stranger) > before,
            log => ChildProcess.Tail(log, 3000));
        Assert.Empty(await ListAsync(_alice, "api/requests"));

        static int Refusals(string log, WebNode stranger) => log.Split('\n').Count(line =>
            line.Contains(stranger.Identity.Fingerprint, StringComparison.Ordinal) && line.Contains("you blocked this account", StringComparison.Ordinal));
    }

    /// <summary>Opens a contact's conversation by its entry (found by ID) and checks whose it is.</summary>
    private static async Task OpenAsync(ChatPage page, WebNode contact, string shownAs)
    {
        await page.ContactById(contact.Id).ClickAsync();
        await Expect(page.Page.Locator("#conversation-title")).ToHaveTextAsync(shownAs);
        await Expect(page.Page.Locator("#conversation-fingerprint")).ToHaveTextAsync(contact.Identity.Fingerprint);
    }

    /// <summary>The tick says delivered (or read), and the contact's own node holds the message from Alice.</summary>
    private async Task ExpectDeliveredToAsync(ChatPage page, WebNode contact, string text)
    {
        await Expect(page.Tick(text)).ToHaveAttributeAsync("data-state", DeliveredOrRead());
        var received = await contact.Api.ConversationAsync(_alice.Id);
        Assert.Contains(received, m => m.Text == text && m.Direction == "in" && m.ContactId == _alice.Id);
    }

    /// <summary>Nothing the stranger's node stored, in any conversation it has, carries the text.</summary>
    private static async Task ExpectNeverReceivedAsync(WebNode stranger, string text)
    {
        foreach (var contact in await ListAsync(stranger, "api/contacts"))
        {
            var messages = await stranger.Api.ConversationAsync(contact.GetProperty("id").GetString()!);
            Assert.DoesNotContain(messages, m => m.Text == text);
        }

        foreach (var request in await ListAsync(stranger, "api/requests"))
        {
            Assert.DoesNotContain(request.GetProperty("messages").EnumerateArray(), m => m.GetProperty("text").GetString() == text);
        }
    }

    private static async Task<List<JsonElement>> ListAsync(WebNode node, string path)
    {
        using var list = await node.Api.GetJsonAsync(path);
        return [.. list.RootElement.EnumerateArray().Select(e => e.Clone())];
    }

    [GeneratedRegex("^(delivered|read)$")]
    private static partial Regex DeliveredOrRead();
}
