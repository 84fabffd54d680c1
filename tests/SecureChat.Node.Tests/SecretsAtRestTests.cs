using System.Text;
using SecureChat.Storage;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.Node.Tests;

/// <summary>
/// What a thief of a data directory reads after two nodes have talked: no message text, no
/// contact name or display name, no account, in the database or its write-ahead log (or any
/// other file there), while the nodes run and after they stop.
/// </summary>
public sealed class SecretsAtRestTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly string[] Texts = ["the password is xylophonequartz", "Überraschung at noon", "привет из подвала"];

    private readonly NodeHome _alice = new("Zebediah Quarrington", new TestOutputLogger(output, "alice"));
    private readonly NodeHome _bob = new("Ottoline Vexbury", new TestOutputLogger(output, "bob"));

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _alice.DisposeAsync();
        await _bob.DisposeAsync();
    }

    [Fact]
    public async Task Files_AfterConversation_HoldNoTextsNamesOrAccounts()
    {
        var bobNode = _bob.Start();
        var aliceNode = _alice.Start();
        var alice = bobNode.AddContact(_alice.Account, "Hortensia Blythe", null);
        var bob = aliceNode.AddContact(_bob.Account, "Ptolemy Marchbanks", _bob.Endpoint);
        aliceNode.Send(bob, Texts[0]);
        aliceNode.Send(bob, Texts[1]);
        await Eventually.HoldsAsync(() => _alice.Store.Outbox.Count() == 0, "alice's texts delivered");
        bobNode.Send(alice, Texts[2]);
        await Eventually.HoldsAsync(() => _bob.Store.Outbox.Count() == 0, "bob's text delivered");
        bobNode.MarkRead(alice);
        aliceNode.MarkRead(bob);
        await Eventually.HoldsAsync(
            () => _alice.History(_bob).Concat(_bob.History(_alice)).Where(m => m.Outgoing).All(m => m.State == MessageState.Read),
            "all read");
        Assert.Equal(Texts, _bob.History(_alice).Select(m => m.Text));

        string[] words = [.. Texts, "xylophonequartz", "Überraschung", "привет", "Hortensia Blythe", "Ptolemy Marchbanks", "Zebediah Quarrington", "Ottoline Vexbury", _alice.Account.Text, _bob.Account.Text];
        var secrets = words
            .SelectMany(word => new[] { Encoding.UTF8.GetBytes(word), Encoding.Unicode.GetBytes(word) })
            .Concat([_alice.Account.PublicKey.ToArray(), _bob.Account.PublicKey.ToArray()])
            .ToList();
        foreach (var home in new[] { _alice, _bob })
        {
            Assert.True(new FileInfo(Path.Combine(home.Path, LocalStore.FileName + "-wal")).Length > 0, "The write-ahead log holds the conversation until a checkpoint.");
            AssertNoFileHolds(home, secrets);
        }

        await _alice.StopAsync();
        await _bob.StopAsync();
        foreach (var home in new[] { _alice, _bob })
        {
            AssertNoFileHolds(home, secrets);
        }
    }

    private static void AssertNoFileHolds(NodeHome home, IReadOnlyList<byte[]> secrets)
    {
        var files = Directory.GetFiles(home.Path, "*", SearchOption.AllDirectories);
        Assert.Contains(files, file => Path.GetFileName(file) == LocalStore.FileName);
        Assert.Empty(DataFiles.Holding(files, secrets, ReadNonEmpty));
    }

    /// <summary>Reads a file as SQLite leaves it; the database must not be empty, or the scan proves nothing.</summary>
    private static byte[] ReadNonEmpty(string path)
    {
        var contents = DataFiles.ReadShared(path);
        Assert.True(contents.Length > 0 || !path.EndsWith(LocalStore.FileName, StringComparison.Ordinal), $"{path} is empty: the scan would prove nothing.");
        return contents;
    }
}
