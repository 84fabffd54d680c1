using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using SecureChat.Tests.Node;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace SecureChat.Tests.Web;

/// <summary>
/// The token in a link to the window is good once: a browser keeps every address it visited (its
/// History database, its session files), so after the login every token that can be dug out of
/// its profile must open nothing. A fresh link from <c>securechat ui</c> lets another browser in.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(BrowserCollection.Name)]
public sealed partial class OneTimeLinkTests(BrowserFixture browser, ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>Files larger than this in the profile are caches of no interest (and none is, in a fresh profile).</summary>
    private const long MaxScannedFile = 64L << 20;

    private WebNode _node = null!;
    private DirectoryInfo _scratch = null!;

    public async Task InitializeAsync()
    {
        _scratch = Directory.CreateTempSubdirectory("securechat-profile-");
        _node = await WebNode.StartAsync("Alice");
    }

    public async Task DisposeAsync()
    {
        await _node.DisposeAsync();
        _scratch.Delete(recursive: true);
    }

    [Fact]
    public async Task PrintedLink_AfterTheLogin_NoTokenLeftInTheBrowsersProfileOpensASession()
    {
        var profile = Path.Combine(_scratch.FullName, "chromium");
        await using (var session = await browser.NewPersistentSessionAsync(output, profile))
        {
            var page = session.Context.Pages.Count > 0 ? session.Context.Pages[0] : await session.NewPageAsync();
            await page.GotoAsync(_node.LoginUrl.ToString());
            await Expect(page.Locator("#app")).ToBeVisibleAsync();
            Assert.DoesNotContain(_node.Token, page.Url, StringComparison.Ordinal);
            session.AssertNoErrors();
        }

        // The browser has closed, so its History database and session files are written out.
        // The visit with the token is in History: this is where the check must look.
        var history = HistoryUrls(profile);
        Assert.True(history.Any(url => url.Contains("#token=" + _node.Token, StringComparison.Ordinal)), $"the login's address is not in History, so this test would prove nothing; History holds:\n{string.Join('\n', history)}");

        var found = TokensIn(profile);
        foreach (var url in history)
        {
            Collect(url, "History (urls table)", found);
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{found.Count} token-like strings in the profile:"));
        foreach (var (candidate, places) in found)
        {
            output.WriteLine($"  {candidate[..Math.Min(8, candidate.Length)]}… in {string.Join(", ", places.Order(StringComparer.Ordinal))}");
        }

        Assert.True(found.ContainsKey(_node.Token), "the scan of the profile missed the token that History holds");

        using var http = new HttpClient(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = _node.BaseUrl, Timeout = ChatProcess.Timeout };
        foreach (var (candidate, places) in found)
        {
            var (status, error, setCookie) = await TradeAsync(http, candidate);
            Assert.True(status == HttpStatusCode.Unauthorized && !setCookie, string.Create(CultureInfo.InvariantCulture, $"a token found in {string.Join(", ", places)} was traded for a session ({(int)status}, cookie set: {setCookie})"));
            Assert.False(string.IsNullOrEmpty(error), $"the refusal of a token from {string.Join(", ", places)} has no sentence");
        }

        var (_, printed, _) = await TradeAsync(http, _node.Token);
        Assert.StartsWith("This link has been used already", printed, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SecurechatUi_WhileAnotherBrowserIsLoggedIn_PrintsAFreshLinkThatLogsASecondBrowserInOnce()
    {
        await using var first = await browser.NewSessionAsync(output);
        var firstPage = await first.NewPageAsync();
        await firstPage.GotoAsync(_node.LoginUrl.ToString());
        await Expect(firstPage.Locator("#app")).ToBeVisibleAsync();

        var ui = await SecureChatCli.RunAsync(null, "--home", _node.Home.Path, "ui");
        Assert.True(ui.ExitCode == 0, ui.Transcript);
        var link = new Uri(ui.Stdout[0]);
        Assert.Equal("(opens one browser, once, within 10 minutes)", ui.Stdout[1]);
        Assert.Equal(_node.BaseUrl, new Uri(link.GetLeftPart(UriPartial.Path)));
        var token = WebUiLink.TokenOf(link);
        Assert.NotEqual(_node.Token, token);
        Assert.NotEqual(_node.ApiToken, token);

        await using var second = await browser.NewSessionAsync(output);
        var secondPage = await second.NewPageAsync();
        await secondPage.GotoAsync(link.ToString());
        await Expect(secondPage.Locator("#app")).ToBeVisibleAsync();
        await Expect(secondPage.Locator("#net-status")).ToContainTextAsync("Listening");

        // The first browser is still in; the fresh link is spent.
        await firstPage.ReloadAsync();
        await Expect(firstPage.Locator("#app")).ToBeVisibleAsync();
        await using var third = await browser.NewSessionAsync(output);
        var thirdPage = await third.NewPageAsync();
        await thirdPage.GotoAsync(link.ToString());
        await Expect(thirdPage.Locator("#login-error")).ToContainTextAsync("This link has been used already");
        Assert.Equal(0, await thirdPage.Locator("#app").CountAsync());

        first.AssertNoErrors();
        second.AssertNoErrors();
        third.AssertNoErrors("/session");
    }

    /// <summary>POST /session as the explainer's script does: the status, the refusal's sentence, and whether a cookie was set.</summary>
    private async Task<(HttpStatusCode Status, string? Error, bool SetCookie)> TradeAsync(HttpClient http, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/session") { Content = JsonContent.Create(new { token }) };
        request.Headers.Add("Origin", _node.Origin);
        using var response = await http.SendAsync(request);
        string? error = null;
        if (response.StatusCode != HttpStatusCode.NoContent)
        {
            var body = await response.Content.ReadFromJsonAsync<ErrorBody>();
            error = body?.Error;
        }

        return (response.StatusCode, error, response.Headers.Contains("Set-Cookie"));
    }

    /// <summary>Every address in the profile's History database, read from a copy (Chromium's own is not ours to lock).</summary>
    private List<string> HistoryUrls(string profile)
    {
        var original = Path.Combine(profile, "Default", "History");
        Assert.True(File.Exists(original), $"Chromium wrote no History database at {original}");
        var copy = Directory.CreateDirectory(Path.Combine(_scratch.FullName, "history-copy")).FullName;
        foreach (var file in Directory.EnumerateFiles(Path.GetDirectoryName(original)!, "History*"))
        {
            File.Copy(file, Path.Combine(copy, Path.GetFileName(file)), overwrite: true);
        }

        var urls = new List<string>();
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path.Combine(copy, "History"), Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT url FROM urls";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            urls.Add(reader.GetString(0));
        }

        return urls;
    }

    /// <summary>
    /// Every token-like string in every file of the profile (History, its journal, Sessions/, Preferences,
    /// caches…): whatever follows <c>token=</c>, and every base64url run of a token's length, read as
    /// bytes (UTF-8 and SQLite text) and as UTF-16 (Chromium's page states), with where each was found.
    /// </summary>
    private Dictionary<string, HashSet<string>> TokensIn(string profile)
    {
        var found = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        var files = Directory.EnumerateFiles(profile, "*", SearchOption.AllDirectories).ToList();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{files.Count} files in the profile, {files.Count(f => f.Contains("/Sessions/", StringComparison.Ordinal))} under Sessions/"));
        foreach (var file in files)
        {
            var info = new FileInfo(file);
            if (info.Length > MaxScannedFile)
            {
                output.WriteLine($"not scanned, {info.Length:N0} bytes: {file}");
                continue;
            }

            byte[] bytes;
            try
            {
                bytes = File.ReadAllBytes(file);
            }
            catch (IOException ex)
            {
                // A lock file or socket of the closed browser: nothing written in it.
                output.WriteLine($"not read: {file}: {ex.Message}");
                continue;
            }

            var where = Path.GetRelativePath(profile, file);
            Collect(Encoding.Latin1.GetString(bytes), where, found);
            Collect(Encoding.Unicode.GetString(bytes), where + " (UTF-16)", found);
            if (bytes.Length > 1)
            {
                Collect(Encoding.Unicode.GetString(bytes, 1, bytes.Length - 1), where + " (UTF-16, odd)", found);
            }
        }

        return found;
    }

    private static void Collect(string text, string where, Dictionary<string, HashSet<string>> found)
    {
        foreach (var match in AfterTokenEquals().Matches(text).Concat(TokenLengthRun().Matches(text)))
        {
            var candidate = match.Groups["token"].Value;
            if (!found.TryGetValue(candidate, out var places))
            {
                found[candidate] = places = new HashSet<string>(StringComparer.Ordinal);
            }

            places.Add(where);
        }
    }

    /// <summary>What a link carries after <c>token=</c> (in any percent-decoding state the browser stored it).</summary>
    [GeneratedRegex("token(?:=|%3[Dd])(?<token>[A-Za-z0-9_-]{1,256})")]
    private static partial Regex AfterTokenEquals();

    /// <summary>A base64url run exactly as long as a token (256 bits: 43 characters), not part of a longer run.</summary>
    [GeneratedRegex("(?<![A-Za-z0-9_-])(?<token>[A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])")]
    private static partial Regex TokenLengthRun();

    private sealed record ErrorBody(string? Error);
}
