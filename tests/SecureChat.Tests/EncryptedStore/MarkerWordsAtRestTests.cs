using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using SecureChat.Storage;

namespace SecureChat.Tests.EncryptedStore;

/// <summary>
/// After two nodes exchange messages containing chosen marker words, no byte sequence of those
/// words (nor the contact names) can be found anywhere in either data directory — database, WAL,
/// journal, temporary files — while <c>search</c> and <c>history</c> with the right passphrase
/// find them.
/// </summary>
[Collection(ChattedStore.Collection)]
public sealed partial class MarkerWordsAtRestTests
{
    private readonly ChattedStore _store;

    public MarkerWordsAtRestTests(ChattedStore store)
    {
        _store = store;
    }

    /// <summary>
    /// The queries, and the turns each must find, newest first: every marker as typed, and as a
    /// prefix, in upper case or without its accents (the empty result is checked on its own below).
    /// </summary>
    public static TheoryData<string, int[]> Queries => new()
    {
        { ChattedStore.Quokka, [24, 3, 0] },
        { "ZEPHYRQ", [24, 3, 0] },
        { ChattedStore.Dusk, [1] },
        { "crepuscularite", [1] },
        { ChattedStore.Nutcracker, [2] },
        { "ЩЕЛКУНЧ", [2] },
        { "щёлкунчиковость", [2] },
        { "angstromfjard", [3] },
        { "zephyrquokka ÅNGSTRÖM", [3] },
    };

    [Fact]
    public void Files_WhileBothNodesRun_HoldNoMarkerWordOrName()
    {
        AssertScanWorks();
        foreach (var home in _store.WhileRunning)
        {
            var wal = home.Find(LocalStore.FileName + "-wal");
            Assert.True(wal is { Content.Length: > 0 }, $"{home.Root} has no live WAL: [{string.Join(", ", home.Files.Select(f => f.RelativePath))}]");
        }

        var found = _store.WhileRunning.SelectMany(home => PlaintextScan.Find(home, ChattedStore.SecretWords)).ToList();

        Assert.True(found.Count == 0, "plaintext found while the nodes ran:\n" + string.Join('\n', found));
    }

    [Fact]
    public void Files_AfterBothExitAndSearched_HoldNoMarkerWordOrName()
    {
        AssertScanWorks();
        Assert.All(_store.AtRest, home => Assert.NotNull(home.Find(LocalStore.SnapshotFileName)));

        var found = _store.AtRest.SelectMany(home => PlaintextScan.Find(home, ChattedStore.SecretWords)).ToList();

        Assert.True(found.Count == 0, "plaintext found at rest:\n" + string.Join('\n', found));
    }

    [Theory]
    [MemberData(nameof(Queries))]
    public async Task SearchJson_EachSide_FindsExactlyTheMessagesWithTheMarker(string query, int[] turns)
    {
        var runs = await Task.WhenAll(
            ProgramRun.RunAsync(ChattedStore.ListenerPassphrase, "--home", _store.Listener.Path, "search", query, "--json"),
            ProgramRun.RunAsync(ChattedStore.ConnectorPassphrase, "--home", _store.Connector.Path, "search", query, "--json"));

        AssertMessages(runs[0], turns, listenerSide: true);
        AssertMessages(runs[1], turns, listenerSide: false);
    }

    [Fact]
    public async Task Search_TextOutput_OneLinePerMessageNewestFirstWithWhoSaidIt()
    {
        var run = await ProgramRun.RunAsync(ChattedStore.ListenerPassphrase, "--home", _store.Listener.Path, "search", "zephyrq");

        Assert.True(run.ExitCode == 0, run.Transcript);
        Assert.Equal(string.Empty, run.Stderr);
        var expected = new[] { 24, 3, 0 }.Select(i => ChattedStore.Turns[i])
            .Select(t => $"{ChattedStore.ConnectorName} · {(t.FromListener ? "me" : ChattedStore.ConnectorName)}: {t.Text}");
        Assert.Equal(expected, run.Stdout.Select(l => SearchLine().Match(l)).Select(m => m.Success ? m.Groups["rest"].Value : "(unexpected) " + m.Value));
    }

    [Fact]
    public async Task Search_NothingMatches_SaysSoInTextAndPrintsAnEmptyJsonArray()
    {
        var runs = await Task.WhenAll(
            ProgramRun.RunAsync(ChattedStore.ListenerPassphrase, "--home", _store.Listener.Path, "search", "zephyrquokkas"),
            ProgramRun.RunAsync(ChattedStore.ListenerPassphrase, "--home", _store.Listener.Path, "search", "zephyrquokkas", "--json"));

        Assert.True(runs[0].ExitCode == 0, runs[0].Transcript);
        Assert.Equal(["No message matches."], runs[0].Stdout);
        Assert.True(runs[1].ExitCode == 0, runs[1].Transcript);
        Assert.Equal(0, JsonArray(runs[1]).GetArrayLength());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task HistoryJson_EachSide_HoldsEveryLineInOrderWithItsDirection(bool listenerSide)
    {
        var (home, passphrase, peer) = listenerSide
            ? (_store.Listener, ChattedStore.ListenerPassphrase, _store.ConnectorIdentity)
            : (_store.Connector, ChattedStore.ConnectorPassphrase, _store.ListenerIdentity);

        var run = await ProgramRun.RunAsync(passphrase, "--home", home.Path, "history", peer.Id, "--limit", "100", "--json");

        Assert.True(run.ExitCode == 0, run.Transcript);
        var messages = JsonArray(run).EnumerateArray().ToList();
        Assert.Equal(ChattedStore.Turns.Select(t => t.Text), messages.Select(m => m.GetProperty("text").GetString()));
        Assert.Equal(ChattedStore.Turns.Select(t => Direction(t, listenerSide)), messages.Select(m => m.GetProperty("direction").GetString()));
        Assert.Equal(ChattedStore.Turns.Select(t => Direction(t, listenerSide) == "out" ? "delivered" : "received"), messages.Select(m => m.GetProperty("state").GetString()));
        Assert.All(messages, m => Assert.Equal(peer.Name, m.GetProperty("contact").GetString()));
        Assert.All(messages, m => Assert.Equal(peer.Id, m.GetProperty("contactId").GetString()));
        var ids = messages.Select(m => m.GetProperty("id").GetString()!).ToList();
        Assert.All(ids, id => Assert.Matches("^[0-9a-f]{32}$", id));
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    /// <summary>A search result: the expected turns' texts, newest first, with the direction this side saw.</summary>
    private void AssertMessages(FinishedRun run, int[] turns, bool listenerSide)
    {
        Assert.True(run.ExitCode == 0, run.Transcript);
        Assert.True(run.Stderr.Length == 0, run.Transcript);
        var peer = listenerSide ? _store.ConnectorIdentity : _store.ListenerIdentity;
        var found = JsonArray(run).EnumerateArray()
            .Select(m => (Text: m.GetProperty("text").GetString(), Direction: m.GetProperty("direction").GetString(), Contact: m.GetProperty("contact").GetString(), ContactId: m.GetProperty("contactId").GetString()))
            .ToList();
        var expected = turns.Select(i => ChattedStore.Turns[i])
            .Select(t => (Text: (string?)t.Text, Direction: (string?)Direction(t, listenerSide), Contact: (string?)peer.Name, ContactId: (string?)peer.Id))
            .ToList();
        Assert.True(expected.SequenceEqual(found), $"{(listenerSide ? "listener" : "connector")} side\n{run.Transcript}");
    }

    private static string Direction(ChatTurn turn, bool listenerSide) => turn.FromListener == listenerSide ? "out" : "in";

    /// <summary>The whole of stdout, parsed as one JSON value that must be an array.</summary>
    private static JsonElement JsonArray(FinishedRun run)
    {
        using var document = JsonDocument.Parse(string.Join('\n', run.Stdout));
        Assert.True(document.RootElement.ValueKind == JsonValueKind.Array, run.Transcript);
        return document.RootElement.Clone();
    }

    /// <summary>The scan itself finds what it looks for: the markers are in the chat's terminal output, and folding strips accents.</summary>
    private void AssertScanWorks()
    {
        Assert.Equal("crepuscularite", PlaintextScan.Fold(ChattedStore.Dusk));
        Assert.Equal("щелкунчиковость", PlaintextScan.Fold(ChattedStore.Nutcracker));
        var shown = Encoding.UTF8.GetBytes(_store.ChatOutput);
        Assert.All(ChattedStore.SecretWords, word => Assert.True(PlaintextScan.Contains(shown, word), $"the scan does not find '{word}' in the chat's output"));
    }

    [GeneratedRegex(@"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] (?<rest>.*)$")]
    private static partial Regex SearchLine();
}
