using System.Globalization;
using System.Text.Json;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.Tests.Node;

/// <summary>
/// Per-contact quotas end to end (docs/protocol.md 6.10), with real processes: B takes at most 2
/// texts per window from each contact. A sends 3: B stores 2 and refuses the third, and A's API
/// says why and until when; C still delivers to B meanwhile; when the window lets it, A's third
/// text arrives, once.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(NodeProcesses.Collection)]
public sealed class QuotaTests
{
    /// <summary>Long enough for C to connect and deliver while A is held, on a loaded machine.</summary>
    private const int WindowSeconds = 12;

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly ITestOutputHelper _output;

    public QuotaTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public async Task Run_ContactOverItsQuota_IsRefusedWithAReasonWhileOthersDeliverAndItsTextArrivesOnceAfterTheWindow()
    {
        using var aHome = new TemporaryHome();
        using var bHome = new TemporaryHome();
        using var cHome = new TemporaryHome();
        var identities = await Task.WhenAll(SecureChatCli.InitAsync(aHome, "A"), SecureChatCli.InitAsync(bHome, "B"), SecureChatCli.InitAsync(cHome, "C"));
        var (aId, bId, cId) = (identities[0].Id, identities[1].Id, identities[2].Id);
        await using var a = await RunningNode.StartAsync(aHome, "A", RunningNode.AnyPort);
        await using var b = await RunningNode.StartAsync(bHome, "B", RunningNode.AnyPort, discovery: ["--no-dht", "--no-lan", "--quota", $"2:1000000:{WindowSeconds}"]);
        await using var c = await RunningNode.StartAsync(cHome, "C", RunningNode.AnyPort);
        // B knows A and C: the contact quota is a contact's (a stranger's request holds less, 7.5).
        await b.Api.KnowAsync(aId);
        await b.Api.KnowAsync(cId);
        using (await a.Api.ConnectAsync($"{bId}@{b.ListenAddress}"))
        using (await c.Api.ConnectAsync($"{bId}@{b.ListenAddress}"))
        {
        }

        var sent = new List<ApiMessage>();
        for (var i = 1; i <= 3; i++)
        {
            sent.Add(await a.Api.SendAsync(bId, $"A's text {i}"));
        }

        // A sees the refusal and its reason through its API; B holds A's first two texts only.
        var refusal = await Eventually.UntilAsync(
            "A's status to show B's refusal",
            Deadline,
            () => RefusalsAsync(a),
            refusals => refusals.Count > 0,
            refusals => $"{refusals.Count} refusals");
        var shown = Assert.Single(refusal);
        _output.WriteLine($"A shows: {shown}");
        Assert.Equal(bId, shown.GetProperty("contactId").GetString());
        Assert.Equal("messages", shown.GetProperty("reason").GetString());
        var sentence = shown.GetProperty("message").GetString()!;
        Assert.Contains("refused your messages", sentence, StringComparison.Ordinal);
        Assert.Contains($"at most 2 messages from you per {WindowSeconds} seconds", sentence, StringComparison.Ordinal);
        Assert.Contains("wait in the outbox", sentence, StringComparison.Ordinal);
        var until = shown.GetProperty("until").GetDateTimeOffset();
        Assert.InRange(until, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddSeconds(WindowSeconds + 5));

        var atB = await b.Api.ConversationAsync(aId);
        Assert.Equal([sent[0].Id, sent[1].Id], atB.Select(m => m.Id));
        Assert.NotEqual("delivered", (await a.Api.MessageAsync(sent[2].Id))!.State);

        // C is not slowed down: its text arrives while A's third still waits.
        var fromC = await c.Api.SendAsync(bId, "C's text");
        await Eventually.UntilAsync(
            "C's text to arrive at B",
            Deadline,
            () => b.Api.ConversationAsync(cId),
            messages => messages.Any(m => m.Id == fromC.Id),
            messages => $"{messages.Count} messages from C");
        Assert.DoesNotContain(await b.Api.ConversationAsync(aId), m => m.Id == sent[2].Id);
        Assert.True(DateTimeOffset.UtcNow < until, string.Create(CultureInfo.InvariantCulture, $"C's text arrived only after A's refusal ended ({until:O}): the test shows nothing about 'meanwhile'."));

        // When the window lets it, A sends its third text again on its own, and B stores it once.
        var delivered = await Eventually.UntilAsync(
            "A's third text to be delivered after the window",
            TimeSpan.FromSeconds(WindowSeconds) + Deadline + Deadline,
            () => a.Api.MessageAsync(sent[2].Id),
            message => message?.State == "delivered",
            message => $"state {message?.State}");
        atB = await b.Api.ConversationAsync(aId);
        Assert.Equal(sent.Select(m => m.Id), atB.Select(m => m.Id));
        Assert.Equal("A's text 3", atB[2].Text);
        Assert.True(atB[2].ReceivedAt >= until.AddSeconds(-1), $"B stored the refused text at {atB[2].ReceivedAt:O}, before the refusal's end {until:O}.");
        Assert.Empty(await RefusalsAsync(a));
        Assert.Equal(0, await a.Api.OutboxAsync());

        // A waited instead of hammering: B refused once (one more at most, if A's clock ran ahead).
        var refusalsLogged = b.Process.Stderr.Split('\n').Count(line => line.Contains("Refusing texts from", StringComparison.Ordinal));
        Assert.InRange(refusalsLogged, 1, 2);

        await a.StopAsync(aHome);
        await b.StopAsync(bHome);
        await c.StopAsync(cHome);
        foreach (var node in new[] { a, b, c })
        {
            node.Process.AssertNoStackTrace();
        }
    }

    [Theory]
    [InlineData("5000")]
    [InlineData("5000:20MB:86400")]
    [InlineData("5000:1000:0")]
    [InlineData("1:2:3:4")]
    public async Task Run_QuotaThatIsNotThreeWholeNumbers_ExitsTwoWithASentence(string quota)
    {
        using var home = new TemporaryHome();
        await SecureChatCli.InitAsync(home, "A");

        var run = await ProgramRun.RunAsync((string?)null, "--home", home.Path, "run", "--listen", SecureChatCli.Address(RunningNode.AnyPort), "--api-port", "0", "--no-ui", "--no-dht", "--no-lan", "--quota", quota);

        Assert.True(run.ExitCode == 2, run.Transcript);
        Assert.Equal(
            $"securechat: '{quota}' is not a quota for --quota: write MESSAGES:BYTES:SECONDS, three whole numbers, the window at least 1 second (the default is 5000:20971520:86400).",
            ProgramRun.SingleErrorSentence(run));
    }

    private static async Task<List<JsonElement>> RefusalsAsync(RunningNode node)
    {
        using var status = await node.Api.GetJsonAsync("api/status");
        return [.. status.RootElement.GetProperty("refused").EnumerateArray().Select(e => e.Clone())];
    }
}
