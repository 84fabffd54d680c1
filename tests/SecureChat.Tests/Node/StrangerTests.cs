using System.Text.Json;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.Tests.Node;

/// <summary>
/// Who is who, tried as an attacker would against real <c>securechat run</c> processes: a stranger
/// (a <see cref="HostilePeer"/> with a key of its own) who calls itself by a contact's ID neither
/// becomes that contact nor receives what is written to it, in the API or the CLI; strangers are
/// requests that the CLI lists, accepts, declines and blocks; a blocked account is refused at the
/// handshake; and a flood of strangers is held to the request limits.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(NodeProcesses.Collection)]
public sealed class StrangerTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Send_StrangerCallsItselfByTheContactsId_TheIdStillReachesTheContactInTheApiAndTheCli()
    {
        using var aHome = new TemporaryHome();
        using var bHome = new TemporaryHome();
        var identities = await Task.WhenAll(SecureChatCli.InitAsync(aHome, "Alice"), SecureChatCli.InitAsync(bHome, "Bob"));
        var (alice, bob) = (identities[0], identities[1]);
        await NodeCli.KnowAsync(bHome, alice);
        await using var b = await RunningNode.StartAsync(bHome, "B", RunningNode.AnyPort);
        await NodeCli.AddContactAsync(aHome, bob with { Name = "bob" }, b.ListenPort);
        await using var a = await RunningNode.StartAsync(aHome, "A", RunningNode.AnyPort);
        var aPort = a.ListenPort;
        using var mallory = HostilePeer.Create(bob.Id);

        // Mallory connects to Alice calling itself Bob's ID, and says hello.
        await using (var link = await mallory.DialAsync(aPort))
        {
            await link.SendAsync(mallory.TextEnvelope(a.Id, "it is me, bob, from a new laptop", 1));
            await Eventually.UntilAsync("Mallory's request at Alice's", Deadline, () => RequestsAsync(a), r => r.Count == 1, r => $"{r.Count} requests");
        }

        // It is a request, shown with what it calls itself: not a contact, and not Bob.
        var request = Assert.Single(await RequestsAsync(a));
        Assert.Equal((mallory.Id, bob.Id), (request.GetProperty("id").GetString(), request.GetProperty("displayName").GetString()));
        using (var contacts = await a.Api.GetJsonAsync("api/contacts"))
        {
            Assert.Equal([bob.Id], contacts.RootElement.EnumerateArray().Select(c => c.GetProperty("id").GetString()));
        }

        // Even once the person accepts it (unnamed), Bob's ID means Bob: in the API...
        var accept = await ProgramRun.RunAsync((string?)null, "--home", aHome.Path, "requests", "accept", mallory.Id);
        Assert.True(accept.ExitCode == 0, accept.Transcript);
        Assert.Contains($"calls themself \"{bob.Id}\"", accept.Stdout[0], StringComparison.Ordinal);
        var list = await ProgramRun.RunAsync((string?)null, "--home", aHome.Path, "contacts", "list");
        Assert.Contains(list.Stdout, l => l.StartsWith($"(calls themself \"{bob.Id}\")  {mallory.Id}", StringComparison.Ordinal));
        Assert.Contains(list.Stdout, l => l.StartsWith($"bob  {bob.Id}", StringComparison.Ordinal));
        var viaApi = await a.Api.SendAsync(bob.Id, "API: for bob only");
        Assert.Equal(bob.Id, viaApi.ContactId);
        using (var shown = await a.Api.GetJsonAsync($"api/contacts/{bob.Id}"))
        {
            Assert.Equal(("bob", true), (shown.RootElement.GetProperty("name").GetString(), shown.RootElement.GetProperty("named").GetBoolean()));
        }

        // ... and in the CLI, in upper case too.
        var viaCli = await NodeCli.SendAsync(aHome, bob.Id.ToUpperInvariant(), "CLI: for bob only");
        Assert.True(viaCli.ExitCode == 0, viaCli.Transcript);
        await Eventually.UntilAsync(
            "both texts at Bob's",
            Deadline,
            () => b.Api.ConversationAsync(alice.Id),
            all => all.Count == 2,
            all => $"{all.Count} messages at Bob's");
        Assert.Equal(["API: for bob only", "CLI: for bob only"], (await b.Api.ConversationAsync(alice.Id)).Select(m => m.Text));
        Assert.DoesNotContain(await a.Api.ConversationAsync(mallory.Id), m => m.Direction == "out");

        // Nor can the person give a contact Bob's ID as a name.
        var rename = await ProgramRun.RunAsync((string?)null, "--home", aHome.Path, "contacts", "rename", mallory.Id, bob.Id);
        Assert.NotEqual(0, rename.ExitCode);
        Assert.Contains("looks like an account ID", rename.Stderr, StringComparison.Ordinal);
        a.Process.AssertNoStackTrace();
    }

    [Fact]
    public async Task Requests_FromTheCli_ListedAcceptedDeclinedAndBlockedAndABlockedAccountIsRefusedAtTheHandshake()
    {
        using var aHome = new TemporaryHome();
        await SecureChatCli.InitAsync(aHome, "Alice");
        await using var a = await RunningNode.StartAsync(aHome, "A", RunningNode.AnyPort);
        var aPort = a.ListenPort;
        using var carol = HostilePeer.Create("Carol");
        using var dave = HostilePeer.Create("Dave");
        using var eve = HostilePeer.Create("Eve");
        foreach (var (stranger, first) in new[] { (carol, "hello from carol"), (dave, "hello from dave"), (eve, "buy my stuff") })
        {
            await using var link = await stranger.DialAsync(aPort);
            await link.SendAsync(stranger.TextEnvelope(a.Id, first, 1));
            await Eventually.UntilAsync($"{first} held", Deadline, () => RequestsAsync(a), r => r.Any(q => q.GetProperty("id").GetString() == stranger.Id && q.GetProperty("held").GetInt32() == 1), r => $"{r.Count} requests");
        }

        var listed = await ProgramRun.RunAsync((string?)null, "--home", aHome.Path, "requests", "--json");
        Assert.True(listed.ExitCode == 0, listed.Transcript);
        using (var json = JsonDocument.Parse(string.Join('\n', listed.Stdout)))
        {
            Assert.Equal([carol.Id, dave.Id, eve.Id], json.RootElement.EnumerateArray().Select(r => r.GetProperty("id").GetString()));
            Assert.Equal("hello from carol", json.RootElement[0].GetProperty("messages")[0].GetProperty("text").GetString());
        }

        var text = await ProgramRun.RunAsync((string?)null, "--home", aHome.Path, "requests");
        Assert.Contains(text.Stdout, l => l.StartsWith(eve.Id, StringComparison.Ordinal) && l.Contains("calls themself \"Eve\"", StringComparison.Ordinal));

        Assert.Equal(0, (await ProgramRun.RunAsync((string?)null, "--home", aHome.Path, "requests", "accept", carol.Id[..10], "--name", "carol")).ExitCode);
        Assert.Equal(0, (await ProgramRun.RunAsync((string?)null, "--home", aHome.Path, "requests", "decline", dave.Id)).ExitCode);
        var block = await ProgramRun.RunAsync((string?)null, "--home", aHome.Path, "requests", "block", eve.Id);
        Assert.True(block.ExitCode == 0, block.Transcript);

        Assert.Empty(await RequestsAsync(a));
        Assert.Equal(["hello from carol"], (await a.Api.ConversationAsync("carol")).Select(m => m.Text));
        var blocked = await ProgramRun.RunAsync((string?)null, "--home", aHome.Path, "contacts", "blocked", "--json");
        using (var json = JsonDocument.Parse(string.Join('\n', blocked.Stdout)))
        {
            Assert.Equal([eve.Id], json.RootElement.EnumerateArray().Select(r => r.GetProperty("id").GetString()));
        }

        // Eve comes back: refused when her handshake ends, before a hello; nothing of hers is stored.
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => eve.DialAsync(aPort));
        Assert.Contains("does not accept connections from your account", refused.Message, StringComparison.Ordinal);
        Assert.Empty(await RequestsAsync(a));

        // Dave was only declined: he asks again, as a new request.
        await using (var again = await dave.DialAsync(aPort))
        {
            await again.SendAsync(dave.TextEnvelope(a.Id, "me again", 2));
            await Eventually.UntilAsync("Dave asking again", Deadline, () => RequestsAsync(a), r => r.Count == 1, r => $"{r.Count} requests");
        }

        Assert.Equal(dave.Id, Assert.Single(await RequestsAsync(a)).GetProperty("id").GetString());
        a.Process.AssertNoStackTrace();
    }

    /// <summary>Strangers from one address: 5 become requests within the hour, the rest are closed with a sentence and nothing is kept of them.</summary>
    [Fact]
    public async Task Requests_TenStrangersFromOneAddress_OnlyTheRateIsKeptAndAContactStillConnects()
    {
        using var aHome = new TemporaryHome();
        using var cHome = new TemporaryHome();
        var identities = await Task.WhenAll(SecureChatCli.InitAsync(aHome, "Alice"), SecureChatCli.InitAsync(cHome, "Carl"));
        await NodeCli.KnowAsync(aHome, identities[1]);
        await using var a = await RunningNode.StartAsync(aHome, "A", RunningNode.AnyPort);
        var aPort = a.ListenPort;
        var strangers = Enumerable.Range(0, 10).Select(i => HostilePeer.Create($"stranger {i}")).ToList();
        try
        {
            var turnedAway = new List<string>();
            foreach (var stranger in strangers)
            {
                try
                {
                    await using var link = await stranger.DialAsync(aPort);
                    await link.SendAsync(stranger.TextEnvelope(a.Id, "let me in", 1));
                }
                catch (InvalidOperationException ex)
                {
                    turnedAway.Add(ex.Message);
                }
            }

            await Eventually.UntilAsync("five requests", Deadline, () => RequestsAsync(a), r => r.Count == 5, r => $"{r.Count} requests");
            Assert.Equal(5, turnedAway.Count);
            Assert.All(turnedAway, m => Assert.Contains("takes no more contact requests now", m, StringComparison.Ordinal));
            Assert.Equal(strangers.Take(5).Select(s => s.Id), (await RequestsAsync(a)).Select(r => r.GetProperty("id").GetString()));

            // A contact on the same address is no stranger: it connects and delivers.
            await using var c = await RunningNode.StartAsync(cHome, "C", RunningNode.AnyPort);
            using (await c.Api.ConnectAsync($"{identities[0].Id}@{a.ListenAddress}"))
            {
            }

            await c.Api.SendAsync(identities[0].Id, "I am expected");
            await Eventually.UntilAsync("Carl's text at Alice's", Deadline, () => a.Api.ConversationAsync(identities[1].Id), m => m.Count == 1, m => $"{m.Count} messages");
            Assert.Equal(5, (await RequestsAsync(a)).Count);
            output.WriteLine($"turned away: {turnedAway[0]}");
        }
        finally
        {
            strangers.ForEach(s => s.Dispose());
        }
    }

    private static async Task<List<JsonElement>> RequestsAsync(RunningNode node)
    {
        using var json = await node.Api.GetJsonAsync("api/requests");
        return [.. json.RootElement.EnumerateArray().Select(e => e.Clone())];
    }
}
