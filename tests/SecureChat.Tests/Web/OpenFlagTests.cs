using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using SecureChat.Tests.Node;

namespace SecureChat.Tests.Web;

/// <summary>
/// <c>run --open</c> hands the browser a file that redirects to a one-time link of its own, never
/// the link itself (a program's arguments are readable by every user of the machine); the file is
/// the owner's alone and goes when the node stops.
/// </summary>
[Trait("Speed", "Slow")]
public sealed partial class OpenFlagTests
{
    [Fact]
    public async Task Open_WritesAnOwnerOnlyRedirectToTheLink_AndRemovesItAtStop()
    {
        using var home = new TemporaryHome();
        await SecureChatCli.InitAsync(home, "Opener");
        await using var node = await RunningNode.StartAsync(home, "opener", RunningNode.AnyPort, discovery: ["--no-dht", "--no-lan", "--open"], ui: true);
        var file = home.FilePath("open.html");

        Assert.True(File.Exists(file), "run --open wrote no open.html");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        var html = await File.ReadAllTextAsync(file);
        var redirect = RedirectTarget().Match(html);
        Assert.True(redirect.Success, $"open.html sends the browser nowhere: {html}");
        var link = new Uri(redirect.Groups["url"].Value);
        Assert.Equal(node.Ui!.BaseUrl, new Uri(link.GetLeftPart(UriPartial.Path)));

        // The browser gets a one-time link of its own: not the printed one (that one stays good for
        // another browser), not the API's bearer token; it opens one session, and then nothing.
        var token = WebUiLink.TokenOf(link);
        Assert.NotEqual(node.Ui.Token, token);
        Assert.NotEqual(node.Api.Token, token);
        using var http = new HttpClient { BaseAddress = node.Ui.BaseUrl };
        Assert.Equal(HttpStatusCode.NoContent, await TradeAsync(http, node.Ui.BaseUrl, token));
        Assert.Equal(HttpStatusCode.Unauthorized, await TradeAsync(http, node.Ui.BaseUrl, token));
        Assert.Equal(HttpStatusCode.NoContent, await TradeAsync(http, node.Ui.BaseUrl, node.Ui.Token));

        // Whether or not this machine has a browser to open, the node runs on and says nothing it should not.
        Assert.DoesNotContain(node.Process.Stdout, line => line.StartsWith("Could not open", StringComparison.Ordinal) && line.Contains(token, StringComparison.Ordinal));
        await node.StopAsync(home);
        Assert.False(File.Exists(file), "open.html outlived the node");
    }

    private static async Task<HttpStatusCode> TradeAsync(HttpClient http, Uri baseUrl, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/session") { Content = JsonContent.Create(new { token }) };
        request.Headers.Add("Origin", baseUrl.GetLeftPart(UriPartial.Authority));
        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }

    [GeneratedRegex("url=(?<url>[^\"]+)\"")]
    private static partial Regex RedirectTarget();

    [Fact]
    public async Task OpenWithNoUi_IsAUsageError()
    {
        using var home = new TemporaryHome();
        await SecureChatCli.InitAsync(home, "Opener");
        var run = await SecureChatCli.RunAsync(null, "--home", home.Path, "run", "--no-ui", "--open", "--no-dht", "--no-lan");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--open opens the web UI, which --no-ui turns off.", run.Stderr, StringComparison.Ordinal);
    }
}
