using SecureChat.Storage;
using static SecureChat.Tests.SecureChatCli;

namespace SecureChat.Tests;

/// <summary><c>init</c>, <c>id</c>, and the identity that <c>listen</c> creates when there is none.</summary>
public sealed class IdentityCommandTests
{
    private const string Passphrase = "open sesame, slowly";

    [Fact]
    public async Task Id_AfterInit_PrintsIdAloneOnFirstLine()
    {
        using var home = new TemporaryHome();
        var created = await InitAsync(home, "Ida", Passphrase);

        // No passphrase in the environment: the ID is public and needs none.
        var run = await RunAsync(null, "--home", home.Path, "id");

        Assert.True(run.ExitCode == 0, run.Transcript);
        var id = run.Stdout[0];
        Assert.Equal(52, id.Length);
        Assert.All(id, c => Assert.Contains(c, ZBase32Alphabet));
        Assert.Equal(created.Id, id);
        Assert.Equal($"fingerprint {created.Fingerprint}", run.Stdout[1]);
        Assert.Equal(2, run.Stdout.Count);
        Assert.Equal(string.Empty, run.Stderr);
    }

    [Fact]
    public async Task Id_WithQr_DrawsBlockCharacters()
    {
        using var home = new TemporaryHome();
        var created = await InitAsync(home, "Quinn");

        var run = await RunAsync(null, "--home", home.Path, "id", "--qr");

        Assert.True(run.ExitCode == 0, run.Transcript);
        Assert.Equal(created.Id, run.Stdout[0]);
        var drawing = run.Stdout.Skip(2).Where(l => l.Length > 0).ToList();
        Assert.True(drawing.Count >= 10, run.Transcript);
        Assert.All(drawing, l => Assert.True(l.All(c => c is '█' or '▀' or '▄' or ' '), $"not a block drawing: '{l}'"));
        Assert.Single(drawing.Select(l => l.Length).Distinct());
        Assert.Contains(drawing, l => l.Contains('▀', StringComparison.Ordinal) || l.Contains('▄', StringComparison.Ordinal));
    }

    [Fact]
    public async Task Init_SecondTime_ExitsThreeAndChangesNothing()
    {
        using var home = new TemporaryHome();
        var created = await InitAsync(home, "Once");
        var before = File.ReadAllBytes(home.FilePath(IdentityFile.FileName));

        var run = await RunAsync(null, "--home", home.Path, "init", "--name", "Twice", "--no-passphrase");

        Assert.True(run.ExitCode == 3, run.Transcript);
        Assert.Contains($"securechat: An identity already exists in {home.Path}", run.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(home.FilePath(IdentityFile.FileName)));
        Assert.Equal(created.Id, (await RunAsync(null, "--home", home.Path, "id")).Stdout[0]);
    }

    [Fact]
    public async Task Listen_NoIdentityButPassphrase_CreatesProtectedIdentity()
    {
        using var home = new TemporaryHome();

        var (listener, _) = await ListenAsync(home, "listener (new)", passphrase: Passphrase);
        await using (listener)
        {
            await listener.ExpectExitAsync(0);
            listener.AssertNoStackTrace();
        }

        Assert.Equal($"* created a new identity in {home.Path}", listener.Stdout[0]);
        Assert.Equal(KeyProtection.Passphrase, IdentityFile.ReadProtection(home.Path));
        var id = await RunAsync(null, "--home", home.Path, "id");
        Assert.Single(listener.Stdout, line => line == $"* your ID: {id.Stdout[0]}");
    }
}
