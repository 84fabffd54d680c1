using System.Net.Http.Headers;
using static SecureChat.Tests.SecureChatCli;

namespace SecureChat.Tests.Node;

/// <summary><c>securechat run</c>'s own rules: one node per home, and a clean stop on SIGTERM.</summary>
[Trait("Speed", "Slow")]
[Collection(NodeProcesses.Collection)]
public sealed class RunCommandTests
{
    [Fact]
    public async Task Run_SecondNodeOnTheSameHome_ExitsTwoWithASentenceAndTheFirstKeepsRunning()
    {
        using var home = new TemporaryHome();
        await InitAsync(home, "A");
        await using var first = await RunningNode.StartAsync(home, "A", RunningNode.AnyPort);

        var second = await ProgramRun.RunAsync((string?)null, "--home", home.Path, "run", "--listen", Address(RunningNode.AnyPort), "--api-port", "0", "--no-ui", "--no-dht", "--no-lan");
        Assert.True(second.ExitCode == 2, second.Transcript);
        var sentence = ProgramRun.SingleErrorSentence(second);
        Assert.Equal($"securechat: A node already runs for {home.Path}: stop it first, or use another --home.", sentence);

        Assert.Equal(0, await first.Api.OutboxAsync());
        Assert.Equal(first.Process.ProcessId, ApiFileJson.Read(home).ProcessId);
        await first.StopAsync(home);
        first.Process.AssertNoStackTrace();
    }

    /// <summary>
    /// A browser tab left open on /api/events must not turn a service manager's stop into a
    /// killed process: the node stops, exits 0 and removes api.json as it does without one.
    /// </summary>
    [Fact]
    public async Task Run_SigtermWhileAnEventStreamIsOpen_ExitsZeroPromptlyAndRemovesApiJson()
    {
        using var home = new TemporaryHome();
        await InitAsync(home, "A");
        await using var node = await RunningNode.StartAsync(home, "A", RunningNode.AnyPort);
        using var http = new HttpClient { BaseAddress = node.Api.Url, Timeout = Timeout.InfiniteTimeSpan };
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/events");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", node.Api.Token);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var events = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.Equal(": connected", await events.ReadLineAsync().WaitAsync(ChatProcess.Timeout));

        var took = await node.StopAsync(home);
        Assert.True(took < TimeSpan.FromSeconds(10), $"stopping took {took.TotalSeconds:F1} s");
    }
}
