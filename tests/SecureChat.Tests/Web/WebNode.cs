using System.Globalization;
using SecureChat.Tests.Node;

namespace SecureChat.Tests.Web;

/// <summary>
/// A node with its web UI for the browser and web security tests: a fresh home with an identity
/// (no passphrase), and <c>securechat --home HOME run --listen 127.0.0.1:PORT --api-port 0
/// --no-dht --no-lan</c> started through <see cref="RunningNode"/> with its UI on, which parses the
/// <c>ui http://127.0.0.1:PORT/#token=TOKEN</c> line. That link opens one browser once; every
/// other login takes a fresh link (<see cref="NewLoginUrlAsync"/>). Disposing kills the node and
/// deletes the home.
/// </summary>
internal sealed class WebNode : IAsyncDisposable
{
    private WebNode(TemporaryHome home, CreatedIdentity identity, RunningNode node, WebUiLink ui)
    {
        Home = home;
        Identity = identity;
        Node = node;
        Ui = ui;
    }

    public TemporaryHome Home { get; }

    /// <summary>Who the node is, as <c>init</c> printed it (name, ID, fingerprint).</summary>
    public CreatedIdentity Identity { get; }

    public RunningNode Node { get; }

    /// <summary>The node's ID.</summary>
    public string Id => Node.Id;

    /// <summary>The address the node printed at start: the UI with <c>#token=TOKEN</c>, good for one login.</summary>
    public Uri LoginUrl => Ui.LoginUrl;

    /// <summary>The UI's address without the token, <c>http://127.0.0.1:PORT/</c>.</summary>
    public Uri BaseUrl => Ui.BaseUrl;

    /// <summary>The one-time token of the printed address.</summary>
    public string Token => Ui.Token;

    /// <summary>The local API's bearer token, from <c>api.json</c>: the CLI's, which opens no browser session.</summary>
    public string ApiToken => Node.Api.Token;

    /// <summary>The UI's port.</summary>
    public int Port => BaseUrl.Port;

    /// <summary>The UI's own web origin, <c>http://127.0.0.1:PORT</c>, as a browser sends it.</summary>
    public string Origin => string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{Port}");

    /// <summary>A bearer-token client of the node's local API, to set up state the way the CLI does.</summary>
    public NodeApi Api => Node.Api;

    private WebUiLink Ui { get; }

    /// <summary>
    /// Creates the identity <paramref name="name"/> in a fresh home and starts its node with the UI;
    /// <paramref name="prepare"/> may fill the home's store first, while no node has it open.
    /// </summary>
    public static async Task<WebNode> StartAsync(string name = "A", Action<TemporaryHome, CreatedIdentity>? prepare = null)
    {
        var home = new TemporaryHome();
        try
        {
            var identity = await SecureChatCli.InitAsync(home, name);
            prepare?.Invoke(home, identity);
            var node = await RunningNode.StartAsync(home, name, RunningNode.AnyPort, ui: true);
            var ui = node.Ui ?? throw new InvalidOperationException("RunningNode was asked for its UI and returned none.");
            return new WebNode(home, identity, node, ui);
        }
        catch
        {
            home.Dispose();
            throw;
        }
    }

    /// <summary>A fresh one-time link from the node (POST /api/ui-link with the bearer token, as <c>securechat ui</c>).</summary>
    public Task<Uri> NewLoginUrlAsync() => Api.NewUiLinkAsync();

    /// <summary>The token of a fresh one-time link.</summary>
    public async Task<string> NewTokenAsync() => WebUiLink.TokenOf(await NewLoginUrlAsync());

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Node.DisposeAsync();
        }
        finally
        {
            Home.Dispose();
        }
    }

    public override string ToString() => $"{Node} with its UI at {BaseUrl}";
}
