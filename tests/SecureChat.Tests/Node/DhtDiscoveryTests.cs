using SecureChat.Testing;
using static SecureChat.Tests.SecureChatCli;

namespace SecureChat.Tests.Node;

/// <summary>
/// Two `securechat run` nodes that know each other only by ID find each other through a loopback
/// swarm of DHT nodes (their private rendezvous records), exchange messages, and find each other
/// again after one of them moves to another port.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(NodeProcesses.Collection)]
public sealed class DhtDiscoveryTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Run_ContactsKnownOnlyById_FindEachOtherThroughTheDhtAndAgainAfterAMove()
    {
        await using var swarm = await DhtSwarm.StartAsync(20);
        using var aHome = new TemporaryHome();
        using var bHome = new TemporaryHome();
        var identities = await Task.WhenAll(InitAsync(aHome, "A"), InitAsync(bHome, "B"));
        await AddByIdAsync(aHome, identities[1]);
        await AddByIdAsync(bHome, identities[0]);
        string[] discovery = ["--bootstrap", swarm.First.ToString(), "--dht-port", "0", "--no-lan"];

        await using var a = await RunningNode.StartAsync(aHome, "A", RunningNode.AnyPort, verbose: true, discovery: discovery);
        var b = await RunningNode.StartAsync(bHome, "B", RunningNode.AnyPort, verbose: true, discovery: discovery);
        try
        {
            var first = await a.Api.SendAsync("B", "found you by ID");
            await Eventually.UntilAsync("A's message reaches B", Deadline, () => b.Api.ConversationAsync("A"), all => all.Any(m => m.Id == first.Id), _ => $"{a.Process.Transcript}\n{b.Process.Transcript}");
            using (var status = await a.Api.GetJsonAsync("api/status"))
            {
                var dht = status.RootElement.GetProperty("dht");
                Assert.True(dht.GetProperty("nodes").GetInt32() > 0, status.RootElement.ToString());
                Assert.False(dht.GetProperty("discoverable").GetBoolean());
                Assert.False(status.RootElement.GetProperty("lan").GetBoolean());
            }

            var reply = await b.Api.SendAsync("A", "and you too");
            await Eventually.UntilAsync("B's reply reaches A", Deadline, () => a.Api.ConversationAsync("B"), all => all.Any(m => m.Id == reply.Id), _ => a.Process.Transcript);

            // B moves to another port; A was never told either address.
            await b.StopAsync(bHome);
            await b.DisposeAsync();
            b = await RunningNode.StartAsync(bHome, "B moved", RunningNode.AnyPort, verbose: true, discovery: discovery);
            var after = await a.Api.SendAsync("B", "still there after the move?");
            await Eventually.UntilAsync("A's message reaches B at its new port", Deadline, () => b.Api.ConversationAsync("A"), all => all.Any(m => m.Id == after.Id), _ => $"{a.Process.Transcript}\n{b.Process.Transcript}");
            var texts = (await b.Api.ConversationAsync("A")).Select(m => m.Text).ToList();
            Assert.Equal(["found you by ID", "and you too", "still there after the move?"], texts);
        }
        finally
        {
            await b.DisposeAsync();
        }

        a.Process.AssertNoStackTrace();
    }

    private static async Task AddByIdAsync(TemporaryHome home, CreatedIdentity contact)
    {
        var run = await ProgramRun.RunAsync((string?)null, "--home", home.Path, "contacts", "add", contact.Id, "--name", contact.Name);
        Assert.True(run.ExitCode == 0, run.Transcript);
        Assert.Contains("No address given: a running node (`securechat run`) finds the contact through the DHT or on the local network", run.Stderr, StringComparison.Ordinal);
    }
}
