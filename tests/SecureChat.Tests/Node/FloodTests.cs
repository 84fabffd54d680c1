using System.Diagnostics;
using System.Globalization;
using System.Net;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.Tests.Node;

/// <summary>
/// A node under a flood, end to end with real processes: 1,000 junk, silent and half-sent
/// connections from 1,000 loopback addresses (or from A's own address) are held open against B's
/// port, and meanwhile A connects to B and delivers a message within 2 s. B's memory stays within a
/// fixed bound, its handshakes in progress within the listener's caps, and when the flood goes B
/// holds nothing of it.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(NodeProcesses.Collection)]
public sealed class FloodTests
{
    private const int FloodSize = 1000;

    /// <summary>The listener's default cap on handshakes in progress (ChannelOptions.MaxPendingHandshakes).</summary>
    private const int MaxPendingHandshakes = 128;

    /// <summary>The listener's default cap on handshakes in progress from one address (ChannelOptions.MaxPendingHandshakesPerAddress).</summary>
    private const int MaxPendingHandshakesPerAddress = 16;

    /// <summary>What B may grow by while the flood is held: 128 pending handshakes and the flood's refused sockets come to far less.</summary>
    private const long MaxGrowthBytes = 64L << 20;

    private static readonly TimeSpan DeliveryLimit = TimeSpan.FromSeconds(2);

    private readonly ITestOutputHelper _output;

    public FloodTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public async Task Run_FloodOfAThousandJunkConnections_AContactStillConnectsAndDeliversWithinTwoSeconds()
    {
        using var aHome = new TemporaryHome();
        using var bHome = new TemporaryHome();
        using var cHome = new TemporaryHome();
        var identities = await Task.WhenAll(SecureChatCli.InitAsync(aHome, "A"), SecureChatCli.InitAsync(bHome, "B"), SecureChatCli.InitAsync(cHome, "C"));
        await using var a = await RunningNode.StartAsync(aHome, "A", RunningNode.AnyPort);
        await using var b = await RunningNode.StartAsync(bHome, "B", RunningNode.AnyPort);
        await using var c = await RunningNode.StartAsync(cHome, "C", RunningNode.AnyPort);

        // Both sides have connected and talked before (to C), as a node under attack has been
        // running: what is timed below is the flood's toll, not the first run of the code.
        await ConnectAndDeliverAsync(c, b, identities[2].Id, identities[1].Id, "warming B");
        await ConnectAndDeliverAsync(a, c, identities[0].Id, identities[2].Id, "warming A");
        var before = ResidentBytes(b.Process.ProcessId);

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var target = new IPEndPoint(IPAddress.Loopback, b.ListenPort);
        var flooding = Stopwatch.StartNew();
        using var flood = await LoopbackFlood.OpenAsync(target, FloodSize, i => new IPAddress([127, 3, (byte)(i / 250), (byte)(2 + (i % 250))]), "SCHAT"u8.ToArray(), deadline.Token);
        _output.WriteLine($"flood: {flood.Connected} connections held, {flood.Refused} refused at once, in {flooding.Elapsed.TotalSeconds:F1} s");

        // A contact connects through the flood (the Connect panel's call) and its message arrives.
        var (connected, delivered) = await ConnectAndDeliverAsync(a, b, identities[0].Id, identities[1].Id, "through the flood");
        Assert.True(delivered <= DeliveryLimit, $"A connected in {connected.TotalMilliseconds:F0} ms and delivered after {delivered.TotalMilliseconds:F0} ms under the flood; the limit is {DeliveryLimit.TotalSeconds} s.");

        // B's memory and its handshakes in progress stay bounded while the flood is still held.
        var during = ResidentBytes(b.Process.ProcessId);
        using (var status = await b.Api.GetJsonAsync("api/status"))
        {
            var inbound = status.RootElement.GetProperty("inbound");
            _output.WriteLine($"B inbound: {inbound}; resident {before >> 20} MiB before, {during >> 20} MiB under the flood");
            Assert.InRange(inbound.GetProperty("pending").GetInt32(), 0, MaxPendingHandshakes);
            Assert.True(inbound.GetProperty("evicted").GetInt64() > 0, "The flood outnumbered the handshake slots, yet none was cut.");
        }

        Assert.True(during - before <= MaxGrowthBytes, $"B grew by {(during - before) >> 20} MiB under the flood (limit {MaxGrowthBytes >> 20} MiB).");

        // Once the flood lets go, B holds none of it: at most the connections of A and C stay open.
        flood.Dispose();
        await Eventually.UntilAsync(
            "B to let go of the flood",
            TimeSpan.FromSeconds(20),
            async () =>
            {
                using var status = await b.Api.GetJsonAsync("api/status");
                var inbound = status.RootElement.GetProperty("inbound");
                return (Pending: inbound.GetProperty("pending").GetInt32(), Open: inbound.GetProperty("open").GetInt32());
            },
            counts => counts is (0, >= 0 and <= 2),
            counts => $"pending {counts.Pending}, open {counts.Open}");
        b.Process.AssertNoStackTrace();
    }

    [Fact]
    public async Task Run_ThousandJunkConnectionsFromTheContactsOwnAddress_TheContactStillConnectsAndDeliversWithinTwoSeconds()
    {
        using var aHome = new TemporaryHome();
        using var bHome = new TemporaryHome();
        using var cHome = new TemporaryHome();
        var identities = await Task.WhenAll(SecureChatCli.InitAsync(aHome, "A"), SecureChatCli.InitAsync(bHome, "B"), SecureChatCli.InitAsync(cHome, "C"));
        await using var a = await RunningNode.StartAsync(aHome, "A", RunningNode.AnyPort);
        await using var b = await RunningNode.StartAsync(bHome, "B", RunningNode.AnyPort);
        await using var c = await RunningNode.StartAsync(cHome, "C", RunningNode.AnyPort);
        await ConnectAndDeliverAsync(c, b, identities[2].Id, identities[1].Id, "warming B");
        await ConnectAndDeliverAsync(a, c, identities[0].Id, identities[2].Id, "warming A");

        // A dials from 127.0.0.1, and so does the flood: strangers behind the contact's own NAT,
        // half of them silent, half sending random bytes.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var flooding = Stopwatch.StartNew();
        using var flood = await LoopbackFlood.OpenSilentOrJunkAsync(new IPEndPoint(IPAddress.Loopback, b.ListenPort), FloodSize, _ => IPAddress.Loopback, deadline.Token);
        _output.WriteLine($"flood: {flood.Connected} connections held, {flood.Refused} refused at once, in {flooding.Elapsed.TotalSeconds:F1} s");

        var (connected, delivered) = await ConnectAndDeliverAsync(a, b, identities[0].Id, identities[1].Id, "through the flood from my own address");
        Assert.True(delivered <= DeliveryLimit, $"A connected in {connected.TotalMilliseconds:F0} ms and delivered after {delivered.TotalMilliseconds:F0} ms under the flood; the limit is {DeliveryLimit.TotalSeconds} s.");

        // The address's handshakes stayed within its share, the flood cut its own, and no one was refused.
        using (var status = await b.Api.GetJsonAsync("api/status"))
        {
            var inbound = status.RootElement.GetProperty("inbound");
            _output.WriteLine($"B inbound: {inbound}");
            Assert.InRange(inbound.GetProperty("pending").GetInt32(), 0, MaxPendingHandshakesPerAddress);
            Assert.Equal(0, inbound.GetProperty("refused").GetInt64());
            Assert.True(inbound.GetProperty("evicted").GetInt64() > 0, "The flood outnumbered its address's handshake slots, yet none was cut.");
        }

        b.Process.AssertNoStackTrace();
    }

    /// <summary>
    /// <paramref name="from"/> connects to <paramref name="to"/> (POST /api/connect) and sends
    /// <paramref name="text"/>; returns how long the connection and the arrival at the other end took.
    /// </summary>
    private async Task<(TimeSpan Connected, TimeSpan Delivered)> ConnectAndDeliverAsync(RunningNode from, RunningNode to, string fromId, string toId, string text)
    {
        await to.Api.KnowAsync(fromId);
        var clock = Stopwatch.StartNew();
        using (await from.Api.ConnectAsync($"{toId}@{to.ListenAddress}"))
        {
        }

        var connected = clock.Elapsed;
        var sent = await from.Api.SendAsync(toId, text);
        var arrived = await Eventually.UntilAsync(
            $"{text}: the message to arrive",
            TimeSpan.FromSeconds(20),
            () => to.Api.ConversationAsync(fromId),
            messages => messages.Any(m => m.Id == sent.Id),
            messages => $"{messages.Count} messages there");
        var delivered = clock.Elapsed;
        _output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{text}: connected in {connected.TotalMilliseconds:F0} ms, arrived after {delivered.TotalMilliseconds:F0} ms"));
        Assert.Equal(text, Assert.Single(arrived).Text);
        return (connected, delivered);
    }

    /// <summary>The process's resident set size, from /proc.</summary>
    private static long ResidentBytes(int processId)
    {
        var line = File.ReadLines($"/proc/{processId}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }
}
