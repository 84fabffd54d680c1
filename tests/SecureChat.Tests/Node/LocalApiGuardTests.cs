using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using static SecureChat.Tests.SecureChatCli;

namespace SecureChat.Tests.Node;

/// <summary>
/// The local API's door (ApiGuard): the token, the Host header (against DNS rebinding) and the
/// Origin header (against cross-site requests), each refused with its own status and a sentence;
/// and the token's file, readable by the owner only and gone once the node stops.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(NodeProcesses.Collection)]
public sealed class LocalApiGuardTests
{
    [Fact]
    public async Task Api_RequestsWithoutTheRightTokenHostOrOrigin_AreRefusedAndTheTokenFileLeavesWithTheNode()
    {
        using var home = new TemporaryHome();
        await InitAsync(home, "A");
        await using var node = await RunningNode.StartAsync(home, "A", RunningNode.AnyPort);
        var token = node.Api.Token;
        var port = node.Api.Url.Port;
        var self = $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";
        using var http = new HttpClient { BaseAddress = node.Api.Url, Timeout = ChatProcess.Timeout };

        await ExpectRefusedAsync(http, HttpStatusCode.Unauthorized, authorization: null);
        await ExpectRefusedAsync(http, HttpStatusCode.Unauthorized, authorization: "not-the-token");
        await ExpectRefusedAsync(http, HttpStatusCode.Unauthorized, authorization: token[..^1]);
        await ExpectRefusedAsync(http, HttpStatusCode.Forbidden, authorization: token, origin: "http://evil.example");
        await ExpectRefusedAsync(http, HttpStatusCode.Forbidden, authorization: token, origin: $"https://127.0.0.1:{port}");
        await ExpectRefusedAsync(http, HttpStatusCode.MisdirectedRequest, authorization: token, host: $"evil.example:{port}");
        await ExpectRefusedAsync(http, HttpStatusCode.MisdirectedRequest, authorization: token, host: $"127.0.0.1:{port + 1}");

        // The Host check comes first: a rebinding page learns nothing, not even whether a token is right.
        await ExpectRefusedAsync(http, HttpStatusCode.MisdirectedRequest, authorization: null, host: $"evil.example:{port}");

        foreach (var origin in new[] { self, $"http://localhost:{port}", $"http://[::1]:{port}" })
        {
            using var allowed = await SendAsync(http, token, origin, host: null);
            Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
            using var status = JsonDocument.Parse(await allowed.Content.ReadAsStringAsync());
            Assert.Equal(node.Id, status.RootElement.GetProperty("id").GetString());
        }

        using (var localhost = await SendAsync(http, token, origin: null, host: $"localhost:{port}"))
        {
            Assert.Equal(HttpStatusCode.OK, localhost.StatusCode);
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(home.FilePath(ApiFileJson.FileName)));

        await node.StopAsync(home);
        node.Process.AssertNoStackTrace();
    }

    private static async Task ExpectRefusedAsync(HttpClient http, HttpStatusCode expected, string? authorization, string? origin = null, string? host = null)
    {
        using var response = await SendAsync(http, authorization, origin, host);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"auth {authorization ?? "none"}, origin {origin ?? "none"}, host {host ?? "default"}: {(int)response.StatusCode} {body}");
        using var error = JsonDocument.Parse(body);
        var sentence = error.RootElement.GetProperty("error").GetString() ?? string.Empty;
        Assert.True(sentence.Length > 20 && sentence.EndsWith('.'), $"not a sentence: {body}");
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient http, string? authorization, string? origin, string? host)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "api/status");
        if (authorization is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", authorization);
        }

        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        if (host is not null)
        {
            request.Headers.Host = host;
        }

        return http.SendAsync(request);
    }
}
