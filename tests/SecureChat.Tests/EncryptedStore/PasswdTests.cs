using SecureChat.Storage;

namespace SecureChat.Tests.EncryptedStore;

/// <summary>
/// <c>securechat passwd</c> on a copy of a node that chatted: the old passphrase stops working, the
/// new one reads the same history, and only identity.json changes (the data key is re-wrapped;
/// the database is not re-encrypted).
/// </summary>
[Collection(ChattedStore.Collection)]
public sealed class PasswdTests
{
    private const string NewPassphrase = "a brand new passphrase after passwd";

    private readonly ChattedStore _store;

    public PasswdTests(ChattedStore store)
    {
        _store = store;
    }

    [Fact]
    public async Task Passwd_NewPassphrase_OldFailsNewReadsSameHistoryAndOnlyIdentityChanges()
    {
        using var copy = new TemporaryHome();
        HomeSnapshot.Take(_store.Connector.Path).WriteTo(copy.Path);
        string[] history = ["--home", copy.Path, "history", _store.ListenerIdentity.Id, "--limit", "100", "--json"];
        // The first reading marks the conversation read (received → seen); the second shows it settled.
        Assert.Equal(0, (await ProgramRun.RunAsync(ChattedStore.ConnectorPassphrase, history)).ExitCode);
        var readBefore = await ProgramRun.RunAsync(ChattedStore.ConnectorPassphrase, history);
        Assert.True(readBefore.ExitCode == 0, readBefore.Transcript);
        Assert.DoesNotContain("\"received\"", string.Join('\n', readBefore.Stdout), StringComparison.Ordinal);
        Assert.Contains(ChattedStore.Turns[^1].Text, string.Join('\n', readBefore.Stdout), StringComparison.Ordinal);
        var before = HomeSnapshot.Take(copy.Path);

        var passwd = await ProgramRun.RunAsync(
            new Dictionary<string, string>
            {
                [ChatProcess.PassphraseVariable] = ChattedStore.ConnectorPassphrase,
                [ProgramRun.NewPassphraseVariable] = NewPassphrase,
            },
            "--home", copy.Path, "passwd");

        Assert.True(passwd.ExitCode == 0, passwd.Transcript);
        Assert.Equal(["The passphrase was changed."], passwd.Stdout);
        Assert.Equal(string.Empty, passwd.Stderr);
        var after = HomeSnapshot.Take(copy.Path);
        Assert.Equal(before.Files.Select(f => (f.RelativePath, f.Mode)), after.Files.Select(f => (f.RelativePath, f.Mode)));
        Assert.Equal(before.Find(LocalStore.FileName)!.Content, after.Find(LocalStore.FileName)!.Content);
        foreach (var file in before.Files.Where(f => f.RelativePath != IdentityFile.FileName))
        {
            Assert.True(file.Content.AsSpan().SequenceEqual(after.Find(file.RelativePath)!.Content), $"passwd changed {file.RelativePath}");
        }

        Assert.NotEqual(before.Find(IdentityFile.FileName)!.Content, after.Find(IdentityFile.FileName)!.Content);

        var reads = await Task.WhenAll(ProgramRun.RunAsync(ChattedStore.ConnectorPassphrase, history), ProgramRun.RunAsync(NewPassphrase, history));
        var (withOld, withNew) = (reads[0], reads[1]);
        Assert.True(withOld.ExitCode == 3, withOld.Transcript);
        Assert.Contains("passphrase is wrong", ProgramRun.SingleErrorSentence(withOld), StringComparison.Ordinal);
        Assert.True(withNew.ExitCode == 0, withNew.Transcript);
        Assert.Equal(readBefore.Stdout, withNew.Stdout);
    }
}
