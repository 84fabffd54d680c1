using System.Net;
using Microsoft.Playwright;
using SecureChat.Testing;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace SecureChat.Tests.Web;

/// <summary>
/// The chat window in a real browser (Debian's Chromium through Playwright): two nodes, a page on
/// each, used the way the paper's user and a messenger's user would.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(BrowserCollection.Name)]
public sealed class ChatWindowTests(BrowserFixture browser, ITestOutputHelper output) : IAsyncLifetime
{
    private WebNode _alice = null!;
    private WebNode _bob = null!;

    public async Task InitializeAsync()
    {
        var nodes = await Task.WhenAll(WebNode.StartAsync("Alice"), WebNode.StartAsync("Bob"));
        (_alice, _bob) = (nodes[0], nodes[1]);
    }

    public async Task DisposeAsync()
    {
        await _alice.DisposeAsync();
        await _bob.DisposeAsync();
    }

    /// <summary>The paths a page's console may report refused: the login page itself (401 until the token is traded).</summary>
    private static readonly string[] Login = ["/"];

    /// <summary>Adds <paramref name="contact"/> to <paramref name="on"/> through the API, by ID, name and listen address.</summary>
    private static async Task AddAsync(WebNode on, WebNode contact, string name)
    {
        using var added = await on.Api.AddContactAsync(contact.Identity with { Name = name }, contact.Node.ListenAddress);
    }

    /// <summary>
    /// Bob adds Alice by ID (named "Alice", no address), then Alice adds Bob by ID and address: her
    /// node dials his, and he meets her as the contact he added (a stranger would be a request).
    /// </summary>
    private async Task PairAsync()
    {
        using (await _bob.Api.AddContactAsync(_alice.Identity))
        {
        }

        await AddAsync(_alice, _bob, "Bob");
        await Eventually.UntilAsync(
            "Bob's node to meet Alice",
            ChatProcess.Timeout,
            async () =>
            {
                using var contacts = await _bob.Api.GetJsonAsync("api/contacts");
                return contacts.RootElement.EnumerateArray().Any(c => c.GetProperty("id").GetString() == _alice.Id && c.GetProperty("met").GetBoolean());
            },
            met => met,
            _ => "Bob's node has not met Alice");
    }

    [Fact]
    public async Task AddedById_MessagesTypedOnEachSide_ArriveAndTicksMoveToDeliveredThenRead()
    {
        await using var aliceBrowser = await browser.NewSessionAsync(output);
        await using var bobBrowser = await browser.NewSessionAsync(output);
        var alice = await ChatPage.OpenAsync(aliceBrowser, _alice);
        var bob = await ChatPage.OpenAsync(bobBrowser, _bob);
        await Artifacts.ScreenshotAsync(alice.Page, "start", output);

        // Each adds the other by ID, as a person pastes it (the address too: these nodes have no DHT).
        await alice.AddContactAsync(_bob.Id, "Bob", _bob.Node.ListenAddress);
        await bob.AddContactAsync(_alice.Id, "Alice", _alice.Node.ListenAddress);
        await Expect(alice.Contact("Bob").Locator(".presence.online")).ToBeVisibleAsync();
        await Expect(alice.Page.Locator("#conversation-presence")).ToHaveTextAsync("online");

        // Beside presence, how Bob is connected: the two added each other with addresses, so either node's dial may be the one kept.
        await Expect(alice.Page.Locator("#conversation-connection")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex(
            $@"^direct over IPv4, (dialed by this node to {System.Text.RegularExpressions.Regex.Escape(_bob.Node.ListenAddress)}|the contact dialed in from 127\.0\.0\.1:\d+) \(on the local network\)$"));

        // Bob's window shows no conversation: Alice's message is delivered, not read, and counted unread on his side.
        await bob.Page.EvaluateAsync("() => history.replaceState(null, '', '/')");
        await bob.Page.ReloadAsync();
        await Expect(bob.Page.Locator("#start")).ToBeVisibleAsync();
        await alice.SendAsync("Hello Bob, this is Alice.");
        await Expect(alice.Tick("Hello Bob, this is Alice.")).ToHaveAttributeAsync("data-state", "delivered");
        await Expect(bob.Contact("Alice").Locator(".unread")).ToHaveTextAsync("1");
        await Expect(bob.Page).ToHaveTitleAsync("(1) SecureChat");

        // Bob opens the conversation: the message is there, and Alice's tick turns to read.
        await bob.OpenConversationAsync("Alice");
        await Expect(bob.Message("Hello Bob, this is Alice.")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex(@"\bin\b"));
        await Expect(alice.Tick("Hello Bob, this is Alice.")).ToHaveAttributeAsync("data-state", "read");
        await Expect(bob.Contact("Alice").Locator(".unread")).ToHaveCountAsync(0);

        // Bob types: Alice sees him typing; he sends with the button, and it arrives read at once (her page shows it).
        await bob.Page.FillAsync("#message-input", "Hi Alice! Good to see the window works.");
        await Expect(alice.Page.Locator("#typing-indicator")).ToHaveTextAsync("Bob is typing…");
        await bob.Page.ClickAsync("#send-button");
        await Expect(alice.Message("Hi Alice! Good to see the window works.")).ToBeVisibleAsync();
        await Expect(alice.Page.Locator("#typing-indicator")).ToHaveTextAsync(string.Empty);
        await Expect(bob.Tick("Hi Alice! Good to see the window works.")).ToHaveAttributeAsync("data-state", "read");

        await alice.SendAsync("Shall we meet at noon?\nAt the usual place.");
        await Expect(bob.Message("Shall we meet at noon?\nAt the usual place.")).ToBeVisibleAsync();
        await Expect(alice.Tick("Shall we meet at noon?\nAt the usual place.")).ToHaveAttributeAsync("data-state", "read");

        // What both nodes stored agrees with what the pages show.
        var stored = await _alice.Api.ConversationAsync("Bob");
        Assert.Equal(["Hello Bob, this is Alice.", "Hi Alice! Good to see the window works.", "Shall we meet at noon?\nAt the usual place."], stored.Select(m => m.Text));
        Assert.Equal(["read", "seen", "read"], stored.Select(m => m.State));
        await alice.Page.EvaluateAsync("() => document.querySelectorAll('#notices .notice-close').forEach(b => b.click())");
        await Expect(alice.Notices).ToHaveCountAsync(0);
        await Artifacts.ScreenshotAsync(alice.Page, "conversation", output);
        await Artifacts.ScreenshotAsync(bob.Page, "conversation-bob", output);
        aliceBrowser.AssertNoErrors(Login);
        bobBrowser.AssertNoErrors([.. Login, "/api/contacts"]);
    }

    [Fact]
    public async Task ListenAndConnectPanels_TypedIpAndPort_StartStopAndConnect()
    {
        await using var aliceBrowser = await browser.NewSessionAsync(output);
        await using var bobBrowser = await browser.NewSessionAsync(output);
        var alice = await ChatPage.OpenAsync(aliceBrowser, _alice);
        var bob = await ChatPage.OpenAsync(bobBrowser, _bob);
        await Expect(bob.Page.Locator("#listen-state")).ToContainTextAsync($"Listening on {_bob.Node.ListenAddress}");

        // Bob stops listening: Alice's Connect fails with a notice in the page, which she dismisses.
        await bob.Page.ClickAsync("#listen-stop");
        await Expect(bob.Page.Locator("#listen-state")).ToContainTextAsync("Not listening");
        // A port nobody listens on: Alice's dial must be refused.
        var port = LoopbackPort.Unused();
        await alice.Page.FillAsync("#connect-host", "127.0.0.1");
        await alice.Page.FillAsync("#connect-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await alice.Page.ClickAsync("#connect-button");
        await Expect(alice.Notices).ToHaveCountAsync(1);
        await Expect(alice.Notices.Locator(".notice-text")).ToContainTextAsync($"127.0.0.1:{port}");
        await Artifacts.ScreenshotAsync(alice.Page, "connect-refused", output);
        await alice.Notices.Locator(".notice-close").ClickAsync();
        await Expect(alice.Notices).ToHaveCountAsync(0);

        // A port that is not one: a notice says so, and nothing is dialed.
        await alice.Page.FillAsync("#connect-port", "70000");
        await alice.Page.ClickAsync("#connect-button");
        await Expect(alice.Notices.Locator(".notice-text")).ToContainTextAsync("1 to 65535");
        await alice.Notices.Locator(".notice-close").ClickAsync();

        // Bob starts listening again on the typed IP and a new port (the paper's Start Server).
        await bob.Page.FillAsync("#listen-host", "127.0.0.1");
        await bob.Page.FillAsync("#listen-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await bob.Page.ClickAsync("#listen-start");
        await Expect(bob.Page.Locator("#listen-state")).ToContainTextAsync($"Listening on 127.0.0.1:{port}");
        await Expect(bob.Page.Locator("#net-status")).ToContainTextAsync($"Listening on 127.0.0.1:{port}");

        // Alice connects to it by typed IP and port: Bob becomes her contact, shown as what he calls
        // himself (she has not named him), and the conversation opens.
        await alice.Page.FillAsync("#connect-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await alice.Page.ClickAsync("#connect-button");
        await Expect(alice.Page.Locator("#conversation-title")).ToHaveTextAsync("calls themself “Bob”");
        await Expect(alice.ContactById(_bob.Id).Locator(".contact-fingerprint")).ToHaveTextAsync(_bob.Identity.Fingerprint);
        await alice.SendAsync("I found you through the Connect panel.");

        // To Bob, Alice is a request holding her message until he accepts it, here with a name.
        var request = bob.Request(_alice.Id);
        await Expect(request.Locator(".request-messages")).ToContainTextAsync("I found you through the Connect panel.");
        await request.Locator("[data-role=name]").FillAsync("Alice");
        await request.Locator("[data-role=accept]").ClickAsync();
        await Expect(bob.Page.Locator("#conversation-title")).ToHaveTextAsync("Alice");
        await Expect(bob.Contact("Alice")).ToBeVisibleAsync();
        await Expect(bob.Message("I found you through the Connect panel.")).ToBeVisibleAsync();
        await bob.SendAsync("And I heard you through the Listen panel.");
        await Expect(alice.Message("And I heard you through the Listen panel.")).ToBeVisibleAsync();
        await Artifacts.ScreenshotAsync(bob.Page, "listen-connect", output);
        aliceBrowser.AssertNoErrors([.. Login, "/api/connect"]);
        bobBrowser.AssertNoErrors(Login);
    }

    [Fact]
    public async Task Search_FindsAnOldMessage_OpensItInContextHighlighted_AndOlderPagesLoadOnScroll()
    {
        await AddAsync(_alice, _bob, "Bob");
        await _alice.Api.SendAsync("Bob", "The spare key is under the marigold pot by the door.");
        for (var i = 1; i <= 130; i++)
        {
            await _alice.Api.SendAsync("Bob", $"Note number {i} about the weekend plans.");
        }

        await using var aliceBrowser = await browser.NewSessionAsync(output);
        var alice = await ChatPage.OpenAsync(aliceBrowser, _alice);
        await alice.OpenConversationAsync("Bob");
        await Expect(alice.Messages).ToHaveCountAsync(50);
        await Expect(alice.Message("Note number 130 about the weekend plans.")).ToBeInViewportAsync();

        // Scrolling up loads the older pages, until the first message.
        await Eventually.UntilAsync(
            "scrolling up loads every older page",
            Eventually.Deadline,
            async () =>
            {
                await alice.Page.Locator("#messages").EvaluateAsync("list => list.scrollTop = 0");
                return await alice.Messages.CountAsync();
            },
            count => count >= 131,
            count => $"{count} of 131 messages shown");

        await Expect(alice.Messages).ToHaveCountAsync(131);
        await Expect(alice.Messages.First).ToContainTextAsync("marigold");

        // Search from another conversation state: the hit shows its word marked, and opens in context.
        await alice.Page.ReloadAsync();
        await alice.Page.FillAsync("#search-input", "MARIGOLD");
        await alice.Page.PressAsync("#search-input", "Enter");
        var hit = alice.Page.Locator("#search-list .search-hit");
        await Expect(hit).ToHaveCountAsync(1);
        await Expect(hit.Locator("mark")).ToHaveTextAsync("marigold");
        await Expect(alice.Page.Locator("#search-summary")).ToHaveTextAsync("1 message found");
        await Artifacts.ScreenshotAsync(alice.Page, "search", output);
        await hit.ClickAsync();
        var found = alice.Message("The spare key is under the marigold pot by the door.");
        await Expect(found).ToHaveClassAsync(new System.Text.RegularExpressions.Regex(@"\bhighlight\b"));
        await Expect(found.Locator("mark")).ToHaveTextAsync("marigold");
        await Expect(found).ToBeInViewportAsync();
        await Artifacts.ScreenshotAsync(alice.Page, "search-hit", output);

        // Newer pages load when scrolling down from the hit, up to the newest message.
        await Eventually.UntilAsync(
            "scrolling down loads the newer pages up to the newest message",
            Eventually.Deadline,
            async () =>
            {
                await alice.Page.Locator("#messages").EvaluateAsync("list => list.scrollTop = list.scrollHeight");
                return await alice.Message("Note number 130 about the weekend plans.").CountAsync();
            },
            count => count > 0,
            _ => "the newest message is not shown yet");

        await Expect(alice.Message("Note number 130 about the weekend plans.")).ToHaveCountAsync(1);

        // A word nobody wrote: the results say so.
        await alice.Page.FillAsync("#search-input", "zeppelin");
        await alice.Page.PressAsync("#search-input", "Enter");
        await Expect(alice.Page.Locator("#search-summary")).ToHaveTextAsync("Nothing found for “zeppelin”");
        aliceBrowser.AssertNoErrors(Login);
    }

    [Fact]
    public async Task HostileMessageAndName_ShownAsText_RunNothing()
    {
        const string Image = "<img src=x onerror=\"window.pwned=1;alert(1)\">";
        const string Script = "<script>window.pwned=2</script><b>bold?</b>";
        await PairAsync();
        await using var bobBrowser = await browser.NewSessionAsync(output);
        var bob = await ChatPage.OpenAsync(bobBrowser, _bob);
        var dialogs = new List<string>();
        bob.Page.Dialog += (_, dialog) => dialogs.Add(dialog.Message);

        // Bob names Alice with markup; it stays a name.
        await bob.OpenConversationAsync("Alice");
        await bob.Page.ClickAsync("#rename-button");
        await bob.Page.FillAsync("#rename-input", "<svg onload=alert(3)>");
        await bob.Page.ClickAsync("#rename-submit");
        await Expect(bob.Page.Locator("#conversation-title")).ToHaveTextAsync("<svg onload=alert(3)>");

        await _alice.Api.SendAsync("Bob", Image);
        await _alice.Api.SendAsync("Bob", Script);
        await bob.OpenConversationAsync("<svg onload=alert(3)>");
        await Expect(bob.Message(Image)).ToBeVisibleAsync();
        await Expect(bob.Message(Script)).ToBeVisibleAsync();
        Assert.Equal(Image, await bob.Message(Image).Locator(".text").TextContentAsync());

        // Nothing of it became markup, and nothing ran.
        Assert.Equal(0, await bob.Page.Locator("#messages img, #messages script, #messages b, #contact-list svg, #conversation-title svg").CountAsync());
        Assert.Null(await bob.Page.EvaluateAsync<int?>("() => window.pwned ?? null"));
        Assert.Empty(dialogs);

        // Search results mark words with <mark> and nothing else.
        await bob.Page.FillAsync("#search-input", "onerror");
        await bob.Page.PressAsync("#search-input", "Enter");
        await Expect(bob.Page.Locator("#search-list .search-hit mark")).ToHaveTextAsync("onerror");
        Assert.Equal(0, await bob.Page.Locator("#search-list img").CountAsync());
        Assert.Null(await bob.Page.EvaluateAsync<int?>("() => window.pwned ?? null"));
        Assert.Empty(dialogs);
        bobBrowser.AssertNoErrors(Login);
    }

    [Fact]
    public async Task WithoutTheToken_OrFromAnotherOrigin_TheNodeRefuses()
    {
        // A visitor without the link sees the explainer and nothing of the node.
        await using var stranger = await browser.NewSessionAsync(output);
        var page = await stranger.NewPageAsync();
        var response = await page.GotoAsync(_alice.BaseUrl.ToString());
        Assert.Equal((int)HttpStatusCode.Unauthorized, response!.Status);
        await Expect(page.Locator("#explainer")).ToBeVisibleAsync();
        await Expect(page.Locator("#app")).ToHaveCountAsync(0);
        Assert.DoesNotContain(_alice.Id, await page.ContentAsync(), StringComparison.Ordinal);
        var status = await page.EvaluateAsync<int>("async () => (await fetch('/api/status')).status");
        Assert.Equal(401, status);
        stranger.AssertNoErrors("/", "/api/status");

        // A page of another origin on the same host (so the SameSite cookie of Alice's session goes
        // with its requests) posts to Alice's API and tries to read it: the node refuses by Origin,
        // and the browser lets the page read nothing.
        await using var both = await browser.NewSessionAsync(output);
        var alicePage = await ChatPage.OpenAsync(both, _alice);
        await AddAsync(_alice, _bob, "Bob");
        var before = (await _alice.Api.ConversationAsync("Bob")).Count;
        using var elsewhere = new LoopbackPage("<!doctype html><title>another site on this machine</title>");
        var evil = await both.NewPageAsync();
        var sent = new List<IRequest>();
        evil.Request += (_, request) =>
        {
            if (request.Url.StartsWith(_alice.BaseUrl.ToString(), StringComparison.Ordinal))
            {
                sent.Add(request);
            }
        };
        await evil.GotoAsync(elsewhere.Url);
        var outcome = await evil.EvaluateAsync<string>(
            """
            async (target) => {
              try {
                // The answer is opaque, and the node's Cross-Origin-Resource-Policy withholds even that.
                await fetch(target + 'api/contacts/Bob/messages', {
                  method: 'POST', mode: 'no-cors', credentials: 'include',
                  headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify({ text: 'forged' }) });
              } catch (e) {
              }
              try {
                const r = await fetch(target + 'api/status', { credentials: 'include' });
                return 'read ' + r.status;
              } catch (e) {
                return 'blocked';
              }
            }
            """,
            _alice.BaseUrl.ToString());
        Assert.Equal("blocked", outcome);
        Assert.Equal(before, (await _alice.Api.ConversationAsync("Bob")).Count);
        Assert.Single(sent, r => r.Method == "POST");

        // Alice's own page, with the same cookie, still works.
        await alicePage.Page.ReloadAsync();
        await alicePage.OpenConversationAsync("Bob");
        await alicePage.SendAsync("only from my own page");
        Assert.Equal(before + 1, (await _alice.Api.ConversationAsync("Bob")).Count);
        Assert.DoesNotContain(both.Errors, e => e.PageUrl?.StartsWith(_alice.BaseUrl.ToString(), StringComparison.Ordinal) == true && !e.Text.Contains("status of 401", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TwoTabs_OnOneNode_StayInStep()
    {
        await PairAsync();
        await using var session = await browser.NewSessionAsync(output);
        var first = await ChatPage.OpenAsync(session, _alice);
        var second = await first.SecondTabAsync();
        await first.OpenConversationAsync("Bob");
        await second.OpenConversationAsync("Bob");

        // Sent in one tab: shown in both, with the same tick.
        await first.SendAsync("sent from the first tab");
        await Expect(second.Message("sent from the first tab")).ToBeVisibleAsync();
        await Expect(second.Tick("sent from the first tab")).ToHaveAttributeAsync("data-state", "delivered");

        // Received: both tabs show it.
        await _bob.Api.SendAsync("Alice", "an answer for both tabs");
        await Expect(first.Message("an answer for both tabs")).ToBeVisibleAsync();
        await Expect(second.Message("an answer for both tabs")).ToBeVisibleAsync();

        // Renamed in one tab: the other's list and header follow.
        await first.Page.ClickAsync("#rename-button");
        await first.Page.FillAsync("#rename-input", "Bobby");
        await first.Page.ClickAsync("#rename-submit");
        await Expect(first.Page.Locator("#conversation-title")).ToHaveTextAsync("Bobby");
        await Expect(second.Contact("Bobby")).ToBeVisibleAsync();
        await Expect(second.Page.Locator("#conversation-title")).ToHaveTextAsync("Bobby");

        // Removed in one tab: gone from the other. (Bob's node stops first: a contact's node that
        // dials in again is met anew, as any stranger is.)
        await _bob.Node.TerminateAsync();
        await first.Page.ClickAsync("#remove-button");
        await Expect(first.Page.Locator("#remove-text")).ToContainTextAsync("Bobby");
        await first.Page.ClickAsync("#remove-confirm");
        await Expect(first.Page.Locator("#contact-list button.contact")).ToHaveCountAsync(0);
        await Expect(second.Page.Locator("#contact-list button.contact")).ToHaveCountAsync(0);
        await Expect(second.Page.Locator("#conversation")).ToBeHiddenAsync();
        session.AssertNoErrors(Login);
    }

    [Fact]
    public async Task Verify_SafetyNumbersAgree_MarkedVerifiedOnBothTabs()
    {
        await PairAsync();
        await using var aliceBrowser = await browser.NewSessionAsync(output);
        await using var bobBrowser = await browser.NewSessionAsync(output);
        var alice = await ChatPage.OpenAsync(aliceBrowser, _alice);
        var bob = await ChatPage.OpenAsync(bobBrowser, _bob);
        await alice.OpenConversationAsync("Bob");
        await bob.OpenConversationAsync("Alice");

        await alice.Page.ClickAsync("#verify-button");
        await bob.Page.ClickAsync("#verify-button");
        var digits = new System.Text.RegularExpressions.Regex(@"\d{5}");
        await Expect(alice.Page.Locator("#safety-number")).ToHaveTextAsync(digits);
        await Expect(bob.Page.Locator("#safety-number")).ToHaveTextAsync(digits);
        var aliceNumber = await alice.Page.Locator("#safety-number").InnerTextAsync();
        var bobNumber = await bob.Page.Locator("#safety-number").InnerTextAsync();
        Assert.Matches(@"^(\d{5}\s+){11}\d{5}$", aliceNumber.Trim());
        Assert.Equal(Normalize(aliceNumber), Normalize(bobNumber));
        await Artifacts.ScreenshotAsync(alice.Page, "verify", output);

        await alice.Page.ClickAsync("#mark-verified");
        await Expect(alice.Page.Locator("#verify-dialog")).ToBeHiddenAsync();
        await Expect(alice.Page.Locator("#verified-badge")).ToBeVisibleAsync();
        await Expect(bob.Page.Locator("#verified-badge")).ToBeHiddenAsync();
        var contact = await _alice.Api.GetJsonAsync("api/contacts/Bob");
        Assert.True(contact.RootElement.GetProperty("verified").GetBoolean());
        aliceBrowser.AssertNoErrors(Login);
        bobBrowser.AssertNoErrors(Login);

        static string Normalize(string number) => string.Join(' ', number.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task PhoneSizedScreen_ListThenConversation_SendsAndGoesBack()
    {
        await PairAsync();
        await using var phone = await browser.NewSessionAsync(output, Screen.Phone);
        var alice = await ChatPage.OpenAsync(phone, _alice);
        await Expect(alice.Page.Locator("#listen-panel")).ToBeVisibleAsync();
        await Expect(alice.Page.Locator("#conversation")).ToBeHiddenAsync();
        await Artifacts.ScreenshotAsync(alice.Page, "phone-contacts", output);

        await alice.OpenConversationAsync("Bob");
        await Expect(alice.Page.Locator("#sidebar")).ToBeHiddenAsync();
        await alice.SendAsync("typed on a phone-sized screen");
        await Expect(alice.Tick("typed on a phone-sized screen")).ToHaveAttributeAsync("data-state", "delivered");
        var width = await alice.Page.EvaluateAsync<int>("() => document.documentElement.scrollWidth");
        Assert.True(width <= 390, $"The page is {width} px wide on a 390 px screen: it scrolls sideways.");
        await Artifacts.ScreenshotAsync(alice.Page, "phone-conversation", output);

        await alice.Page.ClickAsync("#menu-button");
        await Expect(alice.Page.Locator("#sidebar")).ToBeVisibleAsync();
        phone.AssertNoErrors(Login);
    }

    [Fact]
    public async Task ContactList_RedrawnWhileAContactHasTheFocus_KeepsTheFocusOnIt()
    {
        using (await _alice.Api.AddContactAsync(_bob.Identity with { Name = "Bob" }))
        {
        }

        await using var session = await browser.NewSessionAsync(output);
        var alice = await ChatPage.OpenAsync(session, _alice);
        await alice.Contact("Bob").FocusAsync();

        // A change to the contact (here a rename from another tab) redraws the list under the focus.
        await alice.Page.EvaluateAsync(
            "id => fetch(`/api/contacts/${id}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'Bobby' }) })",
            _bob.Id);
        await Expect(alice.Contact("Bobby")).ToBeVisibleAsync();
        await Expect(alice.Contact("Bobby")).ToBeFocusedAsync();
        session.AssertNoErrors(Login);
    }

    [Fact]
    public async Task Keyboard_Alone_ReachesTheComposerAndSends()
    {
        await AddAsync(_alice, _bob, "Bob");
        await using var session = await browser.NewSessionAsync(output);
        var alice = await ChatPage.OpenAsync(session, _alice);

        // Ctrl+K to search, Tab onwards (past Blocked and Add contact) to the contact, Enter to open it: the composer has the focus.
        await alice.Page.Keyboard.PressAsync("Control+K");
        await Expect(alice.Page.Locator("#search-input")).ToBeFocusedAsync();
        await alice.Page.Keyboard.PressAsync("Tab");
        await Expect(alice.Page.Locator("#blocked-button")).ToBeFocusedAsync();
        await alice.Page.Keyboard.PressAsync("Tab");
        await alice.Page.Keyboard.PressAsync("Tab");
        await Expect(alice.Contact("Bob")).ToBeFocusedAsync();
        await alice.Page.Keyboard.PressAsync("Enter");
        await Expect(alice.Page.Locator("#message-input")).ToBeFocusedAsync();
        await alice.Page.Keyboard.TypeAsync("no mouse was used");
        await alice.Page.Keyboard.PressAsync("Shift+Enter");
        await alice.Page.Keyboard.TypeAsync("second line");
        await alice.Page.Keyboard.PressAsync("Enter");
        await Expect(alice.Message("no mouse was used\nsecond line")).ToBeVisibleAsync();

        // Dialogs open from the keyboard and close with Escape.
        await alice.Page.Locator("#profile-button").FocusAsync();
        await alice.Page.Keyboard.PressAsync("Enter");
        await Expect(alice.Page.Locator("#profile-dialog")).ToBeVisibleAsync();
        await Expect(alice.Page.Locator("#own-id")).ToHaveTextAsync(_alice.Id);

        // How contacts reach this node, in its own sentence: one contact on loopback is too little to say.
        await Expect(alice.Page.Locator("#own-reachability")).ToHaveTextAsync("not yet known: waiting for contacts or the DHT to say how they see this node");

        // The link shown is one-time by default, and its code is the same link (no URL holds the token).
        await Expect(alice.Page.Locator("#invite-one-time")).ToBeCheckedAsync();
        await Expect(alice.Page.Locator("#invite-link")).ToContainTextAsync("t=");
        await Expect(alice.Page.Locator("#own-qr")).ToHaveAttributeAsync("src", new System.Text.RegularExpressions.Regex("^data:image/png;base64,"));
        await alice.Page.Locator("#invite-one-time").UncheckAsync();
        await Expect(alice.Page.Locator("#invite-link")).ToHaveTextAsync($"securechat:{_alice.Id}?name=Alice");
        await alice.Page.Keyboard.PressAsync("Escape");
        await Expect(alice.Page.Locator("#profile-dialog")).ToBeHiddenAsync();
        session.AssertNoErrors(Login);
    }
}
