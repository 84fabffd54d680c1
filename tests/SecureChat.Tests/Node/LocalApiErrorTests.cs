using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Xunit.Sdk;
using static SecureChat.Tests.SecureChatCli;

namespace SecureChat.Tests.Node;

/// <summary>
/// Bad requests to the local API, sent as an attacker or a careless script would, each answered
/// with its status and <c>{"error": sentence}</c> (README, "Local API"): broken or wrongly shaped
/// JSON, the wrong content type, text that is not Unicode, a query that does not parse or is too
/// long, an unknown address or method, a body too large to read; and the guard's cross-site check
/// for <c>/API/</c> in any case, which routing treats as <c>/api/</c>. One node serves them all:
/// every request here is refused, so none changes what the next one sees.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(NodeProcesses.Collection)]
public sealed class LocalApiErrorTests(LocalApiErrorTests.Node node) : IClassFixture<LocalApiErrorTests.Node>
{
    private const string Json = "application/json";

    private const string Messages = "api/contacts/bob/messages";

    /// <summary>Each kind of bad request: how it is sent, the status it must get, and a word its sentence must say.</summary>
    public static TheoryData<string> Kinds => [.. BadRequests.Keys];

    private static readonly Dictionary<string, BadRequest> BadRequests = new()
    {
        ["malformed JSON"] = new("POST", Messages, Json, Encoding.UTF8.GetBytes("{\"text\": \"hi\""), HttpStatusCode.BadRequest, "not valid JSON"),
        ["a JSON array"] = new("POST", Messages, Json, Encoding.UTF8.GetBytes("[{\"text\": \"hi\"}]"), HttpStatusCode.BadRequest, "one JSON object"),
        ["a number for text"] = new("POST", Messages, Json, Encoding.UTF8.GetBytes("{\"text\": 5}"), HttpStatusCode.BadRequest, "\"text\" has the wrong type"),
        ["a string for a flag"] = new("POST", "api/contacts/bob/typing", Json, Encoding.UTF8.GetBytes("{\"active\": \"yes\"}"), HttpStatusCode.BadRequest, "\"active\" has the wrong type"),
        ["a flag for a port"] = new("POST", "api/listen", Json, Encoding.UTF8.GetBytes("{\"port\": true}"), HttpStatusCode.BadRequest, "\"port\" has the wrong type"),
        ["an empty body"] = new("POST", Messages, Json, [], HttpStatusCode.BadRequest, "empty"),
        ["a null body"] = new("POST", "api/contacts", Json, Encoding.UTF8.GetBytes("null"), HttpStatusCode.BadRequest, "empty or null"),
        ["no content type"] = new("POST", Messages, null, Encoding.UTF8.GetBytes("{\"text\": \"hi\"}"), HttpStatusCode.UnsupportedMediaType, "Content-Type: application/json"),
        ["a text content type"] = new("POST", Messages, "text/plain", Encoding.UTF8.GetBytes("{\"text\": \"hi\"}"), HttpStatusCode.UnsupportedMediaType, "Content-Type: application/json"),
        ["invalid UTF-8"] = new("POST", Messages, Json, [.. "{\"text\": \""u8, 0xff, 0xfe, 0xc3, .. "\"}"u8], HttpStatusCode.BadRequest, "not valid Unicode"),
        ["a lone surrogate"] = new("POST", Messages, Json, Encoding.UTF8.GetBytes("{\"text\": \"\\ud800\"}"), HttpStatusCode.BadRequest, "not valid Unicode"),
        ["deep nesting"] = new("POST", Messages, Json, Encoding.UTF8.GetBytes("{\"text\": " + new string('[', 5000) + new string(']', 5000) + "}"), HttpStatusCode.BadRequest, "nested too deeply"),
        ["limit=abc"] = new("GET", Messages + "?limit=abc", null, null, HttpStatusCode.BadRequest, "not a valid limit: give a whole number"),
        ["withAddress=maybe"] = new("GET", "api/invite?withAddress=maybe", null, null, HttpStatusCode.BadRequest, "true or false"),
        ["a 20,000 character query"] = new("GET", "api/search?q=" + new string('a', 20_000), null, null, HttpStatusCode.RequestUriTooLong, "characters long"),
        ["an unknown API address"] = new("GET", "api/no-such-thing", null, null, HttpStatusCode.NotFound, "no API endpoint"),
        ["an unknown API address in capitals"] = new("DELETE", "API/NO-SUCH-THING", null, null, HttpStatusCode.NotFound, "no API endpoint"),
        ["a method the address does not take"] = new("PUT", "api/status", Json, Encoding.UTF8.GetBytes("{}"), HttpStatusCode.MethodNotAllowed, "use GET"),
        ["QR decode without its size"] = new("POST", "api/qr/decode", "application/octet-stream", new byte[21 * 21], HttpStatusCode.BadRequest, "width"),
        ["QR decode with a size that is no number"] = new("POST", "api/qr/decode?width=21&height=twenty-one", "application/octet-stream", new byte[21 * 21], HttpStatusCode.BadRequest, "height"),
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Api_BadRequest_AnswersItsStatusAndASentence(string kind)
    {
        var bad = BadRequests[kind];
        using var http = node.Client();
        using var request = new HttpRequestMessage(new HttpMethod(bad.Method), bad.Path);
        if (bad.Body is not null)
        {
            request.Content = new ByteArrayContent(bad.Body);
            if (bad.ContentType is not null)
            {
                request.Content.Headers.ContentType = new MediaTypeHeaderValue(bad.ContentType);
            }
        }

        using var response = await http.SendAsync(request);

        var sentence = await ExpectErrorAsync(response, bad.Status, kind);
        Assert.Contains(bad.Says, sentence, StringComparison.Ordinal);
        if (bad.Status == HttpStatusCode.MethodNotAllowed)
        {
            Assert.Equal(["GET"], response.Content.Headers.Allow);
        }
    }

    [Fact]
    public async Task Api_FortyMegabyteBody_Answers413WithASentenceBeforeReadingItAndKeepsServing()
    {
        using var http = node.Client();
        var body = new byte[40_000_000];
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue(Json);

        // HttpClient writes the whole body before it reads the answer: the node must let it.
        using var response = await http.PostAsync(Messages, content);

        var sentence = await ExpectErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, "40 MB body");
        Assert.Contains("5 MiB", sentence, StringComparison.Ordinal);
        using var status = await http.GetAsync("api/status");
        Assert.Equal(HttpStatusCode.OK, status.StatusCode);
    }

    [Fact]
    public async Task Api_ChunkedBodyGrowingPastTheLimit_Answers413WithASentence()
    {
        using var http = node.Client();

        // No length up front: the node learns the size only by reading, a JSON string 40 MB long.
        using var content = new StreamContent(new UnknownLength(Encoding.UTF8.GetBytes("{\"text\": \"" + new string('a', 40_000_000) + "\"}")));
        content.Headers.ContentType = new MediaTypeHeaderValue(Json);
        Assert.Null(content.Headers.ContentLength);

        using var response = await http.PostAsync(Messages, content);

        var sentence = await ExpectErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, "chunked body");
        Assert.Contains("5 MiB", sentence, StringComparison.Ordinal);
        using var status = await http.GetAsync("api/status");
        Assert.Equal(HttpStatusCode.OK, status.StatusCode);
    }

    [Theory]
    [InlineData("api/status")]
    [InlineData("API/status")]
    [InlineData("Api/contacts")]
    [InlineData("aPI/invite")]
    public async Task Guard_CrossSiteRequestInAnyCaseOfApi_IsRefused403(string path)
    {
        using var http = node.Client();
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("Sec-Fetch-Site", "cross-site");

        using var response = await http.SendAsync(request);

        var sentence = await ExpectErrorAsync(response, HttpStatusCode.Forbidden, path);
        Assert.Contains("other web sites", sentence, StringComparison.Ordinal);

        // The same address from the node's own origin is served: the refusal is the guard's, not the router's.
        using var same = new HttpRequestMessage(HttpMethod.Get, path);
        same.Headers.Add("Sec-Fetch-Site", "same-origin");
        using var served = await http.SendAsync(same);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
    }

    /// <summary>The status, a JSON body and its sentence: not empty, ended by a full stop; returns it.</summary>
    private static async Task<string> ExpectErrorAsync(HttpResponseMessage response, HttpStatusCode expected, string kind)
    {
        var body = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != expected)
        {
            throw new XunitException($"{kind}: answered {(int)response.StatusCode}, expected {(int)expected}: {body}");
        }

        Assert.True(response.Content.Headers.ContentType?.MediaType == Json, $"{kind}: answered {response.Content.Headers.ContentType}: {body}");
        using var error = JsonDocument.Parse(body);
        var sentence = error.RootElement.GetProperty("error").GetString() ?? string.Empty;
        Assert.True(sentence.Length > 20 && sentence.EndsWith('.'), $"{kind}: not a sentence: {body}");
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        return sentence;
    }

    private sealed record BadRequest(string Method, string Path, string? ContentType, byte[]? Body, HttpStatusCode Status, string Says);

    /// <summary>A body whose length HttpClient cannot know, so that it sends it chunked.</summary>
    private sealed class UnknownLength(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }

    /// <summary>One running node with the bearer token, for all the cases of this class.</summary>
    public sealed class Node : IAsyncLifetime
    {
        private readonly TemporaryHome _home = new();

        private RunningNode? _node;

        public async Task InitializeAsync()
        {
            await InitAsync(_home, "A");
            _node = await RunningNode.StartAsync(_home, "A", RunningNode.AnyPort);
        }

        public HttpClient Client()
        {
            var node = _node ?? throw new InvalidOperationException("The node has not started.");
            var http = new HttpClient { BaseAddress = node.Api.Url, Timeout = ChatProcess.Timeout };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", node.Api.Token);
            return http;
        }

        public async Task DisposeAsync()
        {
            if (_node is not null)
            {
                await _node.StopAsync(_home);
                _node.Process.AssertNoStackTrace();
                await _node.DisposeAsync();
            }

            _home.Dispose();
        }
    }
}
