using System.Security.Cryptography;
using SecureChat.Testing;

namespace SecureChat.Tests.Dht;

/// <summary>
/// `securechat dht …` against a loopback swarm of SecureChat DHT nodes: every verb does what it
/// says and prints what the README promises; bad arguments get a sentence and exit 2.
/// </summary>
[Trait("Speed", "Slow")]
public sealed class DhtToolboxTests : IAsyncLifetime
{
    private DhtSwarm _swarm = null!;

    public async Task InitializeAsync() => _swarm = await DhtSwarm.StartAsync(12);

    public async Task DisposeAsync() => await _swarm.DisposeAsync();

    [Fact]
    public async Task PutAndGet_MutableWithSalt_RoundTripsAndTheNextPutRaisesTheSequence()
    {
        using var dir = new TemporaryHome();
        Directory.CreateDirectory(dir.Path);
        var keyFile = Path.Combine(dir.Path, "seed.hex");
        var seed = RandomNumberGenerator.GetBytes(32);
        await File.WriteAllTextAsync(keyFile, Convert.ToHexStringLower(seed) + "\n");

        var put = await DhtAsync("put", "--key-file", keyFile, "--salt", "profile", "first value");
        Assert.True(put.ExitCode == 0, put.Transcript);
        var publicKey = Assert.Single(put.Stdout);
        Assert.Matches("^[0-9a-f]{64}$", publicKey);
        Assert.Equal(Convert.ToHexStringLower(PublicKeyOf(seed)), publicKey);

        var get = await DhtAsync("get", publicKey, "--salt", "profile");
        Assert.True(get.ExitCode == 0, get.Transcript);
        Assert.Equal(["first value"], get.Stdout);

        // The same key with raw bytes in the file; a second put replaces the value (seq + 1).
        await File.WriteAllBytesAsync(keyFile, seed);
        var second = await DhtAsync("put", "--key-file", keyFile, "--salt", "profile", "second value");
        Assert.True(second.ExitCode == 0, second.Transcript);
        Assert.Equal(["second value"], (await DhtAsync("get", publicKey, "--salt", "profile")).Stdout);

        // Another salt is another item: nothing there.
        var other = await DhtAsync("get", publicKey, "--salt", "other");
        Assert.Equal(1, other.ExitCode);
        Assert.Contains("no item signed by", other.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PutImmutable_ThenGetImmutable_ReturnsTheValueUnderItsSha1Target()
    {
        var put = await DhtAsync("put-immutable", "Hello World!");
        Assert.True(put.ExitCode == 0, put.Transcript);

        // BEP 44: the target is SHA-1 of the bencoded value, "12:Hello World!".
        Assert.Equal(["e5f96f6f38320f0f33959cb4d3d656452117aadb"], put.Stdout);
        var get = await DhtAsync("get-immutable", put.Stdout[0]);
        Assert.True(get.ExitCode == 0, get.Transcript);
        Assert.Equal(["Hello World!"], get.Stdout);
    }

    [Fact]
    public async Task AnnounceAndGetPeers_FindTheAnnouncedPort()
    {
        var infoHash = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20));
        var announce = await DhtAsync("announce", infoHash, "--peer-port", "6881");
        Assert.True(announce.ExitCode == 0, announce.Transcript);
        var peers = await DhtAsync("get-peers", infoHash);
        Assert.True(peers.ExitCode == 0, peers.Transcript);
        Assert.Contains("127.0.0.1:6881", peers.Stdout);
    }

    [Fact]
    public async Task Ping_ASwarmNode_PrintsItsId()
    {
        var host = _swarm.Hosts[3];
        var ping = await DhtAsync("ping", host.LocalEndPoint.ToString());
        Assert.True(ping.ExitCode == 0, ping.Transcript);
        Assert.StartsWith($"{host.Id} {host.LocalEndPoint} ", ping.Stdout[0], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("get", "abcd", "PUBKEY is 64 hexadecimal characters")]
    [InlineData("get-immutable", "xyz", "TARGET is 40 hexadecimal characters")]
    [InlineData("get-peers", "00", "INFOHASH is 40 hexadecimal characters")]
    public async Task Verbs_MalformedArgument_ExitTwoWithASentence(string verb, string argument, string expected)
    {
        var run = await DhtAsync(verb, argument);
        Assert.True(run.ExitCode == 2, run.Transcript);
        Assert.Contains(expected, run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Put_KeyFileOfTheWrongSize_ExitTwoWithASentence()
    {
        using var dir = new TemporaryHome();
        Directory.CreateDirectory(dir.Path);
        var keyFile = Path.Combine(dir.Path, "short.key");
        await File.WriteAllBytesAsync(keyFile, new byte[31]);
        var run = await DhtAsync("put", "--key-file", keyFile, "value");
        Assert.True(run.ExitCode == 2, run.Transcript);
        Assert.Contains("must hold an Ed25519 seed: 32 raw bytes or 64 hexadecimal characters (31 bytes found)", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_NoSwarmAnswers_ExitOneWithASentence()
    {
        // A bootstrap address where no DHT node answers.
        var silent = LoopbackPort.Unused();
        var run = await ProgramRun.RunAsync((string?)null, "dht", "get-immutable", new string('0', 40), "--bootstrap", $"127.0.0.1:{silent}", "--timeout", "10");
        Assert.True(run.ExitCode == 1, run.Transcript);
        Assert.Contains("No DHT node answered", run.Stderr, StringComparison.Ordinal);
    }

    private Task<FinishedRun> DhtAsync(params string[] args) =>
        ProgramRun.RunAsync((string?)null, ["dht", .. args, "--bootstrap", _swarm.First.ToString(), "--timeout", "20"]);

    private static byte[] PublicKeyOf(byte[] seed)
    {
        var publicKey = new byte[32];
        SecureChat.Crypto.Ed25519.DerivePublicKey(seed, publicKey);
        return publicKey;
    }
}
