using SecureChat.Storage;
using static SecureChat.Tests.SecureChatCli;

namespace SecureChat.Tests.EncryptedStore;

/// <summary>One line of the fixture's chat, and which side typed it.</summary>
internal sealed record ChatTurn(bool FromListener, string Text);

/// <summary>The test classes that read the two homes of <see cref="ChattedStore"/>, one at a time.</summary>
[CollectionDefinition(ChattedStore.Collection)]
public sealed class ChattedStoreCollection : ICollectionFixture<ChattedStore>;

/// <summary>
/// Two passphrase-protected nodes with distinctive names that chatted through <c>listen</c> and
/// <c>connect</c>: 26 lines both ways, a few of them carrying chosen marker words (ASCII, accented
/// Latin, Cyrillic). Both homes are read while the two nodes still run (the WAL is live), and
/// again once both exited and each ran one search (so the sealed index snapshot exists too).
/// </summary>
public sealed class ChattedStore : IAsyncLifetime
{
    public const string Collection = "Chatted encrypted store";
    public const string ListenerPassphrase = "the listener's own long passphrase";
    public const string ConnectorPassphrase = "another passphrase for the connector";
    public const string ListenerName = "Þórhildur Vásquez";
    public const string ConnectorName = "Радомир Щукин";

    // The marker words: each appears only in the lines below that name it.
    public const string Quokka = "Zephyrquokka";
    public const string Dusk = "Crépuscularité";
    public const string Nutcracker = "Щёлкунчиковость";
    public const string Fjord = "Ångströmfjärd";

    internal TemporaryHome Listener { get; } = new();

    internal TemporaryHome Connector { get; } = new();

    internal CreatedIdentity ListenerIdentity { get; private set; } = null!;

    internal CreatedIdentity ConnectorIdentity { get; private set; } = null!;

    /// <summary>What both nodes printed: the markers in the clear, to prove the scan would see them.</summary>
    internal string ChatOutput { get; private set; } = string.Empty;

    /// <summary>Both homes, read while the listener and the connector were still connected.</summary>
    internal IReadOnlyList<HomeSnapshot> WhileRunning { get; private set; } = [];

    /// <summary>Both homes, read after both exited and each ran one search.</summary>
    internal IReadOnlyList<HomeSnapshot> AtRest { get; private set; } = [];

    /// <summary>
    /// The chat, oldest first: the connector speaks on even turns. Markers are in turns 0–3 and 24;
    /// the other lines use no word that begins like one of them.
    /// </summary>
    internal static IReadOnlyList<ChatTurn> Turns { get; } = BuildTurns();

    /// <summary>Every word no file may hold: the markers, both names and each word of them.</summary>
    internal static IReadOnlyList<string> SecretWords { get; } =
        [Quokka, Dusk, Nutcracker, Fjord, ListenerName, ConnectorName, .. ListenerName.Split(' '), .. ConnectorName.Split(' ')];

    public async Task InitializeAsync()
    {
        var identities = await Task.WhenAll(
            InitAsync(Listener, ListenerName, ListenerPassphrase),
            InitAsync(Connector, ConnectorName, ConnectorPassphrase));
        (ListenerIdentity, ConnectorIdentity) = (identities[0], identities[1]);

        var (listener, port) = await ListenAsync(Listener, "listener", passphrase: ListenerPassphrase);
        await using (listener)
        {
            await using var connector = Connect(Connector, "connector", Address(port), ConnectorPassphrase);
            await connector.WaitForMatchAsync(SafetyNumberLine(), ChatProcess.Timeout);
            await listener.WaitForMatchAsync(SafetyNumberLine(), ChatProcess.Timeout);
            foreach (var turn in Turns)
            {
                var (from, to, sender) = turn.FromListener ? (listener, connector, ListenerName) : (connector, listener, ConnectorName);
                await from.SendLineAsync(turn.Text);
                await to.WaitForLineAsync(Received(sender, turn.Text), ChatProcess.Timeout);
            }

            // Each received line is printed after it is stored, so every line is on disk in both homes.
            WhileRunning = [HomeSnapshot.Take(Listener.Path), HomeSnapshot.Take(Connector.Path)];

            // The listener ends first: at the end of its input it waits for the receipt of its
            // last line, so every line in both homes is delivered; stopping, it ends the connector's chat.
            await listener.ExpectExitAsync(0);
            await connector.ExpectExitAsync(0);
            listener.AssertNoStackTrace();
            connector.AssertNoStackTrace();
            ChatOutput = listener.Transcript + connector.Transcript;
        }

        var searches = await Task.WhenAll(
            ProgramRun.RunAsync(ListenerPassphrase, "--home", Listener.Path, "search", Quokka),
            ProgramRun.RunAsync(ConnectorPassphrase, "--home", Connector.Path, "search", Quokka));
        Assert.All(searches, s => Assert.True(s.ExitCode == 0, s.Transcript));
        AtRest = [HomeSnapshot.Take(Listener.Path), HomeSnapshot.Take(Connector.Path)];
        Assert.All(AtRest, home => Assert.NotNull(home.Find(LocalStore.SnapshotFileName)));
    }

    public Task DisposeAsync()
    {
        Listener.Dispose();
        Connector.Dispose();
        return Task.CompletedTask;
    }

    private static List<ChatTurn> BuildTurns()
    {
        var texts = new List<string>
        {
            $"a {Quokka} was seen on the pier",
            $"{Dusk} is the word for that light",
            $"{Nutcracker}, как говорится",
            $"{Quokka.ToLowerInvariant()} again, this time near {Fjord}",
        };
        for (var i = texts.Count; i < 24; i++)
        {
            texts.Add($"filler line {i:D2}, nothing to find here");
        }

        texts.Add($"{Quokka.ToUpperInvariant()} and {Quokka}: one message, two mentions");
        texts.Add("last line, without a chosen word");
        return texts.Select((text, i) => new ChatTurn(FromListener: i % 2 == 1, text)).ToList();
    }
}
