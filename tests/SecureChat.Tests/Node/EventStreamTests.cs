using System.Diagnostics;
using System.Text.Json;
using Xunit.Sdk;
using static SecureChat.Tests.SecureChatCli;

namespace SecureChat.Tests.Node;

/// <summary>GET /api/events: what the node receives shows up on the stream as it happens.</summary>
[Trait("Speed", "Slow")]
[Collection(NodeProcesses.Collection)]
public sealed class EventStreamTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Events_MessageFromAContact_StreamsAMessageEventWithItsText()
    {
        using var aHome = new TemporaryHome();
        using var bHome = new TemporaryHome();
        var identities = await Task.WhenAll(InitAsync(aHome, "A"), InitAsync(bHome, "B"));
        await using var a = await RunningNode.StartAsync(aHome, "A", RunningNode.AnyPort);
        await NodeCli.AddContactAsync(bHome, identities[0], a.ListenPort);

        using var http = new HttpClient { BaseAddress = a.Api.Url, Timeout = Timeout.InfiniteTimeSpan };
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/events");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", a.Api.Token);
        using var stop = new CancellationTokenSource(Deadline);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stop.Token);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var events = new StreamReader(await response.Content.ReadAsStreamAsync(stop.Token));
        Assert.Equal(": connected", await events.ReadLineAsync(stop.Token));

        await using var b = await RunningNode.StartAsync(bHome, "B", RunningNode.AnyPort);
        const string Text = "on the stream ✓";
        var sent = await b.Api.SendAsync("A", Text);

        var seen = new List<string>();
        var clock = Stopwatch.StartNew();
        JsonElement? message = null;
        while (message is null)
        {
            var (name, data) = await ReadEventAsync(events, seen, stop.Token);
            if (name == "message" && data.GetProperty("id").GetString() == sent.Id)
            {
                message = data;
            }
        }

        Assert.Equal("in", message.Value.GetProperty("direction").GetString());
        Assert.Equal(Text, message.Value.GetProperty("text").GetString());
        Assert.Equal(identities[1].Id, message.Value.GetProperty("contactId").GetString());
        Assert.Equal("received", message.Value.GetProperty("state").GetString());
        Assert.True(clock.Elapsed < Deadline, $"events so far: {string.Join(" | ", seen)}");

        // The client leaves first (RunCommandTests covers a node stopped under an open stream).
        events.Dispose();
        response.Dispose();
        await b.StopAsync(bHome);
        await a.StopAsync(aHome);
    }

    /// <summary>
    /// The next event of the stream (its <c>event:</c> name and <c>data:</c> JSON), skipping
    /// comments; fails once <paramref name="cancellationToken"/> ends the wait or the stream ends.
    /// </summary>
    internal static async Task<(string Name, JsonElement Data)> ReadEventAsync(StreamReader events, List<string> seen, CancellationToken cancellationToken)
    {
        string? name = null;
        string? data = null;
        while (true)
        {
            string? line;
            try
            {
                line = await events.ReadLineAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                throw new XunitException($"no expected event within {Deadline.TotalSeconds} s; events so far: {string.Join(" | ", seen)}");
            }

            if (line is null)
            {
                throw new XunitException($"the event stream ended; events so far: {string.Join(" | ", seen)}");
            }

            if (line.Length == 0 && name is not null && data is not null)
            {
                seen.Add($"{name} {data}");
                using var json = JsonDocument.Parse(data);
                return (name, json.RootElement.Clone());
            }

            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                name = line["event: ".Length..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                data = line["data: ".Length..];
            }
        }
    }
}
