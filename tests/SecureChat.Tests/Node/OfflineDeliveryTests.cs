using SecureChat.Testing;

using static SecureChat.Tests.SecureChatCli;

namespace SecureChat.Tests.Node;

/// <summary>
/// Messages written while their recipient (or the sender's own node) is not running wait in the
/// outbox and go out by themselves once both nodes run.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(NodeProcesses.Collection)]
public sealed class OfflineDeliveryTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Send_RecipientOfflineThenStarted_ArrivesWithoutTouchingTheSender()
    {
        using var aHome = new TemporaryHome();
        using var bHome = new TemporaryHome();
        var identities = await Task.WhenAll(InitAsync(aHome, "A"), InitAsync(bHome, "B"));
        // A is told B's address while B is offline, before it ever starts.
        var bListen = LoopbackPort.Unused();
        await NodeCli.AddContactAsync(aHome, identities[1], bListen);
        await NodeCli.KnowAsync(bHome, identities[0]);
        await using var a = await RunningNode.StartAsync(aHome, "A", RunningNode.AnyPort);

        // Through A's node (api.json points at it): queued, and no "no node runs" note.
        var send = await NodeCli.SendAsync(aHome, "B", "written while B was offline");
        Assert.True(send.ExitCode == 0, send.Transcript);
        Assert.Matches(NodeCli.MessageId(), send.Stdout[0]);
        Assert.Equal(string.Empty, send.Stderr);
        var id = send.Stdout[0];
        Assert.Equal("queued", (await a.Api.MessageAsync(id))?.State);

        await using var b = await RunningNode.StartAsync(bHome, "B", bListen);
        var received = await Eventually.UntilAsync(
            "the message reaches B",
            Deadline,
            () => b.Api.ConversationAsync("A"),
            all => all.Count > 0,
            all => $"{all.Count} messages\n{a.Process.Transcript}");
        var only = Assert.Single(received);
        Assert.Equal((id, "in", "written while B was offline", "received"), (only.Id, only.Direction, only.Text, only.State));
        Assert.Equal(identities[0].Id, only.ContactId);
        await Eventually.UntilAsync("A sees the delivery receipt", Deadline, () => a.Api.MessageAsync(id), m => m?.State == "delivered", m => m?.State ?? "missing");

        var wait = await NodeCli.SendAsync(aHome, "B", "and now with --wait", "--wait", "--timeout", "20");
        Assert.True(wait.ExitCode == 0, wait.Transcript);
        Assert.Matches(NodeCli.MessageId(), wait.Stdout[0]);
        Assert.Equal("delivered to 'B'.\n", wait.Stderr);
        var both = await b.Api.ConversationAsync("A");
        Assert.Equal(["written while B was offline", "and now with --wait"], both.Select(m => m.Text));
        Assert.Equal(wait.Stdout[0], both[1].Id);

        await b.StopAsync(bHome);
        await a.StopAsync(aHome);
        a.Process.AssertNoStackTrace();
        b.Process.AssertNoStackTrace();
    }

    [Fact]
    public async Task Send_NoNodeRunning_QueuesInTheStoreAndTheNextRunDelivers()
    {
        using var aHome = new TemporaryHome();
        using var bHome = new TemporaryHome();
        var identities = await Task.WhenAll(InitAsync(aHome, "A"), InitAsync(bHome, "B"));
        // A is told B's address while B is offline, before it ever starts.
        var bListen = LoopbackPort.Unused();
        await NodeCli.AddContactAsync(aHome, identities[1], bListen);
        await NodeCli.KnowAsync(bHome, identities[0]);

        var send = await NodeCli.SendAsync(aHome, "B", "queued with no node");
        Assert.True(send.ExitCode == 0, send.Transcript);
        Assert.Single(send.Stdout);
        Assert.Matches(NodeCli.MessageId(), send.Stdout[0]);
        Assert.Equal("queued for 'B'; no node runs, so it waits in the outbox until `securechat run` starts.\n", send.Stderr);

        var queued = Assert.Single(await NodeCli.HistoryAsync(aHome, "B"));
        Assert.Equal((send.Stdout[0], "out", "queued", "queued with no node"), (queued.Id, queued.Direction, queued.State, queued.Text));

        // --wait cannot wait without a node: exit 1, and the message stays queued all the same.
        var wait = await NodeCli.SendAsync(aHome, "B", "queued by a --wait", "--wait");
        Assert.True(wait.ExitCode == 1, wait.Transcript);
        Assert.Matches(NodeCli.MessageId(), wait.Stdout[0]);
        Assert.Contains("securechat: --wait needs a running node (`securechat run`); the message stays queued.", wait.Stderr, StringComparison.Ordinal);
        Assert.Equal(["queued", "queued"], (await NodeCli.HistoryAsync(aHome, "B")).Select(m => m.State));

        await using var b = await RunningNode.StartAsync(bHome, "B", bListen);
        await using var a = await RunningNode.StartAsync(aHome, "A", RunningNode.AnyPort);
        var received = await Eventually.UntilAsync(
            "both queued messages reach B",
            Deadline,
            () => b.Api.ConversationAsync("A"),
            all => all.Count >= 2,
            all => $"{all.Count} messages\n{a.Process.Transcript}");
        Assert.Equal(["queued with no node", "queued by a --wait"], received.Select(m => m.Text));
        Assert.Equal([send.Stdout[0], wait.Stdout[0]], received.Select(m => m.Id));
        await Eventually.UntilAsync(
            "A sees both delivered",
            Deadline,
            () => a.Api.ConversationAsync("B"),
            all => all.All(m => m.State == "delivered"),
            all => string.Join(", ", all.Select(m => m.State)));
        Assert.Equal(0, await a.Api.OutboxAsync());

        await a.StopAsync(aHome);
        await b.StopAsync(bHome);
        a.Process.AssertNoStackTrace();
        b.Process.AssertNoStackTrace();
    }
}
