using SecureChat.Protocol.Identity;
using SecureChat.Storage;
using static SecureChat.Tests.SecureChatCli;

namespace SecureChat.Tests;

/// <summary>
/// <c>securechat export FILE</c> and <c>securechat import FILE</c> as a person runs them: the
/// restored home lists the same contacts as the original; a wrong backup passphrase, a damaged
/// file or a home that already has an identity exit 3 with one sentence and write nothing.
/// </summary>
[Trait("Speed", "Slow")]
public sealed class BackupCommandTests : IDisposable
{
    private const string BackupVariable = "SECURECHAT_BACKUP_PASSPHRASE";
    private const string BackupPassphrase = "a backup passphrase for the tests";
    private const string NodePassphrase = "the node passphrase for the tests";

    private readonly TemporaryHome _original = new();
    private readonly TemporaryHome _restored = new();
    private readonly string _file;

    public BackupCommandTests()
    {
        _file = Path.Combine(Path.GetDirectoryName(_original.Path)!, "node.scbk");
    }

    public void Dispose()
    {
        _original.Dispose();
        _restored.Dispose();
    }

    [Fact]
    public async Task ExportThenImport_UnattendedNode_RestoresTheSameIdentityAndContacts()
    {
        var created = await InitAsync(_original, "Origin");
        await AddContactsAsync();

        var export = await RunAsync(Backup(BackupPassphrase), "--home", _original.Path, "export", _file);

        Assert.True(export.ExitCode == 0, export.Transcript);
        Assert.Equal($"Wrote an encrypted backup of {created.Id} (2 contacts, 0 messages) to {_file}.", export.Stdout[0]);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_file));

        var import = await RunAsync(Backup(BackupPassphrase), "--home", _restored.Path, "import", _file);

        Assert.True(import.ExitCode == 0, import.Transcript);
        Assert.StartsWith($"Restored {created.Id} from a backup made ", import.Stdout[0], StringComparison.Ordinal);
        Assert.Equal("Restored 2 contacts and 0 messages.", import.Stdout[1]);
        Assert.Equal(string.Empty, import.Stderr);
        var before = await RunAsync(Environment(), "--home", _original.Path, "contacts", "list", "--json");
        var after = await RunAsync(Environment(), "--home", _restored.Path, "contacts", "list", "--json");
        Assert.True(after.ExitCode == 0, after.Transcript);
        Assert.Contains("\"Bob\"", string.Join('\n', after.Stdout), StringComparison.Ordinal);
        Assert.Equal(before.Stdout, after.Stdout);
        Assert.Equal(created.Id, (await RunAsync(Environment(), "--home", _restored.Path, "id")).Stdout[0]);
    }

    [Fact]
    public async Task Import_WrongBackupPassphrase_ExitsThreeAndLeavesTheHomeUncreated()
    {
        await InitAsync(_original, "Origin");
        Assert.Equal(0, (await RunAsync(Backup(BackupPassphrase), "--home", _original.Path, "export", _file)).ExitCode);

        var import = await RunAsync(Backup("not the backup passphrase"), "--home", _restored.Path, "import", _file);

        Assert.True(import.ExitCode == 3, import.Transcript);
        Assert.StartsWith("securechat: The backup passphrase is wrong", SingleErrorLine(import), StringComparison.Ordinal);
        Assert.Empty(import.Stdout);
        Assert.False(Directory.Exists(_restored.Path));
    }

    [Fact]
    public async Task Import_DamagedFile_ExitsThreeSayingDamagedAndWritesNothing()
    {
        await InitAsync(_original, "Origin");
        Assert.Equal(0, (await RunAsync(Backup(BackupPassphrase), "--home", _original.Path, "export", _file)).ExitCode);
        var bytes = File.ReadAllBytes(_file);
        bytes[^100] ^= 0x04;
        File.WriteAllBytes(_file, bytes);

        var import = await RunAsync(Backup(BackupPassphrase), "--home", _restored.Path, "import", _file);

        Assert.True(import.ExitCode == 3, import.Transcript);
        Assert.StartsWith("securechat: The backup is damaged", SingleErrorLine(import), StringComparison.Ordinal);
        Assert.False(Directory.Exists(_restored.Path));
    }

    [Fact]
    public async Task Import_IntoAHomeWithAnIdentity_ExitsThreeAndChangesNothing()
    {
        await InitAsync(_original, "Origin");
        Assert.Equal(0, (await RunAsync(Backup(BackupPassphrase), "--home", _original.Path, "export", _file)).ExitCode);
        var existing = await InitAsync(_restored, "Existing");
        var identity = File.ReadAllBytes(_restored.FilePath(IdentityFile.FileName));

        var import = await RunAsync(Backup(BackupPassphrase), "--home", _restored.Path, "import", _file);

        Assert.True(import.ExitCode == 3, import.Transcript);
        Assert.StartsWith($"securechat: An identity already exists in {_restored.Path}", SingleErrorLine(import), StringComparison.Ordinal);
        Assert.Equal(identity, File.ReadAllBytes(_restored.FilePath(IdentityFile.FileName)));
        Assert.Equal(existing.Id, (await RunAsync(Environment(), "--home", _restored.Path, "id")).Stdout[0]);
    }

    [Fact]
    public async Task Export_ToAnExistingFile_ExitsTwoUnlessForced()
    {
        await InitAsync(_original, "Origin");
        File.WriteAllText(_file, "keep me");

        var refused = await RunAsync(Backup(BackupPassphrase), "--home", _original.Path, "export", _file);

        Assert.True(refused.ExitCode == 2, refused.Transcript);
        Assert.Contains("--force", SingleErrorLine(refused), StringComparison.Ordinal);
        Assert.Equal("keep me", File.ReadAllText(_file));

        var forced = await RunAsync(Backup(BackupPassphrase), "--home", _original.Path, "export", _file, "--force");

        Assert.True(forced.ExitCode == 0, forced.Transcript);
        Assert.Equal("SCBK"u8.ToArray(), File.ReadAllBytes(_file)[..4]);
    }

    [Fact]
    public async Task Export_NoBackupPassphraseAndNoTerminal_ExitsThreeAndWritesNoFile()
    {
        await InitAsync(_original, "Origin");

        var run = await RunAsync(Environment(), "--home", _original.Path, "export", _file);

        Assert.True(run.ExitCode == 3, run.Transcript);
        Assert.Contains(BackupVariable, SingleErrorLine(run), StringComparison.Ordinal);
        Assert.False(File.Exists(_file));
        Assert.Equal([Path.GetFileName(_original.Path)], Directory.GetFileSystemEntries(Path.GetDirectoryName(_file)!).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Import_ProtectedNode_KeepsItsOwnPassphraseAndChecksIt()
    {
        await InitAsync(_original, "Guarded", NodePassphrase);
        await AddContactsAsync(NodePassphrase);
        var export = await RunAsync(Environment((ChatProcess.PassphraseVariable, NodePassphrase), (BackupVariable, BackupPassphrase)), "--home", _original.Path, "export", _file);
        Assert.True(export.ExitCode == 0, export.Transcript);

        // Without the node passphrase there is nothing to check it with: restored, and said so.
        using var uncheckedHome = new TemporaryHome();
        var quiet = await RunAsync(Backup(BackupPassphrase), "--home", uncheckedHome.Path, "import", _file);
        Assert.True(quiet.ExitCode == 0, quiet.Transcript);
        Assert.Contains("it was not checked", quiet.Stdout[1], StringComparison.Ordinal);

        // The backup passphrase did not replace the node's: the node's still unlocks the copy.
        var import = await RunAsync(Environment((ChatProcess.PassphraseVariable, NodePassphrase), (BackupVariable, BackupPassphrase)), "--home", _restored.Path, "import", _file);
        Assert.True(import.ExitCode == 0, import.Transcript);
        Assert.Equal("Restored 2 contacts and 0 messages.", import.Stdout[1]);
        Assert.Equal(KeyProtection.Passphrase, IdentityFile.ReadProtection(_restored.Path));
        var wrong = await RunAsync(Environment((ChatProcess.PassphraseVariable, BackupPassphrase)), "--home", _restored.Path, "contacts", "list");
        Assert.True(wrong.ExitCode == 3, wrong.Transcript);
    }

    private async Task AddContactsAsync(string? nodePassphrase = null)
    {
        using var bob = LocalIdentity.Create("Bob", DateTimeOffset.UtcNow);
        using var carol = LocalIdentity.Create("Carol", DateTimeOffset.UtcNow);
        var environment = nodePassphrase is null ? Environment() : Environment((ChatProcess.PassphraseVariable, nodePassphrase));
        var first = await RunAsync(environment, "--home", _original.Path, "contacts", "add", bob.Account.Text, "--name", "Bob", "--endpoint", "192.0.2.7:7311");
        var second = await RunAsync(environment, "--home", _original.Path, "contacts", "add", carol.Account.Text, "--name", "Carol");
        Assert.True(first.ExitCode == 0, first.Transcript);
        Assert.True(second.ExitCode == 0, second.Transcript);
    }

    private static Dictionary<string, string> Backup(string passphrase) => Environment((BackupVariable, passphrase));

    private static Dictionary<string, string> Environment(params (string Name, string Value)[] variables) =>
        variables.ToDictionary(v => v.Name, v => v.Value);

    private static string SingleErrorLine(FinishedRun run)
    {
        var lines = run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line on stderr\n{run.Transcript}");
        Assert.StartsWith("securechat: ", lines[0], StringComparison.Ordinal);
        return lines[0];
    }

    private static Task<FinishedRun> RunAsync(Dictionary<string, string> variables, params string[] args) =>
        ProgramRun.RunAsync(variables, args);
}
