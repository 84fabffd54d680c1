using static SecureChat.Tests.SecureChatCli;

namespace SecureChat.Tests;

/// <summary>Trust on first use across runs: a pinned address that answers with another key is refused.</summary>
[Trait("Speed", "Slow")]
public sealed class PinnedKeyTests
{
    private static readonly TimeSpan Timeout = ChatProcess.Timeout;

    [Fact]
    public async Task Connect_OtherKeyAtPinnedAddress_RefusedWithExitFourUntilIdGiven()
    {
        using var firstHome = new TemporaryHome();
        using var secondHome = new TemporaryHome();
        using var dialerHome = new TemporaryHome();
        var identities = await Task.WhenAll(InitAsync(firstHome, "First"), InitAsync(secondHome, "Second"), InitAsync(dialerHome, "Dialer"));
        var (first, second) = (identities[0], identities[1]);

        // First contact pins First's key for this address.
        int port;
        var (firstListener, firstPort) = await ListenAsync(firstHome, "listener First");
        await using (firstListener)
        {
            port = firstPort;
            await using var pinning = Connect(dialerHome, "connector (pins)", Address(port));
            await pinning.WaitForLineAsync(Connected(first, $"at {Address(port)}"), Timeout);
            await pinning.WaitForMatchAsync(SafetyNumberLine(), Timeout);
            await pinning.ExpectExitAsync(0);
            await firstListener.ExpectExitAsync(0);
        }

        // Another identity now answers on the same port.
        var (secondListener, secondPort) = await ListenAsync(secondHome, "listener Second", port);
        await using var _ = secondListener;
        Assert.Equal(port, secondPort);

        var refused = await RunAsync(null, "--home", dialerHome.Path, "connect", Address(port));
        Assert.True(refused.ExitCode == 4, refused.Transcript);
        var error = Assert.Single(refused.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("securechat: Refused:", error, StringComparison.Ordinal);
        Assert.Contains(second.Id, error, StringComparison.Ordinal);
        Assert.Contains(first.Id, error, StringComparison.Ordinal);
        Assert.Contains($"securechat connect {second.Id}@{Address(port)}", error, StringComparison.Ordinal);
        Assert.DoesNotContain(refused.Stdout, l => l.StartsWith("* connected:", StringComparison.Ordinal));
        await secondListener.WaitForLineAsync(l => l.StartsWith($"* refused a connection from {Loopback}:", StringComparison.Ordinal), Timeout);
        Assert.DoesNotContain(secondListener.Stdout, l => l.StartsWith("* connected:", StringComparison.Ordinal));

        // Re-verification: insisting on the new ID trusts it, and then the address alone works too.
        await using (var verified = Connect(dialerHome, "connector (verified)", $"{second.Id}@{Address(port)}"))
        {
            await verified.WaitForLineAsync(Connected(second, $"at {Address(port)}"), Timeout);
            await verified.WaitForMatchAsync(SafetyNumberLine(), Timeout);
            await verified.SendLineAsync("it is really me");
            await secondListener.WaitForLineAsync(Received("Dialer", "it is really me"), Timeout);
            await verified.ExpectExitAsync(0);
            verified.AssertNoStackTrace();
        }

        await using (var again = Connect(dialerHome, "connector (again)", Address(port)))
        {
            await again.WaitForLineAsync(Connected(second, $"at {Address(port)}"), Timeout);
            await again.ExpectExitAsync(0);
            Assert.DoesNotContain(again.Stdout, l => l.StartsWith("* new contact", StringComparison.Ordinal));
            again.AssertNoStackTrace();
        }

        await secondListener.ExpectExitAsync(0);
        secondListener.AssertNoStackTrace();
    }
}
