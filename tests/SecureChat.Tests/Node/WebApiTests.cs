using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using QRCoder;
using SecureChat.Net;
using SecureChat.Protocol.Identity;
using SecureChat.Testing;
using Xunit.Sdk;
using static SecureChat.Tests.SecureChatCli;

namespace SecureChat.Tests.Node;

/// <summary>
/// The endpoints the web UI added to the local API (README, "Local API"), on a real
/// <c>securechat run</c>: paging around a message, search hits, invite links and their QR codes,
/// a QR code read from a picture, listening switched on and off, safety numbers, and the events
/// that tell a page about listening and removed contacts. Every call carries the bearer token.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(NodeProcesses.Collection)]
public sealed partial class WebApiTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Messages_Around_GivesHalfTheLimitBeforeTheMessageAndTheRestAfter()
    {
        using var home = new TemporaryHome();
        await InitAsync(home, "A");
        await using var node = await RunningNode.StartAsync(home, "A", RunningNode.AnyPort);
        using var api = new Api(node);
        var (bob, ids) = await ConversationAsync(api, 20);

        Assert.Equal(ids[7..13], await PageAsync(api, bob, $"around={ids[10]}&limit=6"));
        Assert.Equal(ids[7..14], await PageAsync(api, bob, $"around={ids[10]}&limit=7"));
        Assert.Equal(ids[0..6], await PageAsync(api, bob, $"around={ids[1]}&limit=6"));
        Assert.Equal(ids[0..6], await PageAsync(api, bob, $"around={ids[0]}&limit=6"));
        Assert.Equal(ids[16..20], await PageAsync(api, bob, $"around={ids[19]}&limit=6"));
        Assert.Equal(ids, await PageAsync(api, bob, $"around={ids[10]}&limit=1000"));
        Assert.Equal(ids[10..15], await PageAsync(api, bob, $"around={ids[12].ToUpperInvariant()}&limit=5"));

        using var messages = await api.GetJsonAsync($"api/contacts/{bob}/messages?around={ids[4]}&limit=3");
        Assert.Equal(
            ["message 3", "message 4", "message 5"],
            messages.RootElement.EnumerateArray().Select(m => m.GetProperty("text").GetString()));
    }

    [Fact]
    public async Task Messages_AroundWithASmallLimit_GivesNoMoreThanTheLimit()
    {
        using var home = new TemporaryHome();
        await InitAsync(home, "A");
        await using var node = await RunningNode.StartAsync(home, "A", RunningNode.AnyPort);
        using var api = new Api(node);
        var (bob, ids) = await ConversationAsync(api, 5);

        Assert.Equal([ids[2]], await PageAsync(api, bob, $"around={ids[2]}&limit=1"));
        Assert.Equal(ids[1..3], await PageAsync(api, bob, $"around={ids[2]}&limit=2"));
        Assert.Equal(ids[1..4], await PageAsync(api, bob, $"around={ids[2]}&limit=3"));
    }

    [Fact]
    public async Task Messages_AfterAndConflictingOrUnknownAnchors_PageForwardOrAreRefused()
    {
        using var home = new TemporaryHome();
        await InitAsync(home, "A");
        await using var node = await RunningNode.StartAsync(home, "A", RunningNode.AnyPort);
        using var api = new Api(node);
        var (bob, ids) = await ConversationAsync(api, 10);
        var (carol, carolIds) = await ConversationAsync(api, 1, "Carol");

        Assert.Equal(ids[6..9], await PageAsync(api, bob, $"after={ids[5]}&limit=3"));
        Assert.Equal(ids[9..], await PageAsync(api, bob, $"after={ids[8]}&limit=3"));
        Assert.Empty(await PageAsync(api, bob, $"after={ids[9]}"));
        var forward = new List<string>();
        for (var (after, pages) = (ids[0], 0); pages < 10; pages++)
        {
            var page = await PageAsync(api, bob, $"after={after}&limit=4");
            if (page.Count == 0)
            {
                break;
            }

            forward.AddRange(page);
            after = page[^1];
        }

        Assert.Equal(ids[1..], forward);

        foreach (var query in new[] { $"before={ids[5]}&after={ids[2]}", $"around={ids[5]}&after={ids[2]}", $"before={ids[5]}&around={ids[2]}", $"before={ids[1]}&after={ids[1]}&around={ids[1]}" })
        {
            var error = await api.ExpectErrorAsync(HttpMethod.Get, $"api/contacts/{bob}/messages?{query}", HttpStatusCode.BadRequest);
            Assert.Equal("Give at most one of before=, after= and around=.", error);
        }

        var unknown = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        foreach (var anchor in new[] { "after", "around", "before" })
        {
            var error = await api.ExpectErrorAsync(HttpMethod.Get, $"api/contacts/{bob}/messages?{anchor}={unknown}", HttpStatusCode.NotFound);
            Assert.Contains(unknown, error, StringComparison.Ordinal);
            await api.ExpectErrorAsync(HttpMethod.Get, $"api/contacts/{bob}/messages?{anchor}={carolIds[0]}", HttpStatusCode.NotFound);
        }

        Assert.Equal(carolIds, await PageAsync(api, carol, $"around={carolIds[0]}"));
    }

    [Fact]
    public async Task Search_Words_AnswersEachMessageWithTheHitsOfTheQuerysWords()
    {
        using var home = new TemporaryHome();
        await InitAsync(home, "A");
        await using var node = await RunningNode.StartAsync(home, "A", RunningNode.AnyPort);
        using var api = new Api(node);
        var bob = await api.AddContactAsync(RandomAccount().Text, "Bob");
        var cafe = await node.Api.SendAsync(bob, "Café au lait with Bob");
        var cafeteria = await node.Api.SendAsync(bob, "🎉 the cafeteria is closed, CAFE\u0301S too");
        await node.Api.SendAsync(bob, "nothing to see here");

        var found = await SearchAsync(api, "cafe");
        var both = await SearchAsync(api, "caf bob");

        Assert.Equal([cafeteria.Id, cafe.Id], found.Select(f => f.Id));
        Assert.Equal([[0, 4]], found[1].Hits);
        Assert.Equal([[7, 9], [28, 6]], found[0].Hits);
        Assert.Equal(["cafeteria", "CAFE\u0301S"], found[0].Hits.Select(h => cafeteria.Text.Substring(h[0], h[1])));
        var only = Assert.Single(both);
        Assert.Equal(cafe.Id, only.Id);
        Assert.Equal([[0, 4], [18, 3]], only.Hits);
        Assert.Empty(await SearchAsync(api, "tea"));
        Assert.Equal(
            "The query has no words to look for: give at least one word or the beginning of one.",
            await api.ExpectErrorAsync(HttpMethod.Get, "api/search?q=%20-%20", HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task AddContact_InviteLink_TakesTheLinksNameAndAddressUnlessGivenAndRefusesABrokenLink()
    {
        using var home = new TemporaryHome();
        await InitAsync(home, "A");
        await using var node = await RunningNode.StartAsync(home, "A", RunningNode.AnyPort);
        using var api = new Api(node);
        var bob = RandomAccount();
        var carol = RandomAccount();
        // Contacts at ports nobody listens on: the test needs addresses, not peers.
        var carolPort = LoopbackPort.Unused();

        using (var added = await api.SendJsonAsync(HttpMethod.Post, "api/contacts", new { id = $"securechat:{bob}?name=Bob&at=127.0.0.1:{LoopbackPort.Unused()}" }, HttpStatusCode.Created))
        {
            Assert.Equal(bob.Text, added.RootElement.GetProperty("id").GetString());
            Assert.Equal("Bob", added.RootElement.GetProperty("name").GetString());
            Assert.Single(added.RootElement.GetProperty("endpoints").EnumerateArray());
        }

        var link = new InviteLink(carol, "Carol & Co", [new PeerEndpoint("127.0.0.1", carolPort)]).ToString();
        using (var added = await api.SendJsonAsync(HttpMethod.Post, "api/contacts", new { id = "  " + link + "\n", name = "Caroline" }, HttpStatusCode.Created))
        {
            Assert.Equal(carol.Text, added.RootElement.GetProperty("id").GetString());
            Assert.Equal("Caroline", added.RootElement.GetProperty("name").GetString());
            Assert.Equal([$"127.0.0.1:{carolPort}"], added.RootElement.GetProperty("endpoints").EnumerateArray().Select(e => e.GetString()));
        }

        using (var contact = await api.GetJsonAsync($"api/contacts/{bob}"))
        {
            Assert.Equal("Bob", contact.RootElement.GetProperty("name").GetString());
        }

        var broken = await api.ExpectErrorAsync(HttpMethod.Post, "api/contacts", HttpStatusCode.BadRequest, new { id = "securechat:notanid?name=Dave" });
        Assert.Equal($"The link does not hold a valid SecureChat ID (an ID is {AccountId.TextLength} characters): ask for the link again.", broken);
        var badAddress = await api.ExpectErrorAsync(HttpMethod.Post, "api/contacts", HttpStatusCode.BadRequest, new { id = $"securechat:{RandomAccount()}?at=nowhere" });
        Assert.StartsWith("The link's address is not usable: ", badAddress, StringComparison.Ordinal);
        using var contacts = await api.GetJsonAsync("api/contacts");
        Assert.Equal(2, contacts.RootElement.GetArrayLength());
    }

    [Fact]
    public async Task Invite_LinkAndQrCode_NameThisNodeAndWithAddressWhereItListens()
    {
        using var home = new TemporaryHome();
        var me = await InitAsync(home, "Ann Lee");
        await using var node = await RunningNode.StartAsync(home, "A", RunningNode.AnyPort);
        var port = node.ListenPort;
        using var api = new Api(node);

        var plain = await InviteAsync(api, "api/invite");
        var withAddress = await InviteAsync(api, "api/invite?withAddress=true");

        Assert.Equal($"securechat:{me.Id}?name=Ann%20Lee", plain);
        Assert.Equal($"securechat:{me.Id}?name=Ann%20Lee&at=127.0.0.1%3A{port}", withAddress);
        Assert.True(InviteLink.TryParse(withAddress, out var parsed, out var error), error);
        Assert.Equal((me.Id, "Ann Lee"), (parsed.Account.Text, parsed.Name));
        Assert.Equal([new PeerEndpoint("127.0.0.1", port)], parsed.Endpoints);

        using var qr = await api.SendAsync(HttpMethod.Get, "api/invite/qr");
        Assert.Equal(HttpStatusCode.OK, qr.StatusCode);
        Assert.Equal("image/png", qr.Content.Headers.ContentType?.MediaType);
        var png = await qr.Content.ReadAsByteArrayAsync();
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A], png[..8]);

        // Not listening: the address is left out.
        await api.CallAsync(HttpMethod.Delete, "api/listen", HttpStatusCode.OK);

        Assert.Equal(plain, await InviteAsync(api, "api/invite?withAddress=true"));
    }

    [Fact]
    public async Task QrDecode_PictureOfAQrCode_AnswersItsTextAndRefusesWhatIsNotOne()
    {
        using var home = new TemporaryHome();
        await InitAsync(home, "A");
        await using var node = await RunningNode.StartAsync(home, "A", RunningNode.AnyPort);
        using var api = new Api(node);
        var invite = await InviteAsync(api, "api/invite?withAddress=true");

        foreach (var text in new[] { invite, "hello, QR ✓" })
        {
            var (pixels, side) = Render(text, scale: 4);
            using var decoded = await api.SendBytesAsync($"api/qr/decode?width={side}&height={side}", pixels, HttpStatusCode.OK);
            Assert.Equal(text, decoded.RootElement.GetProperty("text").GetString());
        }

        var blank = Enumerable.Repeat((byte)255, 100 * 80).ToArray();
        Assert.Equal("No QR code was found in the picture.", await api.ExpectBytesErrorAsync("api/qr/decode?width=100&height=80", blank, (HttpStatusCode)422));
        Assert.Equal(
            "The body must be width × height = 8000 bytes of grey levels.",
            await api.ExpectBytesErrorAsync("api/qr/decode?width=100&height=80", blank[..7999], HttpStatusCode.BadRequest));
        Assert.Equal(
            "The body must be width × height = 8000 bytes of grey levels.",
            await api.ExpectBytesErrorAsync("api/qr/decode?width=100&height=80", [.. blank, 0], HttpStatusCode.BadRequest));
        Assert.Equal(
            "width and height are the picture's size in pixels, 21 to 2048 each.",
            await api.ExpectBytesErrorAsync("api/qr/decode?width=5&height=80", blank[..400], HttpStatusCode.BadRequest));
        await api.ExpectBytesErrorAsync("api/qr/decode?width=100&height=3000", blank, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Listen_StartStopAndRefusals_ShowInStatusAndAnswerASentence()
    {
        using var home = new TemporaryHome();
        await InitAsync(home, "A");
        await using var node = await RunningNode.StartAsync(home, "A", RunningNode.AnyPort);
        var port = node.ListenPort;
        using var api = new Api(node);
        Assert.Equal($"127.0.0.1:{port}", await StatusListenAsync(api));

        string listen;
        using (var started = await api.SendJsonAsync(HttpMethod.Post, "api/listen", new { host = "127.0.0.1", port = 0 }, HttpStatusCode.OK))
        {
            listen = started.RootElement.GetProperty("listen").GetString()!;
        }

        Assert.Matches(@"^127\.0\.0\.1:\d+$", listen);
        Assert.NotEqual($"127.0.0.1:{port}", listen);
        Assert.Equal(listen, await StatusListenAsync(api));
        await AssertAcceptsAsync(listen);

        using (var stopped = await api.SendJsonAsync(HttpMethod.Delete, "api/listen", null, HttpStatusCode.OK))
        {
            Assert.Equal(JsonValueKind.Null, stopped.RootElement.GetProperty("listen").ValueKind);
        }

        Assert.Null(await StatusListenAsync(api));

        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var held = ((IPEndPoint)holder.LocalEndpoint).Port;
        var inUse = await api.ExpectErrorAsync(HttpMethod.Post, "api/listen", HttpStatusCode.BadGateway, new { host = "127.0.0.1", port = held });
        Assert.Equal($"Port {held} on 127.0.0.1 is already in use: choose another with --port, or stop the program that holds it.", inUse);
        var tooBig = await api.ExpectErrorAsync(HttpMethod.Post, "api/listen", HttpStatusCode.BadRequest, new { host = "127.0.0.1", port = 70000 });
        Assert.Equal("70000 is not a port: use 1 to 65535 (0 picks a free one).", tooBig);
        Assert.Null(await StatusListenAsync(api));

        // Still serving, and can listen again where it started.
        using (var again = await api.SendJsonAsync(HttpMethod.Post, "api/listen", new { host = "127.0.0.1", port }, HttpStatusCode.OK))
        {
            Assert.Equal($"127.0.0.1:{port}", again.RootElement.GetProperty("listen").GetString());
        }

        await AssertAcceptsAsync($"127.0.0.1:{port}");
        await node.StopAsync(home);
    }

    [Fact]
    public async Task SafetyNumber_BothNodes_ShowTheSameTwelveGroupsUntilVerified()
    {
        using var aHome = new TemporaryHome();
        using var bHome = new TemporaryHome();
        var identities = await Task.WhenAll(InitAsync(aHome, "A"), InitAsync(bHome, "B"));
        await using var a = await RunningNode.StartAsync(aHome, "A", RunningNode.AnyPort);
        await using var b = await RunningNode.StartAsync(bHome, "B", RunningNode.AnyPort);
        using var aApi = new Api(a);
        using var bApi = new Api(b);
        await aApi.AddContactAsync(identities[1].Id, "B");
        await bApi.AddContactAsync(identities[0].Id, "A");

        using var aSees = await aApi.GetJsonAsync($"api/contacts/{identities[1].Id}/safety-number");
        using var bSees = await bApi.GetJsonAsync("api/contacts/A/safety-number");

        var number = aSees.RootElement.GetProperty("safetyNumber").GetString()!;
        Assert.Matches(SafetyNumberPattern(), number);
        Assert.Equal(number, bSees.RootElement.GetProperty("safetyNumber").GetString());
        Assert.False(aSees.RootElement.GetProperty("verified").GetBoolean());
        Assert.False(bSees.RootElement.GetProperty("verified").GetBoolean());

        await aApi.CallAsync(HttpMethod.Post, $"api/contacts/{identities[1].Id}/verify", HttpStatusCode.OK);

        using var verified = await aApi.GetJsonAsync("api/contacts/B/safety-number");
        Assert.Equal(number, verified.RootElement.GetProperty("safetyNumber").GetString());
        Assert.True(verified.RootElement.GetProperty("verified").GetBoolean());
        await aApi.ExpectErrorAsync(HttpMethod.Get, $"api/contacts/{RandomAccount()}/safety-number", HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Events_ListeningAndARemovedContact_AreStreamed()
    {
        using var home = new TemporaryHome();
        await InitAsync(home, "A");
        await using var node = await RunningNode.StartAsync(home, "A", RunningNode.AnyPort);
        using var api = new Api(node);
        using var stop = new CancellationTokenSource(Deadline);
        await using var events = await EventReader.OpenAsync(node, stop.Token);

        string listen;
        using (var started = await api.SendJsonAsync(HttpMethod.Post, "api/listen", new { host = "127.0.0.1", port = 0 }, HttpStatusCode.OK))
        {
            listen = started.RootElement.GetProperty("listen").GetString()!;
        }

        var listening = await events.NextAsync(e => e.Name == "listen" && e.Data.GetProperty("listen").ValueKind == JsonValueKind.String);
        Assert.Equal(listen, listening.Data.GetProperty("listen").GetString());

        await api.CallAsync(HttpMethod.Delete, "api/listen", HttpStatusCode.OK);

        var stopped = await events.NextAsync(e => e.Name == "listen");
        Assert.Equal(JsonValueKind.Null, stopped.Data.GetProperty("listen").ValueKind);

        var bob = RandomAccount().Text;
        await api.AddContactAsync(bob, "Bob");
        var added = await events.NextAsync(e => e.Name == "contact");
        Assert.Equal((bob, true), (added.Data.GetProperty("contactId").GetString(), added.Data.GetProperty("isNew").GetBoolean()));
        using (var removed = await api.SendJsonAsync(HttpMethod.Delete, "api/contacts/Bob", null, HttpStatusCode.OK))
        {
            Assert.Equal(0, removed.RootElement.GetProperty("messages").GetInt64());
        }

        var gone = await events.NextAsync(e => e.Name == "removed");
        Assert.Equal(bob, gone.Data.GetProperty("contactId").GetString());
    }

    /// <summary>Adds a contact (an ID nobody runs) and queues <paramref name="count"/> messages for it; returns its name and their IDs in order.</summary>
    private static async Task<(string Contact, List<string> Ids)> ConversationAsync(Api api, int count, string name = "Bob")
    {
        await api.AddContactAsync(RandomAccount().Text, name);
        var ids = new List<string>();
        for (var i = 0; i < count; i++)
        {
            using var sent = await api.SendJsonAsync(HttpMethod.Post, $"api/contacts/{name}/messages", new { text = $"message {i}" }, HttpStatusCode.Accepted);
            ids.Add(sent.RootElement.GetProperty("id").GetString()!);
        }

        return (name, ids);
    }

    private static async Task<List<string>> PageAsync(Api api, string contact, string query)
    {
        using var page = await api.GetJsonAsync($"api/contacts/{contact}/messages?{query}");
        return [.. page.RootElement.EnumerateArray().Select(m => m.GetProperty("id").GetString()!)];
    }

    private static async Task<List<(string Id, int[][] Hits)>> SearchAsync(Api api, string query)
    {
        using var found = await api.GetJsonAsync($"api/search?q={Uri.EscapeDataString(query)}");
        return [.. found.RootElement.EnumerateArray().Select(f => (
            f.GetProperty("message").GetProperty("id").GetString()!,
            f.GetProperty("hits").EnumerateArray().Select(h => h.EnumerateArray().Select(n => n.GetInt32()).ToArray()).ToArray()))];
    }

    private static async Task<string> InviteAsync(Api api, string path)
    {
        using var invite = await api.GetJsonAsync(path);
        return invite.RootElement.GetProperty("link").GetString()!;
    }

    private static async Task<string?> StatusListenAsync(Api api)
    {
        using var status = await api.GetJsonAsync("api/status");
        return status.RootElement.GetProperty("listen").GetString();
    }

    /// <summary>Something accepts TCP connections at <paramref name="endpoint"/>.</summary>
    private static async Task AssertAcceptsAsync(string endpoint)
    {
        Assert.True(PeerEndpoint.TryParse(endpoint, out var parsed, out var error), error);
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(ChatProcess.Timeout);
        await client.ConnectAsync(parsed.Host, parsed.Port, timeout.Token);
    }

    private static AccountId RandomAccount() => AccountId.FromPublicKey(RandomNumberGenerator.GetBytes(32));

    /// <summary>
    /// A grey picture (0 black, 255 white, one byte a pixel, row after row) of the QR code of
    /// <paramref name="text"/>, <paramref name="scale"/> pixels a module, quiet zone included.
    /// </summary>
    private static (byte[] Pixels, int Side) Render(string text, int scale)
    {
        using var generator = new QRCodeGenerator();
        using var code = generator.CreateQrCode(text, QRCodeGenerator.ECCLevel.M);
        var modules = code.ModuleMatrix;
        var side = modules.Count * scale;
        var pixels = new byte[side * side];
        for (var y = 0; y < side; y++)
        {
            for (var x = 0; x < side; x++)
            {
                pixels[(y * side) + x] = modules[y / scale][x / scale] ? (byte)0 : (byte)255;
            }
        }

        return (pixels, side);
    }

    [GeneratedRegex(@"^(\d{5} ){11}\d{5}$")]
    private static partial Regex SafetyNumberPattern();

    /// <summary>Raw calls to one node's API with its bearer token (and no Origin header: the token is enough).</summary>
    private sealed class Api(RunningNode node) : IDisposable
    {
        private readonly HttpClient _http = Client(node);

        public async Task<JsonDocument> GetJsonAsync(string path)
        {
            using var response = await SendAsync(HttpMethod.Get, path);
            return await ExpectAsync(response, HttpStatusCode.OK);
        }

        public async Task<string> AddContactAsync(string id, string name)
        {
            using var added = await SendJsonAsync(HttpMethod.Post, "api/contacts", new { id, name }, HttpStatusCode.Created);
            return added.RootElement.GetProperty("name").GetString()!;
        }

        public async Task<JsonDocument> SendJsonAsync(HttpMethod method, string path, object? body, HttpStatusCode expected)
        {
            using var response = await SendAsync(method, path, body is null ? null : JsonContent.Create(body, options: NodeApi.Json));
            return await ExpectAsync(response, expected);
        }

        /// <summary>A call whose answer only needs the right status.</summary>
        public async Task CallAsync(HttpMethod method, string path, HttpStatusCode expected)
        {
            using var response = await SendJsonAsync(method, path, null, expected);
        }

        public async Task<JsonDocument> SendBytesAsync(string path, byte[] body, HttpStatusCode expected)
        {
            using var response = await SendAsync(HttpMethod.Post, path, new ByteArrayContent(body));
            return await ExpectAsync(response, expected);
        }

        /// <summary>A call the node must refuse with <paramref name="expected"/> and <c>{"error": sentence}</c>; returns the sentence.</summary>
        public async Task<string> ExpectErrorAsync(HttpMethod method, string path, HttpStatusCode expected, object? body = null)
        {
            using var response = await SendAsync(method, path, body is null ? null : JsonContent.Create(body, options: NodeApi.Json));
            using var error = await ExpectAsync(response, expected);
            return Sentence(error);
        }

        public async Task<string> ExpectBytesErrorAsync(string path, byte[] body, HttpStatusCode expected)
        {
            using var error = await SendBytesAsync(path, body, expected);
            return Sentence(error);
        }

        public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, HttpContent? content = null)
        {
            using var request = new HttpRequestMessage(method, path) { Content = content };
            return await _http.SendAsync(request);
        }

        public void Dispose() => _http.Dispose();

        private static HttpClient Client(RunningNode node)
        {
            var http = new HttpClient { BaseAddress = node.Api.Url, Timeout = ChatProcess.Timeout };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", node.Api.Token);
            return http;
        }

        private static string Sentence(JsonDocument error)
        {
            var sentence = error.RootElement.GetProperty("error").GetString();
            Assert.False(string.IsNullOrWhiteSpace(sentence));
            Assert.EndsWith(".", sentence, StringComparison.Ordinal);
            return sentence;
        }

        private static async Task<JsonDocument> ExpectAsync(HttpResponseMessage response, HttpStatusCode expected)
        {
            var body = await response.Content.ReadAsStringAsync();
            if (response.StatusCode != expected)
            {
                throw new XunitException($"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri} answered {(int)response.StatusCode}, expected {(int)expected}: {body}");
            }

            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            return JsonDocument.Parse(body);
        }
    }

    /// <summary>GET /api/events, read one event at a time (its <c>event:</c> name and <c>data:</c> JSON), comments skipped.</summary>
    private sealed class EventReader : IAsyncDisposable
    {
        private readonly HttpClient _http;
        private readonly HttpResponseMessage _response;
        private readonly StreamReader _stream;
        private readonly CancellationToken _cancellationToken;
        private readonly List<string> _seen = [];

        private EventReader(HttpClient http, HttpResponseMessage response, StreamReader stream, CancellationToken cancellationToken)
        {
            _http = http;
            _response = response;
            _stream = stream;
            _cancellationToken = cancellationToken;
        }

        public static async Task<EventReader> OpenAsync(RunningNode node, CancellationToken cancellationToken)
        {
            var http = new HttpClient { BaseAddress = node.Api.Url, Timeout = Timeout.InfiniteTimeSpan };
            using var request = new HttpRequestMessage(HttpMethod.Get, "api/events");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", node.Api.Token);
            var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
            var stream = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
            Assert.Equal(": connected", await stream.ReadLineAsync(cancellationToken));
            return new EventReader(http, response, stream, cancellationToken);
        }

        /// <summary>The next event that matches, skipping others; fails when the deadline passes or the stream ends.</summary>
        public async Task<(string Name, JsonElement Data)> NextAsync(Func<(string Name, JsonElement Data), bool> match)
        {
            while (true)
            {
                var next = await ReadAsync();
                if (match(next))
                {
                    return next;
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            _stream.Dispose();
            _response.Dispose();
            _http.Dispose();
            await Task.CompletedTask;
        }

        private Task<(string Name, JsonElement Data)> ReadAsync() => EventStreamTests.ReadEventAsync(_stream, _seen, _cancellationToken);
    }
}
