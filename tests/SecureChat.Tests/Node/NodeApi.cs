using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Xunit.Sdk;

namespace SecureChat.Tests.Node;

/// <summary>A message as the local API and <c>history --json</c> show it (README, "Local API").</summary>
internal sealed record ApiMessage(
    string Id,
    string Contact,
    string ContactId,
    string Direction,
    DateTimeOffset SentAt,
    DateTimeOffset? ReceivedAt,
    string State,
    string Text,
    long Lamport);

/// <summary><c>api.json</c> as a running node writes it into its home.</summary>
internal sealed record ApiFileJson(string Url, string Token, int ProcessId)
{
    public const string FileName = "api.json";

    public static ApiFileJson Read(TemporaryHome home) =>
        JsonSerializer.Deserialize<ApiFileJson>(File.ReadAllBytes(home.FilePath(FileName)), NodeApi.Json)
        ?? throw new XunitException($"{home.FilePath(FileName)} holds no JSON object.");
}

/// <summary>
/// A client of one running node's local API, holding its token. Each call checks the status code
/// the API documents and decodes the body; failures show the status and the node's sentence.
/// </summary>
internal sealed class NodeApi : IDisposable
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The API's page limit for messages.</summary>
    public const int MaxPage = 1000;

    /// <summary>More pages than any conversation of these tests has: paging is bounded.</summary>
    private const int MaxPages = 50;

    private readonly HttpClient _http;

    public NodeApi(Uri url, string token)
    {
        Url = url;
        Token = token;
        _http = new HttpClient { BaseAddress = url, Timeout = ChatProcess.Timeout };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    public Uri Url { get; }

    public string Token { get; }

    /// <summary>POST /api/ui-link, as <c>securechat ui</c> does: 201 and a fresh one-time link to the window.</summary>
    public async Task<Uri> NewUiLinkAsync()
    {
        using var response = await _http.PostAsync("api/ui-link", content: null);
        await ExpectAsync(response, HttpStatusCode.Created);
        using var body = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync());
        return new Uri(body.RootElement.GetProperty("link").GetString() ?? throw new XunitException("POST /api/ui-link answered no link."));
    }

    /// <summary>GET /api/status: the number of messages waiting in the outbox.</summary>
    public async Task<long> OutboxAsync()
    {
        using var status = await GetJsonAsync("api/status");
        return status.RootElement.GetProperty("outbox").GetInt64();
    }

    /// <summary>POST /api/contacts <c>{"id", "name", "endpoint"}</c>: 201 and the contact as the node shows it.</summary>
    public async Task<JsonDocument> AddContactAsync(CreatedIdentity contact, string? endpoint = null)
    {
        using var response = await _http.PostAsJsonAsync("api/contacts", new { id = contact.Id, name = contact.Name, endpoint }, Json);
        await ExpectAsync(response, HttpStatusCode.Created);
        return await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync());
    }

    /// <summary>POST /api/contacts <c>{"id"}</c>: this node knows the account (unnamed), so it is a contact when it connects.</summary>
    public async Task KnowAsync(string id)
    {
        using var response = await _http.PostAsJsonAsync("api/contacts", new { id }, Json);
        await ExpectAsync(response, HttpStatusCode.Created);
    }

    /// <summary>POST /api/contacts/{contact}/messages: 202 and the queued message.</summary>
    public async Task<ApiMessage> SendAsync(string contact, string text)
    {
        using var response = await _http.PostAsJsonAsync($"api/contacts/{Uri.EscapeDataString(contact)}/messages", new { text }, Json);
        await ExpectAsync(response, HttpStatusCode.Accepted);
        return await ReadAsync<ApiMessage>(response);
    }

    /// <summary>POST /api/connect <c>{"address"}</c> (the Connect panel): 200 once connected, and the contact.</summary>
    public async Task<JsonDocument> ConnectAsync(string address)
    {
        using var response = await _http.PostAsJsonAsync("api/connect", new { address }, Json);
        await ExpectAsync(response, HttpStatusCode.OK);
        return await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync());
    }

    /// <summary>POST /api/contacts/{contact}/messages, whatever it answers: the status and the body.</summary>
    public async Task<(HttpStatusCode Status, string Body)> TrySendAsync(string contact, string text)
    {
        using var response = await _http.PostAsJsonAsync($"api/contacts/{Uri.EscapeDataString(contact)}/messages", new { text }, Json);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>POST a JSON body to a path, whatever it answers: the status and the body.</summary>
    public async Task<(HttpStatusCode Status, string Body)> TryPostAsync(string path, object body)
    {
        using var response = await _http.PostAsJsonAsync(path, body, Json);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>GET /api/messages/{id}, or null when the node answers 404.</summary>
    public async Task<ApiMessage?> MessageAsync(string id)
    {
        using var response = await _http.GetAsync($"api/messages/{id}");
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        await ExpectAsync(response, HttpStatusCode.OK);
        return await ReadAsync<ApiMessage>(response);
    }

    /// <summary>
    /// The whole conversation with a contact, oldest first, paged through GET
    /// /api/contacts/{contact}/messages with <c>before=</c> (which does not mark it read); empty
    /// while the node does not know the contact (404).
    /// </summary>
    public async Task<IReadOnlyList<ApiMessage>> ConversationAsync(string contact)
    {
        var pages = new List<List<ApiMessage>>();
        string? before = null;
        for (var page = 0; page < MaxPages; page++)
        {
            var query = before is null ? $"limit={MaxPage}" : $"limit={MaxPage}&before={before}";
            using var response = await _http.GetAsync($"api/contacts/{Uri.EscapeDataString(contact)}/messages?{query}");
            if (response.StatusCode == HttpStatusCode.NotFound && before is null)
            {
                return [];
            }

            await ExpectAsync(response, HttpStatusCode.OK);
            var messages = await ReadAsync<List<ApiMessage>>(response);
            if (messages.Count == 0)
            {
                break;
            }

            pages.Add(messages);
            if (messages.Count < MaxPage)
            {
                break;
            }

            before = messages[0].Id;
        }

        pages.Reverse();
        return [.. pages.SelectMany(p => p)];
    }

    /// <summary>POST a JSON body to a path and parse the 200 answer.</summary>
    public async Task<JsonDocument> PostJsonAsync(string path, object body)
    {
        using var response = await _http.PostAsJsonAsync(path, body, Json);
        await ExpectAsync(response, HttpStatusCode.OK);
        return await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync());
    }

    /// <summary>GET a path and parse the 200 answer.</summary>
    public async Task<JsonDocument> GetJsonAsync(string path)
    {
        using var response = await _http.GetAsync(path);
        await ExpectAsync(response, HttpStatusCode.OK);
        return await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync());
    }

    public void Dispose() => _http.Dispose();

    private static async Task ExpectAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        if (response.StatusCode != expected)
        {
            var body = await response.Content.ReadAsStringAsync();
            throw new XunitException(string.Create(
                CultureInfo.InvariantCulture,
                $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri} answered {(int)response.StatusCode}, expected {(int)expected}: {body}"));
        }
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response) =>
        await response.Content.ReadFromJsonAsync<T>(Json) ?? throw new XunitException($"{response.RequestMessage?.RequestUri} answered null.");
}
