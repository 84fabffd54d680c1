using System.Text.Json;
using SecureChat.Testing;
using static SecureChat.Tests.SecureChatCli;

namespace SecureChat.Tests.Node;

/// <summary>
/// <c>securechat status [--json]</c> against a running node: the reachability sentence, what it
/// was classified from, and how each contact is connected, all through the node's local API.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(NodeProcesses.Collection)]
public sealed class StatusCommandTests
{
    private const string NotYetKnown = "not yet known: waiting for contacts or the DHT to say how they see this node";

    [Fact]
    public async Task Status_WithNoNodeRunning_FailsAndSaysHowToStartOne()
    {
        using var home = new TemporaryHome();
        await InitAsync(home, "Idle");

        var run = await RunAsync(null, "--home", home.Path, "status");

        Assert.Equal(1, run.ExitCode);
        Assert.Empty(run.Stdout);
        Assert.Contains($"securechat: no node runs for {home.Path}: start it with `securechat run`", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_TwoNodesConnected_ShowsTheSentenceTheObservationAndTheConnection()
    {
        using var aHome = new TemporaryHome();
        using var bHome = new TemporaryHome();
        var identities = await Task.WhenAll(InitAsync(aHome, "A"), InitAsync(bHome, "B"));
        await using var b = await RunningNode.StartAsync(bHome, "B", RunningNode.AnyPort);
        await NodeCli.KnowAsync(bHome, identities[0]);
        await using var a = await RunningNode.StartAsync(aHome, "A", RunningNode.AnyPort);
        await NodeCli.AddContactAsync(aHome, identities[1], b.ListenPort);
        await Eventually.UntilAsync(
            "B online at A", Eventually.Deadline,
            async () => (await a.Api.GetJsonAsync("api/contacts")).RootElement.Clone(),
            contacts => contacts.EnumerateArray().Any(c => c.GetProperty("online").GetBoolean()),
            contacts => contacts.ToString());

        var json = await RunAsync(null, "--home", aHome.Path, "status", "--json");

        Assert.True(json.ExitCode == 0, json.Transcript);
        using var document = JsonDocument.Parse(string.Join('\n', json.Stdout));
        var reachability = document.RootElement.GetProperty("status").GetProperty("reachability");
        Assert.Equal("unknown", reachability.GetProperty("kind").GetString());
        Assert.Equal(NotYetKnown, reachability.GetProperty("sentence").GetString());

        // A dialed B: B's hello said where A's connection came from, which is A's own end (loopback has no NAT).
        var observed = Assert.Single(reachability.GetProperty("observed").EnumerateArray());
        Assert.Equal("peer", observed.GetProperty("source").GetString());
        Assert.Equal(identities[1].Id, observed.GetProperty("witness").GetString());
        Assert.Equal("outbound", observed.GetProperty("direction").GetString());
        Assert.Equal(observed.GetProperty("local").GetString(), observed.GetProperty("observed").GetString());
        Assert.True(observed.GetProperty("portKept").GetBoolean());

        var contact = Assert.Single(document.RootElement.GetProperty("contacts").EnumerateArray());
        Assert.True(contact.GetProperty("online").GetBoolean());
        var connection = contact.GetProperty("connection");
        Assert.Equal("outbound", connection.GetProperty("direction").GetString());
        Assert.Equal("IPv4", connection.GetProperty("family").GetString());
        Assert.Equal(Address(b.ListenPort), connection.GetProperty("remote").GetString());

        // For a person: the sentence first, then the contact and how it is connected.
        var text = await RunAsync(null, "--home", aHome.Path, "status");
        Assert.True(text.ExitCode == 0, text.Transcript);
        Assert.Equal($"Reachability: {NotYetKnown}", text.Stdout[0]);
        Assert.Contains(text.Stdout, line => line.StartsWith("Listening:    127.0.0.1:", StringComparison.Ordinal));
        Assert.Contains("DHT:          off", text.Stdout);
        Assert.Contains(text.Stdout, line => line.Contains($"online, direct over IPv4, dialed by this node to {Address(b.ListenPort)} (on the local network)", StringComparison.Ordinal));

        // At B the same connection came in.
        var atB = await RunAsync(null, "--home", bHome.Path, "status");
        Assert.Contains(atB.Stdout, line => line.Contains("online, direct over IPv4, the contact dialed in from 127.0.0.1:", StringComparison.Ordinal));

        await a.StopAsync(aHome);
        await b.StopAsync(bHome);
    }
}
