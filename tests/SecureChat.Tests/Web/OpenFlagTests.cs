using SecureChat.Tests.Node;

namespace SecureChat.Tests.Web;

/// <summary>
/// <c>run --open</c> hands the browser a file that redirects to the link, never the link itself
/// (a program's arguments are readable by every user of the machine); the file is the owner's
/// alone and goes when the node stops.
/// </summary>
public sealed class OpenFlagTests
{
    [Fact]
    public async Task Open_WritesAnOwnerOnlyRedirectToTheLink_AndRemovesItAtStop()
    {
        using var home = new TemporaryHome();
        await SecureChatCli.InitAsync(home, "Opener");
        await using var node = await RunningNode.StartAsync(home, "opener", RunningNode.FreePort(), discovery: ["--no-dht", "--no-lan", "--open"], ui: true);
        var file = home.FilePath("open.html");

        Assert.True(File.Exists(file), "run --open wrote no open.html");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        var html = await File.ReadAllTextAsync(file);
        Assert.Contains($"url={node.Ui!.LoginUrl}", html, StringComparison.Ordinal);

        // Whether or not this machine has a browser to open, the node runs on and says nothing it should not.
        Assert.DoesNotContain(node.Process.Stdout, line => line.StartsWith("Could not open", StringComparison.Ordinal) && line.Contains(node.Ui.Token, StringComparison.Ordinal));
        await node.StopAsync(home);
        Assert.False(File.Exists(file), "open.html outlived the node");
    }

    [Fact]
    public async Task OpenWithNoUi_IsAUsageError()
    {
        using var home = new TemporaryHome();
        await SecureChatCli.InitAsync(home, "Opener");
        var run = await SecureChatCli.RunAsync(null, "--home", home.Path, "run", "--no-ui", "--open", "--no-dht", "--no-lan");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--open opens the web UI, which --no-ui turns off.", run.Stderr, StringComparison.Ordinal);
    }
}
