using System.Text.Json;
using SecureChat.Testing;
using SecureChat.Tests.Node;
using static SecureChat.Tests.SecureChatCli;

namespace SecureChat.Tests;

/// <summary>
/// The terminal chat runs the node: <c>listen</c> and <c>connect</c> speak the node protocol with
/// a web-UI node (<c>securechat run</c>, driven through its local API), keep the same history, and
/// queue typed lines in the outbox, so a line typed while its peer is away reaches it once it is back.
/// </summary>
[Trait("Speed", "Slow")]
public sealed class TerminalNodeTests
{
    private static readonly TimeSpan Timeout = ChatProcess.Timeout;

    [Fact]
    public async Task Listen_WebUiNodeDialsIn_MessagesGoBothWaysAndBothHistoriesHoldThem()
    {
        using var terminalHome = new TemporaryHome();
        using var nodeHome = new TemporaryHome();
        var identities = await Task.WhenAll(InitAsync(terminalHome, "Tess"), InitAsync(nodeHome, "Wendy"));
        var (tess, wendy) = (identities[0], identities[1]);
        var (listener, port) = await ListenAsync(terminalHome, "listener Tess");
        await using var _ = listener;
        await using var node = await RunningNode.StartAsync(nodeHome, "node Wendy", RunningNode.AnyPort);

        // The web UI's person adds the terminal's ID and address: the node dials it.
        (await node.Api.AddContactAsync(tess, Address(port))).Dispose();
        await listener.WaitForLineAsync(Connected(wendy, $"from {Loopback}:"), Timeout);
        await listener.WaitForMatchAsync(SafetyNumberLine(), Timeout);

        var fromUi = await node.Api.SendAsync(tess.Id, "hello from the web UI");
        await listener.WaitForLineAsync(Received("Wendy", "hello from the web UI"), Timeout);
        await listener.SendLineAsync("hello from the terminal");

        var conversation = await Eventually.UntilAsync(
            "the web UI node has the terminal's line and a receipt for its own",
            Timeout,
            () => node.Api.ConversationAsync(tess.Id),
            c => c.Any(m => m.Direction == "in" && m.Text == "hello from the terminal") && c.Any(m => m.Id == fromUi.Id && m.State is "delivered" or "read"),
            c => string.Join("; ", c.Select(m => $"{m.Direction} {m.State} {m.Text}")));
        Assert.Equal(["hello from the web UI", "hello from the terminal"], conversation.Select(m => m.Text));
        Assert.All(conversation, m => Assert.True(m.Lamport > 0));

        // The terminal waits for its line's receipt at the end of its input, then stops.
        await listener.ExpectExitAsync(0);
        Assert.DoesNotContain(listener.Stdout, l => l.Contains("not delivered yet", StringComparison.Ordinal));
        var history = await HistoryAsync(terminalHome, wendy);
        Assert.Equal(
            [("in", "hello from the web UI"), ("out", "hello from the terminal")],
            history.Select(m => (m.Direction, m.Text)));
        Assert.Contains(history[1].State, new[] { "delivered", "read" });
        Assert.All(history, m => Assert.True(m.Lamport > 0));
        listener.AssertNoStackTrace();
    }

    /// <summary>
    /// A command typed in another terminal while <c>listen</c> runs goes through the listening
    /// node (its local API, as with <c>securechat run</c>): at once, and never into the store
    /// behind the node's back.
    /// </summary>
    [Fact]
    public async Task Listen_CommandsFromAnotherTerminal_GoThroughTheListeningNode()
    {
        using var terminalHome = new TemporaryHome();
        using var nodeHome = new TemporaryHome();
        var identities = await Task.WhenAll(InitAsync(terminalHome, "Tess"), InitAsync(nodeHome, "Wendy"));
        var (tess, wendy) = (identities[0], identities[1]);
        var (listener, port) = await ListenAsync(terminalHome, "listener Tess");
        await using var _ = listener;
        await using var node = await RunningNode.StartAsync(nodeHome, "node Wendy", RunningNode.AnyPort);
        (await node.Api.AddContactAsync(tess, Address(port))).Dispose();
        await listener.WaitForLineAsync(Connected(wendy, $"from {Loopback}:"), Timeout);

        var send = await ProgramRun.RunAsync((string?)null, "--home", terminalHome.Path, "send", wendy.Id, "sent from another terminal");
        Assert.True(send.ExitCode == 0, send.Transcript);
        var list = await ProgramRun.RunAsync((string?)null, "--home", terminalHome.Path, "contacts", "list", "--json");
        Assert.True(list.ExitCode == 0, list.Transcript);
        Assert.Contains(wendy.Id, string.Join('\n', list.Stdout), StringComparison.Ordinal);

        await Eventually.UntilAsync(
            "the web UI node has the line sent from another terminal through the listening node",
            Timeout,
            () => node.Api.ConversationAsync(tess.Id),
            c => c.Count(m => m.Direction == "in" && m.Text == "sent from another terminal") == 1,
            c => string.Join("; ", c.Select(m => $"{m.Direction} {m.State} {m.Text}")));
        listener.AssertNoStackTrace();
    }

    [Fact]
    public async Task Connect_ToWebUiNode_MessagesGoBothWaysAndTheConnectorExitsZero()
    {
        using var terminalHome = new TemporaryHome();
        using var nodeHome = new TemporaryHome();
        var identities = await Task.WhenAll(InitAsync(terminalHome, "Tess"), InitAsync(nodeHome, "Wendy"));
        var (tess, wendy) = (identities[0], identities[1]);
        await using var node = await RunningNode.StartAsync(nodeHome, "node Wendy", RunningNode.AnyPort);

        // The node knows the terminal's ID, so the dial is a contact's, not a request.
        await node.Api.KnowAsync(tess.Id);
        await using var connector = Connect(terminalHome, "connector Tess", node.ListenAddress);
        await connector.WaitForLineAsync(Connected(wendy, $"at {node.ListenAddress}"), Timeout);

        await connector.SendLineAsync("hi, node");
        await Eventually.UntilAsync(
            "the node received the terminal's line",
            Timeout,
            () => node.Api.ConversationAsync(tess.Id),
            c => c.Any(m => m.Direction == "in" && m.Text == "hi, node"),
            c => string.Join("; ", c.Select(m => $"{m.Direction} {m.State} {m.Text}")));
        await node.Api.SendAsync(tess.Id, "hi, terminal");
        await connector.WaitForLineAsync(Received("Wendy", "hi, terminal"), Timeout);

        await connector.ExpectExitAsync(0);
        Assert.Contains($"* disconnected from Wendy ({wendy.Fingerprint})", connector.Stdout);
        connector.AssertNoStackTrace();
        var history = await HistoryAsync(terminalHome, wendy);
        Assert.Equal([("out", "hi, node"), ("in", "hi, terminal")], history.Select(m => (m.Direction, m.Text)));
        Assert.Contains(history[0].State, new[] { "delivered", "read" });
    }

    /// <summary>
    /// A contact of the listener leaves; what the listener types meanwhile waits in its outbox and
    /// reaches the contact when it connects again, once: the next chat does not bring it a second time.
    /// </summary>
    [Fact]
    public async Task Listen_LineTypedWhileThePeerIsAway_ArrivesOnceWhenItConnectsAgain()
    {
        using var hostHome = new TemporaryHome();
        using var guestHome = new TemporaryHome();
        var identities = await Task.WhenAll(InitAsync(hostHome, "Host"), InitAsync(guestHome, "Guest"));
        var guest = identities[1];
        var (listener, port) = await ListenAsync(hostHome, "listener Host");
        await using var _ = listener;

        await using (var first = Connect(guestHome, "connector Guest (first)", Address(port)))
        {
            await first.WaitForLineAsync(Connected(identities[0], "at "), Timeout);
            await first.ExpectExitAsync(0);
        }

        await listener.WaitForLineAsync(l => l == $"* disconnected: Guest ({guest.Fingerprint}) closed the chat", Timeout);
        await listener.SendLineAsync("while you were away");
        await listener.WaitForLineAsync(l => l == $"* Guest ({guest.Fingerprint}) is away: the line waits in the outbox and goes when they are back", Timeout);

        await using (var second = Connect(guestHome, "connector Guest (second)", Address(port)))
        {
            await second.WaitForLineAsync(Received("Host", "while you were away"), Timeout);
            await second.ExpectExitAsync(0);
            second.AssertNoStackTrace();
        }

        await using (var third = Connect(guestHome, "connector Guest (third)", Address(port)))
        {
            await third.WaitForLineAsync(Connected(identities[0], "at "), Timeout);
            await third.SendLineAsync("am I up to date?");
            await listener.WaitForLineAsync(Received("Guest", "am I up to date?"), Timeout);
            await third.ExpectExitAsync(0);
            Assert.DoesNotContain(third.Stdout, l => l.Contains("while you were away", StringComparison.Ordinal));
        }

        await listener.ExpectExitAsync(0);
        var history = await HistoryAsync(guestHome, identities[0]);
        Assert.Single(history, m => m.Text == "while you were away");
        listener.AssertNoStackTrace();
    }

    [Fact]
    public async Task Listen_PipedStdinBeforeAnyoneConnects_SaysNothingWasSentAndExitsZero()
    {
        using var home = new TemporaryHome();
        await InitAsync(home, "Solo");
        var (listener, _) = await ListenAsync(home, "listener Solo");
        await using var _ = listener;

        await listener.SendLineAsync("anyone?");
        await listener.ExpectExitAsync(0);

        Assert.Contains("* nobody is connected yet; the line was not sent", listener.Stdout);
        Assert.Equal("* stopped listening", listener.Stdout[^1]);
        listener.AssertNoStackTrace();
    }

    [Fact]
    public async Task ListenAndConnect_NodeAlreadyRunsOnTheHome_SayItAndDoNotOpenTheStore()
    {
        using var home = new TemporaryHome();
        await InitAsync(home, "Busy");
        await using var node = await RunningNode.StartAsync(home, "node Busy", RunningNode.AnyPort);

        var listen = await RunAsync(null, "--home", home.Path, "listen", "--host", Loopback, "--port", "0");
        var connect = await RunAsync(null, "--home", home.Path, "connect", node.ListenAddress);

        foreach (var (run, verb) in new[] { (listen, "listen"), (connect, "connect") })
        {
            Assert.True(run.ExitCode == 2, run.Transcript);
            Assert.Empty(run.Stdout);
            Assert.Equal(
                $"securechat: A node already runs for {home.Path} and holds its store: chat through it (`securechat send` and `securechat history` go through it; `securechat ui` opens the web UI of a `securechat run`), or stop it to use `securechat {verb}`.",
                run.Stderr.TrimEnd('\n'));
        }

        await node.StopAsync(home);
    }

    /// <summary><c>securechat history CONTACT --json</c> on a home whose chat has ended, oldest first.</summary>
    private static async Task<IReadOnlyList<ApiMessage>> HistoryAsync(TemporaryHome home, CreatedIdentity contact)
    {
        var run = await RunAsync(null, "--home", home.Path, "history", contact.Id, "--limit", "100", "--json");
        Assert.True(run.ExitCode == 0, run.Transcript);
        return JsonSerializer.Deserialize<List<ApiMessage>>(string.Join('\n', run.Stdout), NodeApi.Json)!;
    }
}
