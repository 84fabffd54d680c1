using System.Net;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.Tests.Node;

/// <summary>
/// One-time invite links between real <c>securechat run</c> processes (docs/protocol.md 7.6): the
/// link the CLI prints lets its holder, who adds it with the CLI, in as a contact without a
/// request, and everything the holder sends arrives; the same link added by another account
/// through the API is spent, so that account is an ordinary request.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(NodeProcesses.Collection)]
public sealed class InviteTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ContactsAdd_OneTimeLinkFromTheCli_HolderIsAContactAtOnceAndASecondHolderIsARequest()
    {
        using var aHome = new TemporaryHome();
        using var cHome = new TemporaryHome();
        using var dHome = new TemporaryHome();
        var identities = await Task.WhenAll(SecureChatCli.InitAsync(aHome, "Alice"), SecureChatCli.InitAsync(cHome, "Carol"), SecureChatCli.InitAsync(dHome, "Dave"));
        var (alice, carol, dave) = (identities[0], identities[1], identities[2]);
        await using var a = await RunningNode.StartAsync(aHome, "A", RunningNode.AnyPort);

        // Alice's CLI asks her running node for a one-time link: ID, name, address and token.
        var id = await ProgramRun.RunAsync((string?)null, "--home", aHome.Path, "id", "--invite", "--one-time");
        Assert.True(id.ExitCode == 0, id.Transcript);
        Assert.Equal(alice.Id, id.Stdout[0]);
        var link = id.Stdout[2];
        Assert.StartsWith($"securechat:{alice.Id}?name=Alice&at=127.0.0.1%3A{a.ListenPort}&t=", link, StringComparison.Ordinal);
        Assert.Contains("once, within 7 days", id.Stderr, StringComparison.Ordinal);
        output.WriteLine($"link of {link.Length} characters");

        // Carol adds it with her CLI (no node running: it is kept in her store), then starts.
        var add = await ProgramRun.RunAsync((string?)null, "--home", cHome.Path, "contacts", "add", link);
        Assert.True(add.ExitCode == 0, add.Transcript);
        Assert.Contains(add.Stdout, l => l.Contains("one-time invite", StringComparison.Ordinal));
        await using var c = await RunningNode.StartAsync(cHome, "C", RunningNode.AnyPort);
        await Eventually.UntilAsync("Carol a contact at Alice's", Deadline, () => IdsAsync(a, "api/contacts"), ids => ids.Contains(carol.Id), ids => $"contacts {string.Join(", ", ids)}");
        Assert.Empty(await IdsAsync(a, "api/requests"));

        // More texts than a request holds: she is a contact, so all arrive.
        var texts = Enumerable.Range(0, 8).Select(i => $"carol {i}").ToList();
        foreach (var text in texts)
        {
            await c.Api.SendAsync(alice.Id, text);
        }

        await Eventually.UntilAsync("Carol's texts at Alice's", Deadline, () => a.Api.ConversationAsync(carol.Id), m => m.Count == texts.Count, m => $"{m.Count} messages");
        Assert.Equal(texts, (await a.Api.ConversationAsync(carol.Id)).Select(m => m.Text));

        // Dave pastes the same link into his node's API: the token is spent, so he is a request.
        await using var d = await RunningNode.StartAsync(dHome, "D", RunningNode.AnyPort);
        var (status, body) = await d.Api.TryPostAsync("api/contacts", new { id = link });
        Assert.True(status == HttpStatusCode.Created, body);
        await Eventually.UntilAsync("Dave a request at Alice's", Deadline, () => IdsAsync(a, "api/requests"), ids => ids.Contains(dave.Id), ids => $"requests {string.Join(", ", ids)}");
        Assert.DoesNotContain(dave.Id, await IdsAsync(a, "api/contacts"));

        // A fresh one-time link from the API carries a new token, with its expiry.
        using var fresh = await a.Api.GetJsonAsync("api/invite?withAddress=true&oneTime=true&qr=true");
        var freshLink = fresh.RootElement.GetProperty("link").GetString()!;
        Assert.NotEqual(link, freshLink);
        Assert.Contains("&t=", freshLink, StringComparison.Ordinal);
        Assert.True(fresh.RootElement.GetProperty("oneTime").GetBoolean());
        Assert.StartsWith("data:image/png;base64,", fresh.RootElement.GetProperty("qr").GetString(), StringComparison.Ordinal);
        a.Process.AssertNoStackTrace();
    }

    private static async Task<List<string>> IdsAsync(RunningNode node, string path)
    {
        using var json = await node.Api.GetJsonAsync(path);
        return [.. json.RootElement.EnumerateArray().Select(e => e.GetProperty("id").GetString()!)];
    }
}
