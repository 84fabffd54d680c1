using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using SecureChat.Testing;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace SecureChat.Tests.Node;

/// <summary>
/// A full disk, end to end with real processes: a node's home lives on a small tmpfs that the test
/// fills to the last byte. The node's store then cannot write; the promise is that this is a clear
/// error and never a loss: a send through the API answers 507 with one sentence and the CLI exits
/// 1 with one sentence, the node keeps running, nothing acknowledged before is lost, a node that
/// cannot store a received message does not acknowledge it, and once there is room again
/// everything acknowledged is delivered exactly once, in order, and the database checks out.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(NodeProcesses.Collection)]
public sealed class DiskFullTests
{
    private const int DiskMebibytes = 24;

    /// <summary>Posts to a node on a full disk before one must fail: the WAL's last free page is soon used up.</summary>
    private const int MaxPostsUntilFull = 2000;

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly ITestOutputHelper _output;

    public DiskFullTests(ITestOutputHelper output) => _output = output;

    /// <summary>
    /// The sender's disk fills up: posting answers 507 "the disk … is full, so nothing was saved"
    /// and the CLI's <c>send</c> exits 1 with that sentence; what the failed posts carried is not
    /// stored; every message acknowledged before is still in A's history; after the filler is
    /// deleted sending works again, and B receives every acknowledged message once, in order.
    /// </summary>
    [Fact]
    public async Task Send_SenderDiskFull_RefusedWithOneSentenceAndNothingAcknowledgedIsLost()
    {
        var clock = Stopwatch.StartNew();
        using var disk = SmallDisk.Mount(DiskMebibytes);
        using var aHome = disk.NewHome();
        using var bHome = new TemporaryHome();
        var identities = await Task.WhenAll(SecureChatCli.InitAsync(aHome, "A"), SecureChatCli.InitAsync(bHome, "B"));
        await NodeCli.KnowAsync(bHome, identities[0]);
        await using var b = await RunningNode.StartAsync(bHome, "B", RunningNode.AnyPort, verbose: true);
        await NodeCli.AddContactAsync(aHome, identities[1], b.ListenPort);
        await using var a = await RunningNode.StartAsync(aHome, "A", RunningNode.AnyPort, verbose: true);

        var acknowledged = new List<ApiMessage>();
        for (var i = 0; i < 20; i++)
        {
            acknowledged.Add(await a.Api.SendAsync("B", Text("before", i)));
        }

        await WaitAllDeliveredAsync(a, b, acknowledged);

        var filled = disk.Fill();
        _output.WriteLine($"filled the disk with {filled / 1024} KiB at {clock.Elapsed.TotalSeconds:F1} s");

        // Posts go on succeeding while the database finds room in pages it already has; then one fails.
        var refused = new List<(string Text, string Error)>();
        for (var i = 0; i < MaxPostsUntilFull && refused.Count == 0; i++)
        {
            var text = Text("full", i);
            var (status, body) = await a.Api.TrySendAsync("B", text);
            if (status == HttpStatusCode.Accepted)
            {
                acknowledged.Add(JsonSerializer.Deserialize<ApiMessage>(body, NodeApi.Json)!);
                continue;
            }

            Assert.True(status == HttpStatusCode.InsufficientStorage, $"POST of {text} on a full disk answered {(int)status}: {body}");
            refused.Add((text, ErrorSentence(body)));
        }

        Assert.True(refused.Count == 1, $"{MaxPostsUntilFull} posts on a full disk all succeeded");
        _output.WriteLine($"{acknowledged.Count - 20} posts still fitted; then: {refused[0].Error}");

        // While the disk stays full: the API refuses again with the same sentence, and so does the CLI.
        var again = await a.Api.TrySendAsync("B", Text("full-again", 0));
        Assert.Equal(HttpStatusCode.InsufficientStorage, again.Status);
        Assert.Equal(refused[0].Error, ErrorSentence(again.Body));
        refused.Add((Text("full-again", 0), refused[0].Error));
        var cli = await NodeCli.SendAsync(aHome, "B", Text("full-cli", 0));
        Assert.True(cli.ExitCode == 1, cli.Transcript);
        Assert.Equal($"securechat: {refused[0].Error}", ProgramRun.SingleErrorSentence(cli));
        refused.Add((Text("full-cli", 0), refused[0].Error));

        // The node runs on, and shows every acknowledged message and none of the refused ones.
        Assert.True(await a.Api.OutboxAsync() >= 0);
        var whileFull = await a.Api.ConversationAsync("B");
        Assert.Equal(acknowledged.Select(m => m.Id), whileFull.Select(m => m.Id));

        disk.Free();
        _output.WriteLine($"freed the disk at {clock.Elapsed.TotalSeconds:F1} s");
        for (var i = 0; i < 10; i++)
        {
            acknowledged.Add(await a.Api.SendAsync("B", Text("after", i)));
        }

        var cliAfter = await NodeCli.SendAsync(aHome, "B", Text("after-cli", 0));
        Assert.True(cliAfter.ExitCode == 0, cliAfter.Transcript);
        acknowledged.Add((await a.Api.MessageAsync(cliAfter.Stdout[0]))!);

        var atB = await WaitAllDeliveredAsync(a, b, acknowledged);
        Assert.Equal(acknowledged.Select(m => (m.Id, m.Text)), atB.Select(m => (m.Id, m.Text)));
        Assert.DoesNotContain(atB, m => refused.Exists(r => r.Text == m.Text));

        await a.StopAsync(aHome);
        AssertIntact(aHome);
        a.Process.AssertNoStackTrace();
        b.Process.AssertNoStackTrace();
        _output.WriteLine($"whole test {clock.Elapsed.TotalSeconds:F1} s");
    }

    /// <summary>
    /// The receiver's disk fills up: B cannot store what A sends, so it must not acknowledge it.
    /// While the disk is full, every message A shows delivered is in B's store (B acknowledged
    /// nothing it had not stored), B's earlier history is intact and B keeps running; after the
    /// filler is deleted, A's queue drains into B, each message once and in order.
    /// </summary>
    [Fact]
    public async Task Receive_ReceiverDiskFull_NothingAcknowledgedUnstoredAndDeliveredOnceThereIsRoom()
    {
        var clock = Stopwatch.StartNew();
        using var disk = SmallDisk.Mount(DiskMebibytes);
        using var aHome = new TemporaryHome();
        using var bHome = disk.NewHome();
        var identities = await Task.WhenAll(SecureChatCli.InitAsync(aHome, "A"), SecureChatCli.InitAsync(bHome, "B"));
        await NodeCli.KnowAsync(bHome, identities[0]);
        await using var b = await RunningNode.StartAsync(bHome, "B", RunningNode.AnyPort, verbose: true);
        await NodeCli.AddContactAsync(aHome, identities[1], b.ListenPort);
        await using var a = await RunningNode.StartAsync(aHome, "A", RunningNode.AnyPort, verbose: true);

        var sent = new List<ApiMessage>();
        for (var i = 0; i < 10; i++)
        {
            sent.Add(await a.Api.SendAsync("B", Text("before", i)));
        }

        await WaitAllDeliveredAsync(a, b, sent);
        var filled = disk.Fill();
        _output.WriteLine($"filled B's disk with {filled / 1024} KiB at {clock.Elapsed.TotalSeconds:F1} s");

        // A's disk is fine: every post is acknowledged by A, and waits for B.
        for (var i = 0; i < 40; i++)
        {
            sent.Add(await a.Api.SendAsync("B", Text("full", i)));
        }

        // B fails to store them (it says so in its log); watch the invariant meanwhile.
        await Eventually.UntilAsync(
            "B reports that its store failed",
            Deadline,
            async () =>
            {
                await AssertNothingDeliveredUnstoredAsync(a, b);
                return b.Process.Stderr;
            },
            log => log.Contains("is full, so nothing was saved", StringComparison.Ordinal),
            log => ChildProcess.Tail(log));

        // B ends the session when its store fails and A dials again: the next failure in B's log
        // proves A's retry reached B, found the disk still full and was not acknowledged either.
        await Eventually.UntilAsync(
            "B reports a second failed store (A tried again)",
            Deadline,
            async () =>
            {
                await AssertNothingDeliveredUnstoredAsync(a, b);
                return b.Process.Stderr;
            },
            log => log.Split("is full, so nothing was saved").Length > 2,
            log => ChildProcess.Tail(log));

        var atBWhileFull = await b.Api.ConversationAsync("A");
        Assert.Equal(sent.Take(atBWhileFull.Count).Select(m => m.Id), atBWhileFull.Select(m => m.Id));
        Assert.True(atBWhileFull.Count < sent.Count, "B stored everything on a full disk");
        _output.WriteLine($"while full: B holds {atBWhileFull.Count} of {sent.Count}, A's outbox {await a.Api.OutboxAsync()}");

        disk.Free();
        _output.WriteLine($"freed B's disk at {clock.Elapsed.TotalSeconds:F1} s");
        sent.Add(await a.Api.SendAsync("B", Text("after", 0)));
        var atB = await WaitAllDeliveredAsync(a, b, sent);
        Assert.Equal(sent.Select(m => (m.Id, m.Text)), atB.Select(m => (m.Id, m.Text)));

        await b.StopAsync(bHome);
        AssertIntact(bHome);
        a.Process.AssertNoStackTrace();
        b.Process.AssertNoStackTrace();
        _output.WriteLine($"whole test {clock.Elapsed.TotalSeconds:F1} s");
    }

    /// <summary>Every message A shows delivered is in B's store (A is asked first: B's store only grows).</summary>
    private static async Task AssertNothingDeliveredUnstoredAsync(RunningNode a, RunningNode b)
    {
        var delivered = (await a.Api.ConversationAsync("B")).Where(m => m.State is "delivered" or "read").Select(m => m.Id).ToList();
        var stored = (await b.Api.ConversationAsync("A")).Select(m => m.Id).ToHashSet();
        var missing = delivered.Where(id => !stored.Contains(id)).ToList();
        Assert.True(missing.Count == 0, $"A shows {missing.Count} messages delivered that B has not stored, the first {missing.FirstOrDefault()}");
    }

    /// <summary>Waits until A's outbox is empty and A shows <paramref name="sent"/> delivered; returns B's conversation, checked to be exactly them, once each, in order.</summary>
    private static async Task<IReadOnlyList<ApiMessage>> WaitAllDeliveredAsync(RunningNode a, RunningNode b, List<ApiMessage> sent)
    {
        await Eventually.UntilAsync(
            "A shows every message delivered",
            Deadline,
            () => a.Api.ConversationAsync("B"),
            all => all.Count == sent.Count && all.All(m => m.State is "delivered" or "read"),
            all => $"{all.Count} of {sent.Count} messages, states {string.Join(", ", all.GroupBy(m => m.State).Select(g => $"{g.Key} {g.Count()}"))}\n{ChildProcess.Tail(a.Process.Transcript)}\n{ChildProcess.Tail(b.Process.Transcript)}");
        Assert.Equal(0, await a.Api.OutboxAsync());
        var atB = await b.Api.ConversationAsync("A");
        Assert.Equal(sent.Select(m => m.Id), atB.Select(m => m.Id));
        return atB;
    }

    /// <summary>The node's database, with the node stopped, passes SQLite's integrity check.</summary>
    private static void AssertIntact(TemporaryHome home)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = home.FilePath("securechat.db"), Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA integrity_check";
        Assert.Equal("ok", command.ExecuteScalar() as string);
    }

    /// <summary>The sentence of an API error body <c>{"error": …}</c>, checked to be one sentence naming the full disk.</summary>
    private static string ErrorSentence(string body)
    {
        using var json = JsonDocument.Parse(body);
        var error = json.RootElement.GetProperty("error").GetString() ?? throw new XunitException($"no error sentence in {body}");
        Assert.Contains("is full, so nothing was saved", error, StringComparison.Ordinal);
        Assert.EndsWith(".", error, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error);
        return error;
    }

    private static string Text(string phase, int i) => string.Create(CultureInfo.InvariantCulture, $"{phase} {i:D4}");
}
