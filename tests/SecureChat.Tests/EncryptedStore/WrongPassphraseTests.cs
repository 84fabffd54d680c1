namespace SecureChat.Tests.EncryptedStore;

/// <summary>
/// A wrong passphrase: exit code non-zero, one clear sentence, data directory byte-for-byte
/// unchanged — for every verb that unlocks the store, on a home with contacts, messages and a
/// sealed search index.
/// </summary>
[Collection(ChattedStore.Collection)]
public sealed class WrongPassphraseTests
{
    private const string WrongPassphrase = "not the listener's passphrase";

    private readonly ChattedStore _store;

    public WrongPassphraseTests(ChattedStore store)
    {
        _store = store;
    }

    [Theory]
    [InlineData("history")]
    [InlineData("search")]
    [InlineData("contacts list")]
    [InlineData("passwd")]
    [InlineData("export")]
    public async Task Verb_WrongPassphrase_ExitsThreeWithOneSentenceAndChangesNoByte(string verb)
    {
        var home = _store.Listener.Path;
        var backup = Path.Combine(Path.GetDirectoryName(home)!, "wrong-passphrase.scbk");
        var variables = new Dictionary<string, string>
        {
            [ChatProcess.PassphraseVariable] = WrongPassphrase,
            [ProgramRun.NewPassphraseVariable] = "the new passphrase it must not get",
            [ProgramRun.BackupPassphraseVariable] = "a backup passphrase",
        };
        string[] args = verb switch
        {
            "history" => ["history", ChattedStore.ConnectorName],
            "search" => ["search", ChattedStore.Quokka],
            "contacts list" => ["contacts", "list", "--json"],
            "passwd" => ["passwd"],
            "export" => ["export", backup],
            _ => throw new ArgumentOutOfRangeException(nameof(verb), verb, "no such case"),
        };
        var before = HomeSnapshot.Take(home);

        var run = await ProgramRun.RunAsync(variables, ["--home", home, .. args]);

        Assert.True(run.ExitCode == 3, run.Transcript);
        var error = ProgramRun.SingleErrorSentence(run);
        Assert.Contains("passphrase is wrong", error, StringComparison.Ordinal);
        HomeSnapshot.AssertUnchanged(before, HomeSnapshot.Take(home), $"{verb} with a wrong passphrase");
        Assert.False(File.Exists(backup), "export wrote a backup without the right passphrase");
    }
}
