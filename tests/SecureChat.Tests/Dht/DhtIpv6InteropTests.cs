using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging.Abstractions;
using SecureChat.Dht;
using SecureChat.Net.Dht;

namespace SecureChat.Tests.Dht;

/// <summary>
/// One IPv6 loopback swarm (BEP 32): 5 SecureChat DHT nodes and 3 libtorrent-rasterbar nodes
/// (Debian's python3-libtorrent), all on ::1, the libtorrent nodes joining through one SecureChat
/// node. Every node shares the one address ::1, so the SecureChat nodes here allow more queries
/// per source than the default (which counts per /64).
/// </summary>
public sealed class Ipv6InteropSwarm : IAsyncLifetime
{
    public List<DhtHost> SecureChat { get; } = [];

    internal List<InteropPeer> Libtorrent { get; } = [];

    public async Task InitializeAsync()
    {
        var options = new DhtOptions { QueriesPerSecondPerAddress = 1000, QueriesPerSecond = 5000 };
        for (var i = 0; i < 5; i++)
        {
            var host = DhtHost.Start(new IPEndPoint(IPAddress.IPv6Loopback, 0), options, NullLogger.Instance);
            SecureChat.Add(host);
            if (i > 0)
            {
                Assert.NotEmpty((await host.Call(n => n.Bootstrap([SecureChat[0].LocalEndPoint])).WaitAsync(TimeSpan.FromSeconds(20))).Closest);
            }
        }

        for (var i = 0; i < 3; i++)
        {
            Libtorrent.Add(InteropPeer.StartLibtorrent(IPAddress.IPv6Loopback, [SecureChat[1].LocalEndPoint]));
        }

        await Task.WhenAll(Libtorrent.Select(p => p.CallAsync(new { op = "ready" })));
        await Task.WhenAll(SecureChat.Select(h => h.Call(n => n.FindNode(n.Id)).WaitAsync(TimeSpan.FromSeconds(30))));
    }

    public async Task DisposeAsync()
    {
        foreach (var peer in Libtorrent)
        {
            await peer.DisposeAsync();
        }

        foreach (var host in SecureChat)
        {
            await host.DisposeAsync();
        }
    }
}

/// <summary>
/// SecureChat and libtorrent on the IPv6 DHT: libtorrent, told of one SecureChat node, ends with
/// others in its table (from the "nodes6" of SecureChat's answers, or from their queries); a new
/// SecureChat node told of one libtorrent node fills its IPv6 table from libtorrent's "nodes6";
/// BEP 44 items cross both ways over IPv6, put and read by the `securechat dht` command as a user
/// runs it (a dual-stack node), with its bootstrap node written [::1]:PORT.
/// </summary>
[Trait("Speed", "Slow")]
public sealed class DhtIpv6InteropTests(Ipv6InteropSwarm swarm) : IClassFixture<Ipv6InteropSwarm>
{
    [Fact]
    public async Task Libtorrent_JoinedThroughOneSecureChatNode_HasTheOthersInItsTable()
    {
        var secureChat = swarm.SecureChat.Select(h => h.LocalEndPoint.ToString()).ToHashSet();
        var table = (await swarm.Libtorrent[2].CallAsync(new { op = "nodes" }))["nodes"]!.AsArray().Select(n => n!.GetValue<string>()).ToList();

        var learned = table.Where(secureChat.Contains).Where(e => e != swarm.SecureChat[1].LocalEndPoint.ToString()).ToList();
        Assert.True(learned.Count >= 2, $"libtorrent's table: {string.Join(", ", table)}");
    }

    [Fact]
    public async Task SecureChat_JoinedThroughOneLibtorrentNode_LearnsTheOthersFromItsNodes6()
    {
        await using var late = DhtHost.Start(new IPEndPoint(IPAddress.IPv6Loopback, 0), new DhtOptions { QueriesPerSecondPerAddress = 1000 }, NullLogger.Instance);
        var through = swarm.Libtorrent[0].EndPoint;

        var joined = await late.Call(n => n.Bootstrap([through])).WaitAsync(TimeSpan.FromSeconds(30));

        var table = late.Call(n => n.Routing6.All.Select(e => e.EndPoint).ToList());
        Assert.NotEmpty(joined.Closest);
        Assert.Contains(through, table);
        Assert.True(table.Count(e => !e.Equals(through)) >= 3, $"SecureChat's IPv6 table: {string.Join(", ", table)}");
        Assert.Equal(0, late.Call(n => n.Routing.Count));
    }

    [Fact]
    public async Task MutableWithSalt_PutBySecureChatOverIpv6_FetchedByLibtorrent()
    {
        var seed = RandomNumberGenerator.GetBytes(32);
        using var home = new TemporaryHome();
        Directory.CreateDirectory(home.Path);
        var keyFile = Path.Combine(home.Path, "seed.hex");
        await File.WriteAllTextAsync(keyFile, Convert.ToHexStringLower(seed));
        var value = $"over ipv6 {Guid.NewGuid():N}";

        var put = await DhtAsync("put", "--key-file", keyFile, "--salt", "six", value);
        Assert.True(put.ExitCode == 0, put.Transcript);
        var publicKey = Assert.Single(put.Stdout);

        var got = await swarm.Libtorrent[1].CallAsync(new { op = "get_mutable", pubkey = publicKey, salt = "six" });
        Assert.Equal(value, got["value"]!.GetValue<string>());
    }

    [Fact]
    public async Task MutableWithSalt_PutByLibtorrentOverIpv6_StoredOnSecureChatNodesAndFetchedBySecureChat()
    {
        var seed = RandomNumberGenerator.GetBytes(32);
        var value = $"libtorrent over ipv6 {Guid.NewGuid():N}";

        var put = await swarm.Libtorrent[0].CallAsync(new { op = "put_mutable", seed = Convert.ToHexStringLower(seed), salt = "six", value });
        var publicKey = put["pubkey"]!.GetValue<string>();

        // SecureChat nodes took the put over IPv6: the token they handed libtorrent's IPv6 address was accepted back.
        var target = DhtItem.MutableTarget(Convert.FromHexString(publicKey), "six"u8);
        Assert.Contains(swarm.SecureChat, h => h.Call(n => n.Storage.Item(target, DateTimeOffset.UtcNow)) is not null);
        var get = await DhtAsync("get", publicKey, "--salt", "six");
        Assert.True(get.ExitCode == 0, get.Transcript);
        Assert.Equal([value], get.Stdout);
    }

    [Fact]
    public async Task Immutable_PutByLibtorrentOverIpv6_FetchedBySecureChat()
    {
        var value = $"immutable over ipv6 {Guid.NewGuid():N}";

        var put = await swarm.Libtorrent[2].CallAsync(new { op = "put_immutable", value });
        var get = await DhtAsync("get-immutable", put["target"]!.GetValue<string>());

        Assert.True(get.ExitCode == 0, get.Transcript);
        Assert.Equal([value], get.Stdout);
    }

    private Task<FinishedRun> DhtAsync(params string[] args) =>
        ProgramRun.RunAsync((string?)null, ["dht", .. args, "--bootstrap", swarm.SecureChat[3].LocalEndPoint.ToString(), "--timeout", "40"]);
}
