using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace SecureChat.Tests.Web;

/// <summary>
/// One tab of a node's chat window, driven the way a person uses it: through the visible controls
/// (the element IDs of src/SecureChat/Web/wwwroot/index.html), never through the page's script.
/// </summary>
internal sealed class ChatPage(IPage page, WebNode node)
{
    static ChatPage()
    {
        // As long as any step of the process tests may take.
        SetDefaultExpectTimeout((float)ChatProcess.Timeout.TotalMilliseconds);
    }

    public IPage Page { get; } = page;

    public WebNode Node { get; } = node;

    public ILocator Messages => Page.Locator("#messages li.message");

    /// <summary>Opens a fresh link of the node (each opens one browser once) in a new tab of <paramref name="session"/> and waits for the app.</summary>
    public static async Task<ChatPage> OpenAsync(BrowserSession session, WebNode node)
    {
        var page = await session.NewPageAsync();
        var chat = new ChatPage(page, node);
        await page.GotoAsync((await node.NewLoginUrlAsync()).ToString());
        await Expect(page.Locator("#app")).ToBeVisibleAsync();
        await Expect(page.Locator("#net-status")).ToContainTextAsync("Listening");
        return chat;
    }

    /// <summary>Another tab on the same node, in the same browser (it shares the session cookie).</summary>
    public async Task<ChatPage> SecondTabAsync()
    {
        var page = await Page.Context.NewPageAsync();
        await page.GotoAsync(Node.BaseUrl.ToString());
        await Expect(page.Locator("#app")).ToBeVisibleAsync();
        return new ChatPage(page, Node);
    }

    public ILocator Contact(string name) => Page.Locator("#contact-list button.contact", new PageLocatorOptions { Has = Page.Locator(".contact-name", new PageLocatorOptions { HasTextString = name }) });

    /// <summary>A contact's entry in the list, found by its full account ID (never by a name a peer could copy).</summary>
    public ILocator ContactById(string id) => Page.Locator($"#contact-list button.contact[data-id=\"{id}\"]");

    /// <summary>A stranger's entry in the Requests list, by its full account ID.</summary>
    public ILocator Request(string id) => Page.Locator($"#request-list li.request[data-id=\"{id}\"]");

    public ILocator Message(string text) => Page.Locator("#messages li.message", new PageLocatorOptions { Has = Page.GetByText(text, new PageGetByTextOptions { Exact = true }) });

    public ILocator Tick(string text) => Message(text).Locator(".tick");

    /// <summary>Add contact: the ID or link in the dialog, a name and an address if given; waits for the conversation to open.</summary>
    public async Task AddContactAsync(string idOrLink, string? name = null, string? endpoint = null)
    {
        await Page.ClickAsync("#add-contact-button");
        await Page.FillAsync("#add-id", idOrLink);
        if (name is not null)
        {
            await Page.FillAsync("#add-name", name);
        }

        if (endpoint is not null)
        {
            await Page.FillAsync("#add-endpoint", endpoint);
        }

        await Page.ClickAsync("#add-submit");
        await Expect(Page.Locator("#add-contact-dialog")).ToBeHiddenAsync();
        await Expect(Page.Locator("#conversation")).ToBeVisibleAsync();
    }

    public async Task OpenConversationAsync(string name)
    {
        await Contact(name).ClickAsync();
        await Expect(Page.Locator("#conversation-title")).ToHaveTextAsync(name);
    }

    /// <summary>Types the text and presses Enter, as a person does; waits until it shows in the conversation.</summary>
    public async Task SendAsync(string text)
    {
        await Page.FillAsync("#message-input", text);
        await Page.PressAsync("#message-input", "Enter");
        await Expect(Message(text)).ToBeVisibleAsync();
    }

    /// <summary>The notices shown now (the page's error box).</summary>
    public ILocator Notices => Page.Locator("#notices .notice");
}
