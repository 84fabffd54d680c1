using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using SecureChat.Dht;
using SecureChat.Net.Dht;

namespace SecureChat.Tests.Dht;

/// <summary>
/// One loopback swarm of 8 SecureChat DHT nodes, 4 libtorrent-rasterbar nodes (Debian's
/// python3-libtorrent) and 4 npm bittorrent-dht nodes, each implementation on its own 127.0.0.x
/// addresses; the third-party nodes join through SecureChat nodes.
/// </summary>
public sealed class InteropSwarm : IAsyncLifetime
{
    public List<DhtHost> SecureChat { get; } = [];

    internal List<InteropPeer> Libtorrent { get; } = [];

    internal List<InteropPeer> BittorrentDht { get; } = [];

    internal IEnumerable<InteropPeer> ThirdParty => Libtorrent.Concat(BittorrentDht);

    public async Task InitializeAsync()
    {
        for (var i = 0; i < 8; i++)
        {
            var address = IPAddress.Parse($"127.0.0.{31 + i}");
            var host = DhtHost.Start(new IPEndPoint(address, 0), new DhtOptions(), NullLogger.Instance);
            SecureChat.Add(host);
            if (i > 0)
            {
                Assert.NotEmpty((await host.Call(n => n.Bootstrap([SecureChat[0].LocalEndPoint])).WaitAsync(TimeSpan.FromSeconds(20))).Closest);
            }
        }

        var entry = SecureChat.Take(2).Select(h => h.LocalEndPoint).ToList();
        for (var i = 0; i < 4; i++)
        {
            Libtorrent.Add(InteropPeer.StartLibtorrent(IPAddress.Parse($"127.0.0.{11 + i}"), entry));
            BittorrentDht.Add(InteropPeer.StartBittorrentDht(IPAddress.Parse($"127.0.0.{21 + i}"), entry));
        }

        await Task.WhenAll(ThirdParty.Select(p => p.CallAsync(new { op = "ready" })));

        // Everyone looks itself up once more, so that the SecureChat nodes meet the others too.
        await Task.WhenAll(SecureChat.Select(h => h.Call(n => n.FindNode(n.Id)).WaitAsync(TimeSpan.FromSeconds(30))));
    }

    public async Task DisposeAsync()
    {
        foreach (var peer in ThirdParty)
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
/// Items and peers cross between SecureChat, libtorrent and bittorrent-dht in both directions:
/// BEP 44 mutable items with a salt and immutable items put by one are fetched by the others, and
/// libtorrent finds SecureChat nodes through find_node and announced peers through get_peers.
/// SecureChat's side is the `securechat dht` command, as a user would run it.
/// </summary>
[Trait("Speed", "Slow")]
public sealed class DhtInteropTests(InteropSwarm swarm) : IClassFixture<InteropSwarm>
{
    [Fact]
    public async Task MutableWithSalt_PutBySecureChat_FetchedByLibtorrentAndBittorrentDht()
    {
        using var key = new KeyFile();
        var value = $"from securechat {Guid.NewGuid():N}";
        var put = await DhtAsync("put", "--key-file", key.Path, "--salt", "interop", value);
        Assert.True(put.ExitCode == 0, put.Transcript);
        var publicKey = Assert.Single(put.Stdout);
        Assert.Equal(key.PublicKeyHex, publicKey);

        foreach (var peer in new[] { swarm.Libtorrent[1], swarm.BittorrentDht[2] })
        {
            var got = await peer.CallAsync(new { op = "get_mutable", pubkey = publicKey, salt = "interop" });
            Assert.Equal(value, Text(got, "value"));
            Assert.Equal(1, got["seq"]!.GetValue<long>());
        }

        // libtorrent writes the next version under the same key; SecureChat reads it.
        var update = await swarm.Libtorrent[0].CallAsync(new { op = "put_mutable", seed = key.SeedHex, salt = "interop", value = "updated by libtorrent" });
        Assert.Equal(2, update["seq"]!.GetValue<long>());
        var get = await DhtAsync("get", publicKey, "--salt", "interop");
        Assert.True(get.ExitCode == 0, get.Transcript);
        Assert.Equal(["updated by libtorrent"], get.Stdout);
    }

    [Fact]
    public async Task Immutable_PutBySecureChat_FetchedByLibtorrentAndBittorrentDht()
    {
        var value = $"immutable from securechat {Guid.NewGuid():N}";
        var put = await DhtAsync("put-immutable", value);
        Assert.True(put.ExitCode == 0, put.Transcript);
        var target = Assert.Single(put.Stdout);
        foreach (var peer in new[] { swarm.Libtorrent[2], swarm.BittorrentDht[0] })
        {
            var got = await peer.CallAsync(new { op = "get_immutable", target });
            Assert.Equal(value, Text(got, "value"));
        }
    }

    [Theory]
    [InlineData("libtorrent")]
    [InlineData("bittorrent-dht")]
    public async Task MutableWithSalt_PutByThirdParty_FetchedBySecureChatAndStoredOnItsNodes(string kind)
    {
        var peer = Peer(kind, 3);
        using var key = new KeyFile();
        var value = $"from {kind} {Guid.NewGuid():N}";
        var put = await peer.CallAsync(new { op = "put_mutable", seed = key.SeedHex, salt = "their salt", value });
        Assert.Equal(key.PublicKeyHex, Text(put, "pubkey"));

        var get = await DhtAsync("get", key.PublicKeyHex, "--salt", "their salt");
        Assert.True(get.ExitCode == 0, get.Transcript);
        Assert.Equal([value], get.Stdout);

        // SecureChat nodes took the third party's put: its token and signature were accepted.
        var target = DhtItem.MutableTarget(Convert.FromHexString(key.PublicKeyHex), "their salt"u8);
        Assert.Contains(swarm.SecureChat, h => h.Call(n => n.Storage.Item(target, DateTimeOffset.UtcNow)) is { } item && item.Sequence == put["seq"]!.GetValue<long>());
    }

    [Theory]
    [InlineData("libtorrent")]
    [InlineData("bittorrent-dht")]
    public async Task Immutable_PutByThirdParty_FetchedBySecureChat(string kind)
    {
        var value = $"immutable from {kind} {Guid.NewGuid():N}";
        var put = await Peer(kind, 1).CallAsync(new { op = "put_immutable", value });
        var get = await DhtAsync("get-immutable", Text(put, "target"));
        Assert.True(get.ExitCode == 0, get.Transcript);
        Assert.Equal([value], get.Stdout);
    }

    [Fact]
    public async Task Libtorrent_FindsSecureChatNodes_ThroughFindNodeAndGetPeers()
    {
        // find_node: libtorrent's routing table holds SecureChat nodes it learned by asking.
        var secureChat = swarm.SecureChat.Select(h => h.LocalEndPoint.ToString()).ToHashSet();
        var table = (await swarm.Libtorrent[3].CallAsync(new { op = "nodes" }))["nodes"]!.AsArray().Select(n => n!.GetValue<string>()).ToList();
        Assert.True(table.Count(secureChat.Contains) >= 4, $"libtorrent's table: {string.Join(", ", table)}");

        // get_peers: a peer announced through SecureChat is found by libtorrent, and the reverse.
        var infoHash = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20));
        var announce = await DhtAsync("announce", infoHash, "--peer-port", "6999");
        Assert.True(announce.ExitCode == 0, announce.Transcript);
        var peers = await swarm.Libtorrent[2].CallAsync(new { op = "get_peers", infohash = infoHash });
        Assert.Contains("127.0.0.1:6999", peers["peers"]!.AsArray().Select(p => p!.GetValue<string>()));

        var theirs = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20));
        var ltAnnounce = await swarm.Libtorrent[0].CallAsync(new { op = "announce", infohash = theirs, port = 0 });
        var found = await DhtAsync("get-peers", theirs);
        Assert.True(found.ExitCode == 0, found.Transcript);
        Assert.Contains($"{swarm.Libtorrent[0].EndPoint.Address}:{ltAnnounce["port"]!.GetValue<int>()}", found.Stdout);
    }

    private InteropPeer Peer(string kind, int index) => kind == "libtorrent" ? swarm.Libtorrent[index] : swarm.BittorrentDht[index];

    private Task<FinishedRun> DhtAsync(params string[] args) =>
        ProgramRun.RunAsync((string?)null, ["dht", .. args, "--bootstrap", swarm.SecureChat[4].LocalEndPoint.ToString(), "--timeout", "40"]);

    private static string Text(JsonObject reply, string name) => reply[name]!.GetValue<string>();

    /// <summary>A fresh Ed25519 seed in a file of 64 hex characters.</summary>
    private sealed class KeyFile : IDisposable
    {
        private readonly TemporaryHome _directory = new();

        public KeyFile()
        {
            var seed = RandomNumberGenerator.GetBytes(32);
            SeedHex = Convert.ToHexStringLower(seed);
            var publicKey = new byte[32];
            global::SecureChat.Crypto.Ed25519.DerivePublicKey(seed, publicKey);
            PublicKeyHex = Convert.ToHexStringLower(publicKey);
            Directory.CreateDirectory(_directory.Path);
            Path = System.IO.Path.Combine(_directory.Path, "seed.hex");
            File.WriteAllText(Path, SeedHex);
        }

        public string SeedHex { get; }

        public string PublicKeyHex { get; }

        public string Path { get; }

        public void Dispose() => _directory.Dispose();
    }
}
