using SecureChat.Testing;

using static SecureChat.Tests.SecureChatCli;

namespace SecureChat.Tests;

/// <summary>Two or more nodes, each its own process and home, chatting over loopback.</summary>
[Trait("Speed", "Slow")]
public sealed class ListenConnectTests
{
    private static readonly TimeSpan Timeout = ChatProcess.Timeout;

    [Fact]
    public async Task ListenConnect_TwoHomes_ExchangeMessagesBothWays()
    {
        using var aliceHome = new TemporaryHome();
        using var bobHome = new TemporaryHome();
        var alice = await InitAsync(aliceHome, "Alice");
        var bob = await InitAsync(bobHome, "Bob");

        var (listener, port) = await ListenAsync(aliceHome, "listener Alice");
        await using var _ = listener;
        await listener.WaitForLineAsync(l => l == $"* your ID: {alice.Id}", Timeout);
        await using var connector = Connect(bobHome, "connector Bob", Address(port));

        await connector.WaitForLineAsync(Connected(alice, $"at {Address(port)}"), Timeout);
        await listener.WaitForLineAsync(Connected(bob, $"from {Loopback}:"), Timeout);
        var bobSafety = await connector.WaitForMatchAsync(SafetyNumberLine(), Timeout);
        var aliceSafety = await listener.WaitForMatchAsync(SafetyNumberLine(), Timeout);
        Assert.Equal(aliceSafety.Groups["number"].Value, bobSafety.Groups["number"].Value);

        await connector.SendLineAsync("hello from Bob");
        await listener.WaitForLineAsync(Received("Bob", "hello from Bob"), Timeout);
        await listener.SendLineAsync("héllo from Alice ✓");
        await connector.WaitForLineAsync(Received("Alice", "héllo from Alice ✓"), Timeout);

        await connector.ExpectExitAsync(0);
        await listener.WaitForLineAsync(l => l == $"* disconnected: Bob ({bob.Fingerprint}) closed the chat", Timeout);
        Assert.Contains($"* disconnected from Alice ({alice.Fingerprint})", connector.Stdout);
        await listener.ExpectExitAsync(0);
        Assert.Equal("* stopped listening", listener.Stdout[^1]);
        connector.AssertNoStackTrace();
        listener.AssertNoStackTrace();
    }

    /// <summary>
    /// With the door closed (the default), a stranger who connects is a contact request: what it
    /// says is shown, nothing typed reaches it, and one keystroke line (/accept) lets it in.
    /// </summary>
    [Fact]
    public async Task Listen_StrangerConnects_IsARequestUntilAcceptThenLinesFlowBothWays()
    {
        using var aliceHome = new TemporaryHome();
        using var bobHome = new TemporaryHome();
        var identities = await Task.WhenAll(InitAsync(aliceHome, "Alice"), InitAsync(bobHome, "Bob"));
        var bob = identities[1];
        var (listener, port) = await ListenClosedAsync(aliceHome, "listener Alice");
        await using var _ = listener;
        await using var connector = Connect(bobHome, "connector Bob", Address(port));

        await listener.WaitForLineAsync(l => l.StartsWith($"* contact request: Bob ({bob.Fingerprint}) from {Loopback}:", StringComparison.Ordinal) && l.Contains("calls themself \"Bob\"", StringComparison.Ordinal), Timeout);
        await connector.SendLineAsync("may I?");
        await listener.WaitForLineAsync(Received("Bob", "may I?"), Timeout);

        // Nothing typed reaches a request: with no contact connected, the line is not sent.
        await listener.SendLineAsync("not for strangers");
        await listener.WaitForLineAsync(l => l == "* nobody is connected yet; the line was not sent", Timeout);

        await listener.SendLineAsync("/accept");
        await listener.WaitForLineAsync(l => l.StartsWith($"* accepted: Bob ({bob.Fingerprint})", StringComparison.Ordinal), Timeout);
        await listener.SendLineAsync("welcome, Bob");
        await connector.WaitForLineAsync(Received("Alice", "welcome, Bob"), Timeout);
        Assert.DoesNotContain(connector.Stdout, l => l.Contains("not for strangers", StringComparison.Ordinal));

        await connector.ExpectExitAsync(0);
        await listener.ExpectExitAsync(0);
        listener.AssertNoStackTrace();
    }

    [Fact]
    public async Task Listen_LineTypedRightAfterConnectedAnnouncement_ReachesThePeer()
    {
        using var aliceHome = new TemporaryHome();
        using var bobHome = new TemporaryHome();
        var identities = await Task.WhenAll(InitAsync(aliceHome, "Alice"), InitAsync(bobHome, "Bob"));
        var (listener, port) = await ListenAsync(aliceHome, "listener Alice");
        await using var _ = listener;
        await using var connector = Connect(bobHome, "connector Bob", Address(port));

        // A person who sees "* connected: Bob" may type at once.
        await listener.WaitForLineAsync(Connected(identities[1], "from "), Timeout);
        await listener.SendLineAsync("typed at once");

        // Ending the listener's input after that line closes the channel behind it.
        await listener.ExpectExitAsync(0);
        Assert.Equal(0, await connector.WaitForExitAsync(Timeout));
        Assert.True(
            connector.Stdout.Any(Received("Alice", "typed at once")),
            $"the line typed after the announcement was not delivered\n{listener.Transcript}\n{connector.Transcript}");
        Assert.DoesNotContain("* nobody is connected yet; the line was not sent", listener.Stdout);
    }

    [Fact]
    public async Task Listen_ThreeClients_AllTalk()
    {
        using var hostHome = new TemporaryHome();
        using var home1 = new TemporaryHome();
        using var home2 = new TemporaryHome();
        using var home3 = new TemporaryHome();
        var identities = await Task.WhenAll(
            InitAsync(hostHome, "Host"), InitAsync(home1, "Client1"), InitAsync(home2, "Client2"), InitAsync(home3, "Client3"));
        var host = identities[0];
        TemporaryHome[] homes = [home1, home2, home3];

        var (listener, port) = await ListenAsync(hostHome, "listener Host");
        await using var _ = listener;
        var clients = new ChildProcess[3];
        try
        {
            for (var i = 0; i < 3; i++)
            {
                clients[i] = Connect(homes[i], $"connector Client{i + 1}", Address(port));
            }

            for (var i = 0; i < 3; i++)
            {
                await clients[i].WaitForLineAsync(Connected(host, "at "), Timeout);
                await clients[i].SendLineAsync($"line from Client{i + 1}");
            }

            // A received line shows the listener has the client among the peers it writes to.
            for (var i = 0; i < 3; i++)
            {
                await listener.WaitForLineAsync(Connected(identities[i + 1], "from "), Timeout);
                await listener.WaitForLineAsync(Received($"Client{i + 1}", $"line from Client{i + 1}"), Timeout);
            }

            await listener.SendLineAsync("hello everyone");
            foreach (var client in clients)
            {
                await client.WaitForLineAsync(Received("Host", "hello everyone"), Timeout);
                Assert.DoesNotContain(client.Stdout, l => l.Contains("line from Client", StringComparison.Ordinal));
            }

            // The listener closes every channel at the end of its input; each client then exits 0.
            await listener.ExpectExitAsync(0);
            foreach (var client in clients)
            {
                Assert.Equal(0, await client.WaitForExitAsync(Timeout));
                client.AssertNoStackTrace();
            }

            Assert.Equal(3, listener.Stdout.Count(l => l.StartsWith("* disconnected: Client", StringComparison.Ordinal)));
            listener.AssertNoStackTrace();
        }
        finally
        {
            foreach (var client in clients)
            {
                if (client is not null)
                {
                    await client.DisposeAsync();
                }
            }
        }
    }

    [Fact]
    public async Task Connect_PipedStdin_DeliversPendingAndExitsZero()
    {
        using var listenerHome = new TemporaryHome();
        using var connectorHome = new TemporaryHome();
        await Task.WhenAll(InitAsync(listenerHome, "Listener"), InitAsync(connectorHome, "Piper"));
        var (listener, port) = await ListenAsync(listenerHome, "listener");
        await using var _ = listener;

        await using var connector = Connect(connectorHome, "connector Piper", Address(port));
        await connector.SendLineAsync("a");
        await connector.SendLineAsync("b");
        await connector.SendLineAsync("c");
        await connector.ExpectExitAsync(0);

        await listener.WaitForLineAsync(l => l.StartsWith("* disconnected: Piper ", StringComparison.Ordinal), Timeout);
        var received = listener.Stdout.Where(l => l.Contains("] Piper: ", StringComparison.Ordinal)).Select(l => l[11..]).ToList();
        Assert.Equal(["Piper: a", "Piper: b", "Piper: c"], received);
        await listener.ExpectExitAsync(0);
        connector.AssertNoStackTrace();
        listener.AssertNoStackTrace();
    }
}
