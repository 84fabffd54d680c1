using static SecureChat.Tests.SecureChatCli;

namespace SecureChat.Tests;

/// <summary>How a connector ends when the listener goes away: stopped on purpose, or lost.</summary>
[Trait("Speed", "Slow")]
public sealed class ChatEndingTests
{
    private static readonly TimeSpan Timeout = ChatProcess.Timeout;

    [Fact]
    public async Task Connect_ListenerKilled_ExitsOneSayingLost()
    {
        using var hostHome = new TemporaryHome();
        using var guestHome = new TemporaryHome();
        var identities = await Task.WhenAll(InitAsync(hostHome, "Host"), InitAsync(guestHome, "Guest"));
        var (listener, port) = await ListenAsync(hostHome, "listener Host");
        await using (listener)
        {
            await using var connector = Connect(guestHome, "connector Guest", Address(port));
            await connector.WaitForLineAsync(Connected(identities[0], "at "), Timeout);
            await listener.WaitForLineAsync(Connected(identities[1], "from "), Timeout);

            await listener.KillAsync();

            Assert.Equal(1, await connector.WaitForExitAsync(Timeout));
            var error = Assert.Single(connector.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith($"securechat: the chat with Host ({identities[0].Fingerprint}) ended:", error, StringComparison.Ordinal);
            Assert.Contains("lost", error, StringComparison.Ordinal);
            connector.AssertNoStackTrace();
        }
    }

    [Fact]
    public async Task Connect_ListenerStoppedBySigterm_ExitsZero()
    {
        using var hostHome = new TemporaryHome();
        using var guestHome = new TemporaryHome();
        var identities = await Task.WhenAll(InitAsync(hostHome, "Host"), InitAsync(guestHome, "Guest"));
        var (listener, port) = await ListenAsync(hostHome, "listener Host");
        await using var _ = listener;
        await using var connector = Connect(guestHome, "connector Guest", Address(port));
        await connector.WaitForLineAsync(Connected(identities[0], "at "), Timeout);
        await listener.WaitForLineAsync(Connected(identities[1], "from "), Timeout);

        await listener.TerminateAsync();

        // SIGTERM stops the listener like the end of its input: every channel is closed cleanly.
        Assert.Equal(0, await listener.WaitForExitAsync(Timeout));
        Assert.Equal("* stopped listening", listener.Stdout[^1]);
        var code = await connector.WaitForExitAsync(Timeout);
        Assert.Contains(connector.Stdout, l => l.StartsWith($"* disconnected: Host ({identities[0].Fingerprint})", StringComparison.Ordinal));
        Assert.True(code == 0, $"the connector treats a deliberate stop of its peer as a failure (exit {code})\n{connector.Transcript}");
        listener.AssertNoStackTrace();
        connector.AssertNoStackTrace();
    }
}
