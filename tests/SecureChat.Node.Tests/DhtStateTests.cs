using System.Net;
using System.Net.Sockets;
using SecureChat.Node.Discovery;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.Node.Tests;

/// <summary>
/// dht.json: a node saves the DHT nodes it knew and after a restart rejoins through them even when
/// none of its bootstrap nodes answers; it never saves or reuses its DHT node ID (a kept ID would
/// link the user across addresses and days); a damaged file is ignored.
/// </summary>
public sealed class DhtStateTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(15);
    private readonly string _directory = Directory.CreateTempSubdirectory("securechat-dht-state-").FullName;

    private DhtSwarm _swarm = null!;

    private string StateFile => Path.Combine(_directory, "dht.json");

    public async Task InitializeAsync() => _swarm = await DhtSwarm.StartAsync(6);

    public async Task DisposeAsync()
    {
        await _swarm.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Restart_BootstrapNodesSilent_TakesANewIdAndRejoinsThroughSavedNodes()
    {
        string firstId;
        await using (var home = Home("first", [_swarm.First]))
        {
            var node = home.Start();
            await Eventually.HoldsAsync(() => node.DhtJoined, "joined the swarm", () => "not joined", Within);
            firstId = node.Dht!.Id;
        }

        // dht.json keeps the nodes, never the ID that would link this run to the next.
        var saved = File.ReadAllText(StateFile);
        Assert.Contains("nodes", saved, StringComparison.Ordinal);
        Assert.DoesNotContain(firstId, saved, StringComparison.Ordinal);
        Assert.DoesNotContain("\"id\"", saved, StringComparison.Ordinal);

        // The only bootstrap node given now is a port where no one answers.
        await using var again = Home("again", [new IPEndPoint(IPAddress.Loopback, SilentUdpPort())]);
        var restarted = again.Start();
        await Eventually.HoldsAsync(() => restarted.DhtJoined, "rejoined through the saved nodes", () => $"dht.json: {saved}", Within);
        Assert.NotEqual(firstId, restarted.Dht!.Id);
    }

    [Fact]
    public async Task Start_OldStateFileWithAnId_UsesItsNodesButNotItsId()
    {
        // A dht.json as written before node IDs stopped being kept: an "id" and the nodes.
        const string oldId = "0123456789abcdef0123456789abcdef01234567";
        await File.WriteAllTextAsync(StateFile, $"{{\"id\":\"{oldId}\",\"nodes\":[\"{_swarm.First}\"]}}");

        await using var home = Home("old", [new IPEndPoint(IPAddress.Loopback, SilentUdpPort())]);
        var node = home.Start();
        await Eventually.HoldsAsync(() => node.DhtJoined, "joined through the saved node", () => "not joined", Within);
        Assert.NotEqual(oldId, node.Dht!.Id);
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("{\"id\":\"zz\",\"nodes\":[\"nonsense\",\"1.2.3.4:0\"]}")]
    public async Task Start_DamagedStateFile_IsIgnored(string contents)
    {
        await File.WriteAllTextAsync(StateFile, contents);
        await using var home = Home("damaged", [_swarm.First]);
        var node = home.Start();
        await Eventually.HoldsAsync(() => node.DhtJoined, "joined through the bootstrap node", () => "not joined", Within);
        Assert.Matches("^[0-9a-f]{40}$", node.Dht!.Id);
    }

    private NodeHome Home(string name, IReadOnlyList<IPEndPoint> bootstrap) =>
        new(name, new TestOutputLogger(output, name), NodeHome.FastOptions with
        {
            Discovery = new DiscoveryOptions
            {
                Dht = true,
                DhtEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
                Bootstrap = bootstrap,
                Lan = false,
                DhtStateFile = StateFile,
            },
        });

    /// <summary>A UDP port that was free a moment ago: nothing answers there.</summary>
    private static int SilentUdpPort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
