using System.Text.Json;
using SecureChat.Protocol.Identity;
using static SecureChat.Tests.SecureChatCli;

namespace SecureChat.Tests.EncryptedStore;

/// <summary>
/// Contacts through the CLI: added by ID with a name and an endpoint, listed, met in a chat,
/// renamed, verified, removed with their conversation; unknown names and malformed IDs, endpoints
/// and names exit 2 with one sentence and change nothing. Unattended homes: no Argon2id to wait for.
/// </summary>
[Trait("Speed", "Slow")]
public sealed class ContactLifecycleTests : IClassFixture<ContactLifecycleTests.OwnerHome>
{
    private const string Name = "Ingrid Bergström";
    private const string NewName = "Ingrid B.";

    /// <summary>A valid ID of nobody in particular, for the cases where another argument is the malformed one.</summary>
    private static readonly string SomeId = NewAccountId();

    private readonly OwnerHome _owner;

    public ContactLifecycleTests(OwnerHome owner)
    {
        _owner = owner;
    }

    public static TheoryData<string, string[]> MalformedAdds => new()
    {
        { "a word", ["hello"] },
        { "an ID one character short", [SomeId[..^1]] },
        { "an ID one character long", [SomeId + "y"] },
        { "an ID with a character outside z-base-32", ["0" + SomeId[1..]] },
        { "an ID whose padding bits are set", [SomeId[..^1] + "b"] },
        { "an endpoint without a port", [SomeId, "--endpoint", "192.0.2.7"] },
        { "an endpoint with port 0", [SomeId, "--endpoint", "192.0.2.7:0"] },
        { "an endpoint with port 65536", [SomeId, "--endpoint", "192.0.2.7:65536"] },
        { "an IPv6 endpoint without brackets", [SomeId, "--endpoint", "::1:7311"] },
        { "an endpoint with a space in the host", [SomeId, "--endpoint", "bad host:7311"] },
        { "an empty name", [SomeId, "--name", ""] },
        { "a blank name", [SomeId, "--name", "   "] },
        { "a name of 65 bytes", [SomeId, "--name", new string('n', 65)] },
        { "a name with a right-to-left override", [SomeId, "--name", "Eve\u202Egnp.exe"] },
        { "a name with a zero-width space", [SomeId, "--name", "Eve\u200B"] },
        { "a name with a control character", [SomeId, "--name", "Eve\u0007"] },
    };

    [Fact]
    public async Task Contacts_AddedByIdThenMet_ListRenameVerifyAndRemoveWithTheConversation()
    {
        using var myHome = new TemporaryHome();
        using var peerHome = new TemporaryHome();
        var identities = await Task.WhenAll(InitAsync(myHome, "Maren Østergaard"), InitAsync(peerHome, "Peer Node"));
        var (me, peer) = (identities[0], identities[1]);
        var (listener, port) = await ListenAsync(peerHome, "peer listener");
        await using var _ = listener;
        var endpoint = Address(port);

        var add = await Run(myHome, "contacts", "add", peer.Id, "--name", Name, "--endpoint", endpoint);

        Assert.True(add.ExitCode == 0, add.Transcript);
        Assert.Equal($"Added '{Name}' ({peer.Id}), fingerprint {peer.Fingerprint}.", add.Stdout[0]);
        var safetyNumber = Assert.Single(add.Stdout.Skip(1), l => l.StartsWith("Safety number: ", StringComparison.Ordinal))["Safety number: ".Length..];
        var text = await Run(myHome, "contacts", "list");
        Assert.True(text.ExitCode == 0, text.Transcript);
        Assert.Equal([$"{Name}  {peer.Id}  {peer.Fingerprint}  not verified, never met, at {endpoint}"], text.Stdout);
        var added = Assert.Single(await ListJsonAsync(myHome));
        Assert.Equal(Name, added.GetProperty("name").GetString());
        Assert.Equal(peer.Id, added.GetProperty("id").GetString());
        Assert.Equal(peer.Fingerprint, added.GetProperty("fingerprint").GetString());
        Assert.False(added.GetProperty("verified").GetBoolean());
        Assert.False(added.GetProperty("met").GetBoolean());
        Assert.Equal([endpoint], added.GetProperty("endpoints").EnumerateArray().Select(e => e.GetString()));

        // Dialing the endpoint meets the contact under the name given, not as a new one.
        await using (var connector = Connect(myHome, "me", endpoint))
        {
            await connector.WaitForLineAsync(l => l.StartsWith($"* connected: {Name} ({peer.Fingerprint}) at {endpoint}", StringComparison.Ordinal), ChatProcess.Timeout);
            await listener.WaitForLineAsync(Connected(me, "from "), ChatProcess.Timeout);
            await connector.SendLineAsync("hello Ingrid");
            await listener.WaitForLineAsync(Received(me.Name, "hello Ingrid"), ChatProcess.Timeout);
            await listener.SendLineAsync("hej Maren");
            await connector.WaitForLineAsync(Received(Name, "hej Maren"), ChatProcess.Timeout);
            await connector.SendLineAsync("bye");
            await listener.WaitForLineAsync(Received(me.Name, "bye"), ChatProcess.Timeout);
            await connector.ExpectExitAsync(0);
            Assert.DoesNotContain(connector.Stdout, l => SafetyNumberLine().IsMatch(l));
        }

        var rename = await Run(myHome, "contacts", "rename", Name, NewName);
        Assert.True(rename.ExitCode == 0, rename.Transcript);
        Assert.Equal([$"Renamed '{Name}' to '{NewName}'."], rename.Stdout);
        var verify = await Run(myHome, "contacts", "verify", NewName.ToUpperInvariant(), "--yes");
        Assert.True(verify.ExitCode == 0, verify.Transcript);
        Assert.Contains($"  {safetyNumber}", verify.Stdout);
        Assert.Equal($"'{NewName}' is marked as verified.", verify.Stdout[^1]);
        var met = Assert.Single(await ListJsonAsync(myHome));
        Assert.Equal(NewName, met.GetProperty("name").GetString());
        Assert.Equal(peer.Id, met.GetProperty("id").GetString());
        Assert.True(met.GetProperty("verified").GetBoolean());
        Assert.Equal(JsonValueKind.String, met.GetProperty("verifiedAt").ValueKind);
        Assert.True(met.GetProperty("met").GetBoolean());
        Assert.Equal(3, met.GetProperty("messages").GetInt32());
        var oldName = await Run(myHome, "history", Name);
        Assert.True(oldName.ExitCode == 2, oldName.Transcript);
        Assert.Contains($"No contact is called '{Name}'", ProgramRun.SingleErrorSentence(oldName), StringComparison.Ordinal);

        var remove = await Run(myHome, "contacts", "remove", NewName);

        Assert.True(remove.ExitCode == 0, remove.Transcript);
        Assert.Equal([$"Removed '{NewName}' and 3 messages of your conversation."], remove.Stdout);
        var gone = await Run(myHome, "history", NewName);
        Assert.True(gone.ExitCode == 2, gone.Transcript);
        Assert.Contains($"No contact is called '{NewName}'", ProgramRun.SingleErrorSentence(gone), StringComparison.Ordinal);
        Assert.Empty(await ListJsonAsync(myHome));
        await listener.ExpectExitAsync(0);
    }

    [Theory]
    [InlineData("contacts", "rename", "Nobody", "Somebody")]
    [InlineData("contacts", "remove", "Nobody")]
    [InlineData("contacts", "verify", "Nobody", "--yes")]
    [InlineData("history", "Nobody")]
    [InlineData("search", "word", "--contact", "Nobody")]
    public async Task Verb_UnknownContactName_ExitsTwoWithASentenceAndChangesNothing(params string[] args)
    {
        var before = HomeSnapshot.Take(_owner.Home.Path);

        var run = await Run(_owner.Home, args);

        Assert.True(run.ExitCode == 2, run.Transcript);
        Assert.Contains("No contact is called 'Nobody'", ProgramRun.SingleErrorSentence(run), StringComparison.Ordinal);
        HomeSnapshot.AssertUnchanged(before, HomeSnapshot.Take(_owner.Home.Path), string.Join(' ', args));
    }

    [Theory]
    [MemberData(nameof(MalformedAdds))]
    public async Task ContactsAdd_MalformedArgument_ExitsTwoWithASentenceAndChangesNothing(string what, string[] args)
    {
        var before = HomeSnapshot.Take(_owner.Home.Path);

        var run = await Run(_owner.Home, ["contacts", "add", .. args]);

        Assert.True(run.ExitCode == 2, $"{what}\n{run.Transcript}");
        ProgramRun.SingleErrorSentence(run);
        HomeSnapshot.AssertUnchanged(before, HomeSnapshot.Take(_owner.Home.Path), $"contacts add with {what}");
    }

    [Fact]
    public async Task ContactsAdd_OwnIdOrAnExistingContact_ExitsTwoWithASentenceAndChangesNothing()
    {
        var before = HomeSnapshot.Take(_owner.Home.Path);

        var own = await Run(_owner.Home, "contacts", "add", _owner.Identity.Id, "--name", "Myself");
        var again = await Run(_owner.Home, "contacts", "add", _owner.FriendId, "--name", "Twice");

        Assert.True(own.ExitCode == 2, own.Transcript);
        Assert.Contains("own ID", ProgramRun.SingleErrorSentence(own), StringComparison.Ordinal);
        Assert.True(again.ExitCode == 2, again.Transcript);
        Assert.Contains($"named '{OwnerHome.FriendName}'", ProgramRun.SingleErrorSentence(again), StringComparison.Ordinal);
        HomeSnapshot.AssertUnchanged(before, HomeSnapshot.Take(_owner.Home.Path), "refused contacts add");
    }

    /// <summary>
    /// Every name the program accepts must name the contact afterwards: a name with spaces around
    /// it is either refused, or stored so that the name `contacts list` shows resolves.
    /// </summary>
    [Fact]
    public async Task ContactsAdd_NameWithSurroundingSpaces_IsRefusedOrResolvesAsListed()
    {
        using var home = new TemporaryHome();
        await InitAsync(home, "Owner");

        var add = await Run(home, "contacts", "add", SomeId, "--name", " Spacey ");

        if (add.ExitCode == 2)
        {
            ProgramRun.SingleErrorSentence(add);
            return;
        }

        Assert.True(add.ExitCode == 0, add.Transcript);
        var listed = Assert.Single(await ListJsonAsync(home)).GetProperty("name").GetString()!;
        var history = await Run(home, "history", listed);
        Assert.True(history.ExitCode == 0, $"the contact is listed as '{listed}' but that name does not resolve\n{history.Transcript}");
    }

    private static Task<FinishedRun> Run(TemporaryHome home, params string[] args) => ProgramRun.RunAsync((string?)null, ["--home", home.Path, .. args]);

    private static async Task<List<JsonElement>> ListJsonAsync(TemporaryHome home)
    {
        var run = await Run(home, "contacts", "list", "--json");
        Assert.True(run.ExitCode == 0, run.Transcript);
        using var document = JsonDocument.Parse(string.Join('\n', run.Stdout));
        Assert.True(document.RootElement.ValueKind == JsonValueKind.Array, run.Transcript);
        return document.RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
    }

    private static string NewAccountId()
    {
        using var identity = LocalIdentity.Create("nobody", DateTimeOffset.UtcNow);
        return identity.Account.Text;
    }

    /// <summary>An unattended home with one contact, which the error cases must leave as it is.</summary>
    public sealed class OwnerHome : IAsyncLifetime
    {
        public const string FriendName = "Existing Friend";

        internal TemporaryHome Home { get; } = new();

        internal CreatedIdentity Identity { get; private set; } = null!;

        internal string FriendId { get; } = NewAccountId();

        public async Task InitializeAsync()
        {
            Identity = await InitAsync(Home, "Owner");
            var add = await ProgramRun.RunAsync((string?)null, "--home", Home.Path, "contacts", "add", FriendId, "--name", FriendName);
            Assert.True(add.ExitCode == 0, add.Transcript);
        }

        public Task DisposeAsync()
        {
            Home.Dispose();
            return Task.CompletedTask;
        }
    }
}
