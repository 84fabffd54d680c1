using System.Diagnostics;
using System.Text.Json;
using SecureChat.Crypto;
using SecureChat.Protocol.Identity;
using SecureChat.Testing;
using static SecureChat.Tests.SecureChatCli;

namespace SecureChat.Tests.Node;

/// <summary>
/// One writer per data directory: while a node starts or runs, every change a CLI verb makes goes
/// through it (never into the store behind its back); a node killed with SIGKILL leaves nothing
/// that blocks a verb; two nodes never share a home.
/// </summary>
[Collection(NodeProcesses.Collection)]
[Trait("Speed", "Slow")]
public sealed class OneWriterTests
{
    /// <summary>
    /// At moments spread over a node's start (from its first instant to the first api.json), a
    /// second process adds a contact, renames it and sends a message. Afterwards the running node
    /// lists every contact under its new name, and every message reaches the contact exactly once.
    /// </summary>
    [Fact]
    public async Task ChangesMadeWhileTheNodeStarts_AllReachTheRunningNode_AndEveryMessageIsDelivered()
    {
        using var aliceHome = new TemporaryHome();
        using var bobHome = new TemporaryHome();
        var alice = await InitAsync(aliceHome, "Alice");
        var bob = await InitAsync(bobHome, "Bob");
        await NodeCli.KnowAsync(bobHome, alice);
        await using var bobNode = await RunningNode.StartAsync(bobHome, "Bob", RunningNode.AnyPort);
        await NodeCli.AddContactAsync(aliceHome, bob, bobNode.ListenPort);

        // How long this machine takes from starting a node to its api.json: the moments are spread over it.
        var startup = Stopwatch.StartNew();
        await using (var probe = StartAlice(aliceHome))
        {
            await WaitForApiFileAsync(aliceHome, probe);
            startup.Stop();
            await StopAsync(probe, aliceHome);
        }

        double[] moments = [0, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5];
        var sent = new List<string>();
        var renamed = new List<string>();
        for (var i = 0; i < moments.Length; i++)
        {
            var account = NewAccount();
            var text = $"sent while the node started, moment {i}";
            await using var node = StartAlice(aliceHome);
            await Task.Delay(startup.Elapsed * moments[i]);

            var add = await ProgramRun.RunAsync((string?)null, "--home", aliceHome.Path, "contacts", "add", account, "--name", $"first{i}");
            Assert.True(add.ExitCode == 0, add.Transcript);
            var rename = await ProgramRun.RunAsync((string?)null, "--home", aliceHome.Path, "contacts", "rename", $"first{i}", $"second{i}");
            Assert.True(rename.ExitCode == 0, rename.Transcript);
            var send = await NodeCli.SendAsync(aliceHome, "Bob", text);
            Assert.True(send.ExitCode == 0, send.Transcript);
            sent.Add(text);
            renamed.Add($"second{i}");

            // The node that was starting knows every change: ask it (the verb goes through it now).
            await WaitForApiFileAsync(aliceHome, node);
            var list = await ProgramRun.RunAsync((string?)null, "--home", aliceHome.Path, "contacts", "list", "--json");
            Assert.True(list.ExitCode == 0, list.Transcript);
            var names = ContactNames(list);
            foreach (var name in renamed)
            {
                Assert.True(names.Contains(name), $"moment {i}: the running node does not list '{name}' ({string.Join(", ", names)})\n{node.Transcript}");
            }

            Assert.DoesNotContain($"first{i}", names);
            using (var api = ApiOf(aliceHome))
            {
                var history = await api.ConversationAsync("Bob");
                Assert.Contains(history, m => m.Text == text);
            }

            await StopAsync(node, aliceHome);
        }

        // Every message reaches Bob exactly once, once Alice's node runs.
        await using var last = StartAlice(aliceHome);
        await WaitForApiFileAsync(aliceHome, last);
        await Eventually.UntilAsync(
            "every message sent while Alice's node started reaches Bob once",
            TimeSpan.FromSeconds(60),
            () => bobNode.Api.ConversationAsync(alice.Id),
            received => sent.All(text => received.Count(m => m.Text == text) == 1),
            received => string.Join(" | ", received.Select(m => m.Text)));
        var final = await bobNode.Api.ConversationAsync(alice.Id);
        foreach (var text in sent)
        {
            Assert.Single(final, m => m.Text == text);
        }
    }

    /// <summary>A node killed with SIGKILL holds no lock: the next verb works at once, and its api.json is recognised as stale.</summary>
    [Fact]
    public async Task KillNine_ThenAnyVerb_WorksAtOnce_WithNoStaleLockMessage()
    {
        using var home = new TemporaryHome();
        await InitAsync(home, "Alice");
        var node = await RunningNode.StartAsync(home, "Alice", RunningNode.AnyPort);
        await node.Process.KillAsync();
        await node.DisposeAsync();
        Assert.True(File.Exists(home.FilePath(ApiFileJson.FileName)), "a node killed with SIGKILL leaves its api.json behind");

        var clock = Stopwatch.StartNew();
        var add = await ProgramRun.RunAsync((string?)null, "--home", home.Path, "contacts", "add", NewAccount(), "--name", "carol");
        var list = await ProgramRun.RunAsync((string?)null, "--home", home.Path, "contacts", "list");
        var send = await NodeCli.SendAsync(home, "carol", "queued after a crash");
        var took = clock.Elapsed;
        foreach (var run in new[] { add, list, send })
        {
            Assert.True(run.ExitCode == 0, run.Transcript);
            Assert.DoesNotContain("lock", run.Transcript, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("waiting", run.Transcript, StringComparison.OrdinalIgnoreCase);
        }

        Assert.Contains(list.Stdout, line => line.Contains("carol", StringComparison.Ordinal));
        Assert.False(File.Exists(home.FilePath(ApiFileJson.FileName)), "the stale api.json is removed by the first verb that holds the store");

        // "At once": nowhere near the minute a verb waits for a node that holds the store.
        Assert.True(took < TimeSpan.FromSeconds(45), $"three verbs after a SIGKILL took {took.TotalSeconds:F1} s");
    }

    /// <summary>Two nodes started on one home at the same instant: exactly one runs, the other is refused with a sentence.</summary>
    [Fact]
    public async Task TwoRunsStartedTogether_OneRuns_TheOtherIsRefusedWithASentence()
    {
        using var home = new TemporaryHome();
        await InitAsync(home, "Alice");
        await using var first = StartAlice(home);
        await using var second = StartAlice(home);

        var firstExit = first.WaitForExitAsync(ChatProcess.Timeout);
        var secondExit = second.WaitForExitAsync(ChatProcess.Timeout);
        var ended = await Task.WhenAny(firstExit, secondExit);
        var (refused, running) = ended == firstExit ? (first, second) : (second, first);
        Assert.Equal(2, await ended);
        Assert.Contains($"A node already runs for {home.Path}: stop it first, or use another --home.", refused.Stderr, StringComparison.Ordinal);

        await WaitForApiFileAsync(home, running);
        Assert.Equal(running.ProcessId, ApiFileJson.Read(home).ProcessId);
        await StopAsync(running, home);
    }

    /// <summary><c>history --limit</c> takes the same range with and without a node: a page of the API, 1 to 1,000.</summary>
    [Fact]
    public async Task HistoryLimit_SameRangeAndSameAnswer_WithAndWithoutANode()
    {
        using var home = new TemporaryHome();
        using var other = new TemporaryHome();
        await InitAsync(home, "Alice");
        await NodeCli.KnowAsync(home, await InitAsync(other, "Bob"));
        var offline = await Answers(home);

        await using var node = await RunningNode.StartAsync(home, "Alice", RunningNode.AnyPort);
        var online = await Answers(home);
        Assert.Equal(offline, online);
        Assert.Equal((0, "No messages yet."), offline[0]);
        Assert.Equal((2, "securechat: --limit takes a number of messages from 1 to 1000."), offline[1]);
        Assert.Equal((2, "securechat: --limit takes a number of messages from 1 to 1000."), offline[2]);

        static async Task<List<(int Code, string Said)>> Answers(TemporaryHome home)
        {
            var answers = new List<(int, string)>();
            foreach (var limit in new[] { "1000", "100000", "0" })
            {
                var run = await ProgramRun.RunAsync((string?)null, "--home", home.Path, "history", "Bob", "--limit", limit);
                answers.Add((run.ExitCode, run.ExitCode == 0 ? run.Stdout[0] : ProgramRun.SingleErrorSentence(run)));
            }

            return answers;
        }
    }

    private static ChildProcess StartAlice(TemporaryHome home) =>
        ChatProcess.Start("Alice", null, "--home", home.Path, "run", "--listen", Address(0), "--api-port", "0", "--no-ui", "--no-dht", "--no-lan");

    /// <summary>Waits for the node's "api" line, printed once api.json is written.</summary>
    private static Task WaitForApiFileAsync(TemporaryHome home, ChildProcess node) =>
        node.WaitForLineAsync(line => line.StartsWith("api http://127.0.0.1:", StringComparison.Ordinal) && File.Exists(home.FilePath(ApiFileJson.FileName)), ChatProcess.Timeout);

    private static async Task StopAsync(ChildProcess node, TemporaryHome home)
    {
        await node.TerminateAsync();
        Assert.Equal(0, await node.WaitForExitAsync(ChatProcess.Timeout));
        Assert.False(File.Exists(home.FilePath(ApiFileJson.FileName)));
    }

    private static NodeApi ApiOf(TemporaryHome home)
    {
        var file = ApiFileJson.Read(home);
        return new NodeApi(new Uri(file.Url), file.Token);
    }

    private static HashSet<string> ContactNames(FinishedRun list)
    {
        using var json = JsonDocument.Parse(string.Join('\n', list.Stdout));
        return [.. json.RootElement.EnumerateArray().Select(c => c.GetProperty("name").GetString()!)];
    }

    private static string NewAccount()
    {
        Span<byte> key = stackalloc byte[32];
        using var secret = Ed25519.GenerateKeyPair(key);
        return AccountId.FromPublicKey(key).Text;
    }
}
