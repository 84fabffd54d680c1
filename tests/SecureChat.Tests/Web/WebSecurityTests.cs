using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using SecureChat.Tests.Node;

namespace SecureChat.Tests.Web;

/// <summary>
/// The web UI's door at the HTTP level, against a real node, with a plain HttpClient that sends
/// exactly the headers a browser (or an attacker's page, or the CLI) would: the security headers
/// on every answer; the Host check against DNS rebinding; the explainer, the only thing a visitor
/// without a session sees; the trade of the link's token for a strict HttpOnly cookie, only from
/// the page's own origin, once per link; fresh links only for the bearer token; the cookie opening
/// pages and the API, with the Origin required for anything that changes state; the bearer token
/// still opening every API call for the CLI, and never a session; and logging out.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(NodeProcesses.Collection)]
public sealed partial class WebSecurityTests(WebSecurityTests.Server server) : IClassFixture<WebSecurityTests.Server>
{
    private const string ForeignOrigin = "http://evil.example";

    private WebNode Node => server.Node;

    private string CookieName => string.Create(CultureInfo.InvariantCulture, $"sc-session-{Node.Port}");

    [Fact]
    public async Task EveryAnswer_WhateverItsStatus_CarriesTheSecurityHeaders()
    {
        var cookie = await LoginAsync();
        var fresh = await Node.NewTokenAsync();

        // SendAsync checks the headers on every answer; these cover each kind of answer the server gives.
        (HttpStatusCode Status, Func<Task<HttpResponseMessage>> Send)[] answers =
        [
            (HttpStatusCode.Unauthorized, () => SendAsync(HttpMethod.Get, "/")),
            (HttpStatusCode.OK, () => SendAsync(HttpMethod.Get, "/", cookie: cookie)),
            (HttpStatusCode.OK, () => SendAsync(HttpMethod.Get, "/assets/login.js")),
            (HttpStatusCode.OK, () => SendAsync(HttpMethod.Get, "/assets/app.js", cookie: cookie)),
            (HttpStatusCode.Unauthorized, () => SendAsync(HttpMethod.Get, "/api/status")),
            (HttpStatusCode.OK, () => SendAsync(HttpMethod.Get, "/api/status", cookie: cookie)),
            (HttpStatusCode.NoContent, () => SendAsync(HttpMethod.Post, "/session", origin: Node.Origin, json: new { token = fresh })),
            (HttpStatusCode.Unauthorized, () => SendAsync(HttpMethod.Post, "/session", origin: Node.Origin, json: new { token = fresh })),
            (HttpStatusCode.Forbidden, () => SendAsync(HttpMethod.Post, "/session", origin: ForeignOrigin, json: new { token = fresh })),
            (HttpStatusCode.Created, () => SendAsync(HttpMethod.Post, "/api/ui-link", bearer: Node.ApiToken)),
            (HttpStatusCode.Forbidden, () => SendAsync(HttpMethod.Post, "/api/ui-link", cookie: cookie, origin: Node.Origin)),
            (HttpStatusCode.MisdirectedRequest, () => SendAsync(HttpMethod.Get, "/", host: ForeignHost)),
        ];
        foreach (var (status, send) in answers)
        {
            using var response = await send();
            await ExpectStatusAsync(response, status);
        }

        Node.Node.Process.AssertNoStackTrace();
    }

    [Fact]
    public async Task AnyRequest_WithAForeignHost_Is421()
    {
        var cookie = await LoginAsync();
        var fresh = await Node.NewTokenAsync();
        var port = Node.Port.ToString(CultureInfo.InvariantCulture);
        string[] foreignHosts = [ForeignHost, $"127.0.0.1:{Node.Port + 1}", "127.0.0.1", $"localhost.evil.example:{port}", $"127.0.0.2:{port}"];
        foreach (var host in foreignHosts)
        {
            // A rebinding page learns nothing: not the explainer, not a public file, not whether a token or a cookie is right.
            (HttpMethod Method, string Path, string? Cookie, string? Bearer, object? Json)[] requests =
            [
                (HttpMethod.Get, "/", null, null, null),
                (HttpMethod.Get, "/", cookie, null, null),
                (HttpMethod.Get, "/assets/login.js", null, null, null),
                (HttpMethod.Get, "/assets/app.js", cookie, null, null),
                (HttpMethod.Get, "/api/status", null, Node.ApiToken, null),
                (HttpMethod.Get, "/api/status", cookie, null, null),
                (HttpMethod.Get, "/api/events", cookie, null, null),
                (HttpMethod.Post, "/session", null, null, new { token = fresh }),
                (HttpMethod.Get, "/no-such-page", null, null, null),
            ];
            foreach (var (method, path, withCookie, bearer, json) in requests)
            {
                using var response = await SendAsync(method, path, cookie: withCookie, bearer: bearer, json: json, origin: json is null ? null : Node.Origin, host: host);
                await ExpectStatusAsync(response, HttpStatusCode.MisdirectedRequest, $"Host {host}");
                Assert.Null(SessionCookie(response));
            }
        }

        foreach (var host in new[] { $"127.0.0.1:{port}", $"localhost:{port}", $"[::1]:{port}" })
        {
            using var response = await SendAsync(HttpMethod.Get, "/assets/login.js", host: host);
            await ExpectStatusAsync(response, HttpStatusCode.OK, $"Host {host}");
        }
    }

    [Fact]
    public async Task Root_WithoutASession_Is401ExplainerThatLoadsOnlyTheLoginScript()
    {
        using var response = await SendAsync(HttpMethod.Get, "/");
        await ExpectStatusAsync(response, HttpStatusCode.Unauthorized);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("securechat run", html, StringComparison.Ordinal);
        Assert.Contains("token", html, StringComparison.Ordinal);
        Assert.DoesNotContain("/assets/app.js", html, StringComparison.Ordinal);
        Assert.Equal(new[] { "/assets/login.js" }, Scripts(html));

        foreach (var path in new[] { "/", "/index.html", "/assets/index.html", "/assets/app.js" })
        {
            using var refused = await SendAsync(HttpMethod.Get, path);
            await ExpectStatusAsync(refused, HttpStatusCode.Unauthorized, path);
            Assert.DoesNotContain("/assets/app.js", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // With nosniff a browser runs a script and applies a style only when its type says so.
        foreach (var (path, type) in new[] { ("/assets/login.js", "text/javascript"), ("/assets/style.css", "text/css") })
        {
            using var asset = await SendAsync(HttpMethod.Get, path);
            await ExpectStatusAsync(asset, HttpStatusCode.OK, path);
            Assert.Equal(type, asset.Content.Headers.ContentType?.MediaType);
        }
    }

    [Fact]
    public async Task PostSession_RightTokenFromTheOwnOrigin_Is204WithAStrictHttpOnlyCookieNamedByPort()
    {
        var token = await Node.NewTokenAsync();
        using var response = await SendAsync(HttpMethod.Post, "/session", origin: Node.Origin, json: new { token });
        await ExpectStatusAsync(response, HttpStatusCode.NoContent);
        var cookie = SessionCookie(response) ?? throw new Xunit.Sdk.XunitException($"POST /session set no cookie {CookieName}: {string.Join(" | ", SetCookies(response))}");
        Assert.True(cookie.Value.Length >= 16, $"a session secret of {cookie.Value.Length} characters");
        Assert.DoesNotContain(token, cookie.Value, StringComparison.Ordinal);
        Assert.Contains("HttpOnly", cookie.Attributes.Keys, StringComparer.OrdinalIgnoreCase);
        Assert.Equal("strict", cookie.Attributes.GetValueOrDefault("SameSite"), ignoreCase: true);
        Assert.Equal("/", cookie.Attributes.GetValueOrDefault("Path"));
    }

    [Fact]
    public async Task PostSession_WrongTokenOrForeignOrMissingOrigin_IsRefusedWithoutACookie()
    {
        var live = await Node.NewTokenAsync();
        var wrongTokens = new[] { RandomToken(), live[..^1], live + "x", string.Empty, Node.ApiToken };
        foreach (var token in wrongTokens)
        {
            using var response = await SendAsync(HttpMethod.Post, "/session", origin: Node.Origin, json: new { token });
            await ExpectStatusAsync(response, HttpStatusCode.Unauthorized, $"token '{token}'");
            await ExpectErrorSentenceAsync(response);
            Assert.Empty(SetCookies(response));
        }

        foreach (var origin in new string?[] { null, ForeignOrigin, $"https://127.0.0.1:{Node.Port}", $"http://127.0.0.1:{Node.Port + 1}", "null" })
        {
            using var response = await SendAsync(HttpMethod.Post, "/session", origin: origin, json: new { token = live });
            await ExpectStatusAsync(response, HttpStatusCode.Forbidden, $"Origin {origin ?? "none"}");
            Assert.Empty(SetCookies(response));
        }

        // None of those refusals spent the live token: it still opens one session.
        using var accepted = await SendAsync(HttpMethod.Post, "/session", origin: Node.Origin, json: new { token = live });
        await ExpectStatusAsync(accepted, HttpStatusCode.NoContent, "the live token after the refusals");
    }

    [Fact]
    public async Task PostSession_ALinksTokenASecondTime_IsRefusedWithHowToGetAFreshLink()
    {
        var token = await Node.NewTokenAsync();
        using (var first = await SendAsync(HttpMethod.Post, "/session", origin: Node.Origin, json: new { token }))
        {
            await ExpectStatusAsync(first, HttpStatusCode.NoContent, "the first trade");
        }

        using var second = await SendAsync(HttpMethod.Post, "/session", origin: Node.Origin, json: new { token });
        await ExpectStatusAsync(second, HttpStatusCode.Unauthorized, "the second trade");
        Assert.Empty(SetCookies(second));
        using var error = JsonDocument.Parse(await second.Content.ReadAsStringAsync());
        var sentence = error.RootElement.GetProperty("error").GetString();
        Assert.Equal("This link has been used already: each link opens one browser, once. For a fresh link, run `securechat ui` in a terminal and open the link it prints.", sentence);
    }

    [Fact]
    public async Task UiLink_OnlyWithTheBearerToken_MakesADifferentLinkEachTime()
    {
        var cookie = await LoginAsync();
        (string What, string? Bearer, string? Cookie, string? Origin)[] refusals =
        [
            ("a browser session", null, cookie, Node.Origin),
            ("a link's token as the bearer", await Node.NewTokenAsync(), null, null),
        ];
        foreach (var (what, bearer, withCookie, origin) in refusals)
        {
            using var refused = await SendAsync(HttpMethod.Post, "/api/ui-link", bearer: bearer, cookie: withCookie, origin: origin);
            Assert.True(refused.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized, $"POST /api/ui-link with {what} answered {(int)refused.StatusCode}");
            await ExpectErrorSentenceAsync(refused);
        }

        var links = new List<Uri>();
        for (var i = 0; i < 3; i++)
        {
            using var made = await SendAsync(HttpMethod.Post, "/api/ui-link", bearer: Node.ApiToken);
            await ExpectStatusAsync(made, HttpStatusCode.Created);
            Assert.Equal("no-store", made.Headers.CacheControl?.ToString());
            using var body = JsonDocument.Parse(await made.Content.ReadAsStringAsync());
            Assert.Equal(600, body.RootElement.GetProperty("expiresInSeconds").GetInt64());
            var link = new Uri(body.RootElement.GetProperty("link").GetString()!);
            Assert.Equal(Node.BaseUrl, new Uri(link.GetLeftPart(UriPartial.Path)));
            links.Add(link);
        }

        Assert.Equal(5, links.Select(WebUiLink.TokenOf).Append(Node.ApiToken).Append(Node.Token).Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public async Task Session_OpensTheAppAndTheApi()
    {
        var cookie = await LoginAsync();

        using var page = await SendAsync(HttpMethod.Get, "/", cookie: cookie);
        await ExpectStatusAsync(page, HttpStatusCode.OK);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("/assets/app.js", Scripts(await page.Content.ReadAsStringAsync()));

        using var app = await SendAsync(HttpMethod.Get, "/assets/app.js", cookie: cookie);
        await ExpectStatusAsync(app, HttpStatusCode.OK);
        Assert.Equal("text/javascript", app.Content.Headers.ContentType?.MediaType);

        using var status = await SendAsync(HttpMethod.Get, "/api/status", cookie: cookie);
        await ExpectStatusAsync(status, HttpStatusCode.OK);
        using var json = JsonDocument.Parse(await status.Content.ReadAsStringAsync());
        Assert.Equal(Node.Id, json.RootElement.GetProperty("id").GetString());
    }

    [Fact]
    public async Task AppModules_EveryOneTheAppImports_OnlyWithASessionAndAsJavaScript()
    {
        var cookie = await LoginAsync();

        // The app is native ES modules: follow the imports from app.js as the browser does, each file once.
        var reached = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Queue<string>(["/assets/app.js"]);
        while (pending.TryDequeue(out var path))
        {
            if (!reached.Add(path))
            {
                continue;
            }

            using (var refused = await SendAsync(HttpMethod.Get, path))
            {
                await ExpectStatusAsync(refused, HttpStatusCode.Unauthorized, path);
            }

            using var module = await SendAsync(HttpMethod.Get, path, cookie: cookie);
            await ExpectStatusAsync(module, HttpStatusCode.OK, path);
            Assert.Equal("text/javascript", module.Content.Headers.ContentType?.MediaType);
            foreach (Match import in ModuleImport().Matches(await module.Content.ReadAsStringAsync()))
            {
                pending.Enqueue(new Uri(new Uri(Node.BaseUrl, path), import.Groups["from"].Value).AbsolutePath);
            }
        }

        // Every script the program carries but the explainer's is part of the app, so none is left public by mistake.
        var scripts = typeof(SecureChat.Web.WebUi).Assembly.GetManifestResourceNames()
            .Where(n => n.EndsWith(".js", StringComparison.Ordinal) && n != "wwwroot/login.js")
            .Select(n => "/assets/" + n["wwwroot/".Length..]);
        Assert.Equal(scripts.Order(StringComparer.Ordinal), reached.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task SessionPost_NeedsTheOwnOrigin_AndNoCrossSiteFetch()
    {
        var cookie = await LoginAsync();
        var path = $"/api/contacts/{server.Bob.Name}/messages";
        var before = (await Node.Api.ConversationAsync(server.Bob.Name)).Count;

        using (var sent = await SendAsync(HttpMethod.Post, path, cookie: cookie, origin: Node.Origin, json: new { text = "from the page" }))
        {
            await ExpectStatusAsync(sent, HttpStatusCode.Accepted);
        }

        (string What, string? Origin, string? FetchSite)[] forged =
        [
            ("no Origin (a form or script that hides it)", null, null),
            ("a foreign Origin", ForeignOrigin, null),
            ("Sec-Fetch-Site: cross-site", Node.Origin, "cross-site"),
            ("Sec-Fetch-Site: same-site", Node.Origin, "same-site"),
        ];
        foreach (var (what, origin, fetchSite) in forged)
        {
            using var refused = await SendAsync(HttpMethod.Post, path, cookie: cookie, origin: origin, fetchSite: fetchSite, json: new { text = "forged: " + what });
            await ExpectStatusAsync(refused, HttpStatusCode.Forbidden, what);
            await ExpectErrorSentenceAsync(refused);
        }

        // Only the page's own message was queued.
        var conversation = await Node.Api.ConversationAsync(server.Bob.Name);
        Assert.Equal(before + 1, conversation.Count);
        Assert.Equal("from the page", conversation[^1].Text);
    }

    [Fact]
    public async Task Api_WithoutAValidTokenOrSession_Is401_AndTheBearerTokenStillOpensEveryCall()
    {
        var fresh = await Node.NewTokenAsync();
        var forged = $"{CookieName}={RandomToken()}";
        (string What, string? Bearer, string? Cookie)[] refusals =
        [
            ("no credentials", null, null),
            ("a bad bearer", RandomToken(), null),
            ("the bearer minus a character", Node.ApiToken[..^1], null),
            ("a forged cookie", null, forged),
            ("the bearer token as the cookie", null, $"{CookieName}={Node.ApiToken}"),
            ("a link's token as the cookie", null, $"{CookieName}={fresh}"),
        ];
        foreach (var (what, bearer, cookie) in refusals)
        {
            foreach (var path in new[] { "/api/status", "/api/contacts", "/api/events" })
            {
                using var response = await SendAsync(HttpMethod.Get, path, bearer: bearer, cookie: cookie);
                await ExpectStatusAsync(response, HttpStatusCode.Unauthorized, $"{path} with {what}");
                Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
                await ExpectErrorSentenceAsync(response);
            }
        }

        // The CLI: the bearer token and no Origin, for reading and for changing.
        foreach (var path in new[] { "/api/status", "/api/contacts", $"/api/contacts/{server.Bob.Name}/messages?limit=5", "/api/search?q=page" })
        {
            using var response = await SendAsync(HttpMethod.Get, path, bearer: Node.ApiToken);
            await ExpectStatusAsync(response, HttpStatusCode.OK, path);
        }

        using var sent = await SendAsync(HttpMethod.Post, $"/api/contacts/{server.Bob.Name}/messages", bearer: Node.ApiToken, json: new { text = "from the CLI" });
        await ExpectStatusAsync(sent, HttpStatusCode.Accepted);
        await ExpectEventStreamAsync(bearer: Node.ApiToken, cookie: null);
    }

    [Fact]
    public async Task DeleteSession_Is204_AndThatCookieNoLongerOpensAnything()
    {
        var cookie = await LoginAsync();
        var other = await LoginAsync();

        using (var refused = await SendAsync(HttpMethod.Delete, "/session", cookie: cookie))
        {
            // A page of another site cannot log the user out either: no Origin, no change.
            await ExpectStatusAsync(refused, HttpStatusCode.Forbidden, "DELETE /session without Origin");
        }

        using (var deleted = await SendAsync(HttpMethod.Delete, "/session", cookie: cookie, origin: Node.Origin))
        {
            await ExpectStatusAsync(deleted, HttpStatusCode.NoContent);
        }

        using (var status = await SendAsync(HttpMethod.Get, "/api/status", cookie: cookie))
        {
            await ExpectStatusAsync(status, HttpStatusCode.Unauthorized, "the logged-out cookie");
        }

        using (var page = await SendAsync(HttpMethod.Get, "/", cookie: cookie))
        {
            await ExpectStatusAsync(page, HttpStatusCode.Unauthorized, "the page with the logged-out cookie");
            Assert.DoesNotContain("/assets/app.js", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Another tab's session and the CLI's token are not logged out with it.
        using (var otherStatus = await SendAsync(HttpMethod.Get, "/api/status", cookie: other))
        {
            await ExpectStatusAsync(otherStatus, HttpStatusCode.OK, "another session");
        }

        using var bearer = await SendAsync(HttpMethod.Get, "/api/status", bearer: Node.ApiToken);
        await ExpectStatusAsync(bearer, HttpStatusCode.OK, "the bearer token");
    }

    [Fact]
    public async Task Events_WithTheSessionCookie_Stream()
    {
        // An EventSource cannot send an Authorization header: the cookie is all a page has.
        await ExpectEventStreamAsync(bearer: null, cookie: await LoginAsync());
    }

    private string ForeignHost => string.Create(CultureInfo.InvariantCulture, $"evil.example:{Node.Port}");

    /// <summary>POST /session as the explainer's script does; returns the Cookie header value <c>sc-session-PORT=SECRET</c>.</summary>
    private async Task<string> LoginAsync()
    {
        using var response = await SendAsync(HttpMethod.Post, "/session", origin: Node.Origin, json: new { token = await Node.NewTokenAsync() });
        await ExpectStatusAsync(response, HttpStatusCode.NoContent, "login");
        var cookie = SessionCookie(response) ?? throw new Xunit.Sdk.XunitException($"POST /session set no cookie {CookieName}.");
        return $"{cookie.Name}={cookie.Value}";
    }

    private async Task ExpectEventStreamAsync(string? bearer, string? cookie)
    {
        using var stop = new CancellationTokenSource(ChatProcess.Timeout);
        using var response = await SendAsync(HttpMethod.Get, "/api/events", bearer: bearer, cookie: cookie, completion: HttpCompletionOption.ResponseHeadersRead, cancellationToken: stop.Token);
        await ExpectStatusAsync(response, HttpStatusCode.OK, "GET /api/events");
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var events = new StreamReader(await response.Content.ReadAsStreamAsync(stop.Token));
        Assert.Equal(": connected", await events.ReadLineAsync(stop.Token));
    }

    /// <summary>
    /// Sends one request with exactly the headers given (no cookie jar, no redirects followed) and
    /// checks the security headers on the answer, whatever its status.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsync(
        HttpMethod method,
        string path,
        string? cookie = null,
        string? origin = null,
        string? bearer = null,
        string? host = null,
        string? fetchSite = null,
        object? json = null,
        HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead,
        CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(method, path);
        if (cookie is not null)
        {
            request.Headers.Add("Cookie", cookie);
        }

        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        if (host is not null)
        {
            request.Headers.Host = host;
        }

        if (fetchSite is not null)
        {
            request.Headers.Add("Sec-Fetch-Site", fetchSite);
        }

        if (json is not null)
        {
            request.Content = new StringContent(JsonSerializer.Serialize(json), Encoding.UTF8, "application/json");
        }

        var response = await server.Http.SendAsync(request, completion, cancellationToken);
        AssertSecurityHeaders(response, $"{method} {path} (Host {host ?? "default"}) answered {(int)response.StatusCode}");
        return response;
    }

    private static void AssertSecurityHeaders(HttpResponseMessage response, string what)
    {
        var csp = Header(response, "Content-Security-Policy");
        Assert.True(csp is not null, $"{what} without a Content-Security-Policy");
        var directives = csp.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(d => d.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .ToDictionary(d => d[0].ToLowerInvariant(), d => d[1..]);
        Assert.True(directives.GetValueOrDefault("default-src") is ["'none'"], $"{what}: default-src is not 'none' in {csp}");
        Assert.True(directives.GetValueOrDefault("script-src") is { } script && script.Contains("'self'"), $"{what}: script-src lacks 'self' in {csp}");
        Assert.True(directives.GetValueOrDefault("frame-ancestors") is ["'none'"], $"{what}: frame-ancestors is not 'none' in {csp}");
        Assert.False(csp.Contains("'unsafe-inline'", StringComparison.OrdinalIgnoreCase), $"{what}: 'unsafe-inline' in {csp}");
        Assert.False(csp.Contains("'unsafe-eval'", StringComparison.OrdinalIgnoreCase), $"{what}: 'unsafe-eval' in {csp}");
        Assert.True(Header(response, "X-Content-Type-Options") == "nosniff", $"{what}: X-Content-Type-Options {Header(response, "X-Content-Type-Options") ?? "missing"}");
        Assert.True(Header(response, "Referrer-Policy") == "no-referrer", $"{what}: Referrer-Policy {Header(response, "Referrer-Policy") ?? "missing"}");
        Assert.True(Header(response, "X-Frame-Options") == "DENY", $"{what}: X-Frame-Options {Header(response, "X-Frame-Options") ?? "missing"}");
    }

    /// <summary>A response header's value (the headers joined, as one line), from the response or its content.</summary>
    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? string.Join(", ", values)
            : null;

    private static async Task ExpectStatusAsync(HttpResponseMessage response, HttpStatusCode expected, string? what = null)
    {
        if (response.StatusCode != expected)
        {
            var body = await response.Content.ReadAsStringAsync();
            throw new Xunit.Sdk.XunitException(string.Create(
                CultureInfo.InvariantCulture,
                $"{what ?? string.Empty}{(what is null ? string.Empty : ": ")}{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri} answered {(int)response.StatusCode}, expected {(int)expected}: {body[..Math.Min(body.Length, 300)]}"));
        }
    }

    /// <summary>A refusal of an API call: JSON <c>{"error": "…"}</c> with one sentence a person can act on.</summary>
    private static async Task ExpectErrorSentenceAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        using var error = JsonDocument.Parse(body);
        var sentence = error.RootElement.GetProperty("error").GetString() ?? string.Empty;
        Assert.True(sentence.Length > 20 && sentence.EndsWith('.'), $"not a sentence: {body}");
    }

    private static IEnumerable<string> SetCookies(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Set-Cookie", out var values) ? values : [];

    /// <summary>The <c>Set-Cookie</c> for this node's session, with its attributes (names as sent).</summary>
    private SetCookie? SessionCookie(HttpResponseMessage response)
    {
        var cookies = SetCookies(response).Select(SetCookie.Parse).Where(c => c.Name == CookieName).ToList();
        Assert.True(cookies.Count <= 1, $"{cookies.Count} cookies named {CookieName}");
        return cookies.SingleOrDefault();
    }

    /// <summary>The path of every script a page loads; an inline script fails the test (the CSP would block it anyway).</summary>
    private List<string> Scripts(string html)
    {
        var scripts = new List<string>();
        foreach (Match script in ScriptTag().Matches(html))
        {
            Assert.True(string.IsNullOrWhiteSpace(script.Groups["body"].Value), $"an inline script: {script.Value}");
            var src = ScriptSource().Match(script.Groups["attributes"].Value);
            Assert.True(src.Success, $"a script without src: {script.Value}");
            scripts.Add(new Uri(Node.BaseUrl, src.Groups["src"].Value).AbsolutePath);
        }

        return scripts;
    }

    private static string RandomToken() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    [GeneratedRegex(@"<script\b(?<attributes>[^>]*)>(?<body>.*?)</script\s*>", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex ScriptTag();

    [GeneratedRegex(@"\bsrc\s*=\s*[""']?(?<src>[^""'\s>]+)", RegexOptions.IgnoreCase)]
    private static partial Regex ScriptSource();

    [GeneratedRegex(@"^import\b[^;]*?\bfrom\s+'(?<from>[^']+)';", RegexOptions.Multiline)]
    private static partial Regex ModuleImport();

    /// <summary>One node with its UI for the whole class (each test makes its own sessions), and Bob, a contact it can queue messages for.</summary>
    public sealed class Server : IAsyncLifetime
    {
        private TemporaryHome? _bobHome;
        private WebNode? _node;
        private HttpClient? _http;

        internal WebNode Node => _node ?? throw new InvalidOperationException("The node has not started.");

        internal CreatedIdentity Bob { get; private set; } = null!;

        /// <summary>No cookie jar and no redirects: each test sends exactly the headers it means.</summary>
        internal HttpClient Http => _http ?? throw new InvalidOperationException("The node has not started.");

        public async Task InitializeAsync()
        {
            _bobHome = new TemporaryHome();
            var starting = WebNode.StartAsync("Alice");
            Bob = await SecureChatCli.InitAsync(_bobHome, "Bob");
            _node = await starting;
            using var added = await _node.Api.AddContactAsync(Bob);
            _http = new HttpClient(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false })
            {
                BaseAddress = _node.BaseUrl,
                Timeout = Timeout.InfiniteTimeSpan,
            };
        }

        public async Task DisposeAsync()
        {
            _http?.Dispose();
            if (_node is not null)
            {
                await _node.DisposeAsync();
            }

            _bobHome?.Dispose();
        }
    }

    /// <summary>One <c>Set-Cookie</c> header: name, value and attributes.</summary>
    private sealed record SetCookie(string Name, string Value, IReadOnlyDictionary<string, string> Attributes)
    {
        public static SetCookie Parse(string header)
        {
            var parts = header.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var (name, value) = Pair(parts[0]);
            var attributes = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var part in parts[1..])
            {
                var (key, attribute) = Pair(part);
                attributes[key] = attribute;
            }

            return new SetCookie(name, value, attributes);
        }

        private static (string Key, string Value) Pair(string part)
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            return equals < 0 ? (part, string.Empty) : (part[..equals].Trim(), part[(equals + 1)..].Trim());
        }
    }
}
