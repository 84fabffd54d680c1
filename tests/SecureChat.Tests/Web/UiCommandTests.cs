using SecureChat.Tests.Node;

namespace SecureChat.Tests.Web;

/// <summary><c>securechat ui</c> where it has no link to print: no node running, or a node without the UI.</summary>
[Trait("Speed", "Slow")]
[Collection(NodeProcesses.Collection)]
public sealed class UiCommandTests
{
    [Fact]
    public async Task Ui_WithNoNodeRunning_IsAUsageErrorThatSaysHowToStartOne()
    {
        using var home = new TemporaryHome();
        await SecureChatCli.InitAsync(home, "Idle");

        var run = await SecureChatCli.RunAsync(null, "--home", home.Path, "ui");

        Assert.Equal(2, run.ExitCode);
        Assert.Empty(run.Stdout);
        Assert.Contains($"securechat: No node runs for {home.Path}: start it with `securechat run`, which prints a link to its window.", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ui_WithANodeRunningWithoutTheUi_SaysWhyThereIsNoLink()
    {
        using var home = new TemporaryHome();
        await SecureChatCli.InitAsync(home, "Headless");
        await using var node = await RunningNode.StartAsync(home, "headless", RunningNode.AnyPort);

        var run = await SecureChatCli.RunAsync(null, "--home", home.Path, "ui");

        Assert.Equal(2, run.ExitCode);
        Assert.Empty(run.Stdout);
        Assert.Contains("securechat: This node runs with --no-ui: it has no window to open. Restart it without --no-ui for one.", run.Stderr, StringComparison.Ordinal);
        await node.StopAsync(home);
    }
}
