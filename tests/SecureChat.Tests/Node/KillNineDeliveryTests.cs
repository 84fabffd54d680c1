using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using SecureChat.Testing;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace SecureChat.Tests.Node;

/// <summary>
/// The node's delivery promise under crashes, end to end with real processes: A's node sends 2,000
/// messages through its local API while B's node is killed with SIGKILL at random moments and
/// restarted on the same home and port, and the connections between them are cut now and then.
/// Afterwards every message is in B's history exactly once, in the order it was sent, and A shows
/// each one delivered. A knows B at B's address on a <see cref="CuttableNetwork"/>; B, which has no
/// contact for A at first, learns A's address there by dialing the port A's hello names (kept once
/// A's key answers), so whichever side redials
/// after a kill or a cut, the connection crosses the network the test cuts. The chaos schedule comes from a seeded
/// <see cref="Random"/>; the seed is printed, and <c>SECURECHAT_CHAOS_SEED=N</c> replays it.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(NodeProcesses.Collection)]
[SuppressMessage("Security", "CA5394:Do not use insecure randomness", Justification = "The chaos schedule must be reproducible from a printed seed; nothing secret is drawn from it.")]
public sealed class KillNineDeliveryTests
{
    private const string SeedVariable = "SECURECHAT_CHAOS_SEED";

    private const int MessageCount = 2000;

    /// <summary>SIGKILLs of B; the chaos ends after the last one's restart.</summary>
    private const int Kills = 8;

    /// <summary>Kills and cuts together, at most: the chaos loop is bounded even if cuts keep coming up.</summary>
    private const int MaxChaosSteps = 24;

    /// <summary>How long B runs (after it printed its lines) before the next blow, at most.</summary>
    private const int MaxUptimeMs = 2000;

    /// <summary>How long B stays dead before its restart, at most.</summary>
    private const int MaxDowntimeMs = 800;

    /// <summary>From the end of the chaos until A's outbox must be empty and every message delivered.</summary>
    private static readonly TimeSpan DeliveryDeadline = TimeSpan.FromSeconds(90);

    private static readonly TimeSpan SendingDeadline = TimeSpan.FromSeconds(120);

    private readonly ITestOutputHelper _output;

    public KillNineDeliveryTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public async Task Send_PeerKilledAndConnectionsCutWhileSending_EveryMessageArrivesOnceInOrderAndIsDelivered()
    {
        var seed = Environment.GetEnvironmentVariable(SeedVariable) is { Length: > 0 } fixedSeed
            ? int.Parse(fixedSeed, CultureInfo.InvariantCulture)
            : System.Security.Cryptography.RandomNumberGenerator.GetInt32(int.MaxValue);
        var random = new Random(seed);
        _output.WriteLine($"seed {seed} (replay with {SeedVariable}={seed})");
        var clock = Stopwatch.StartNew();

        using var aHome = new TemporaryHome();
        using var bHome = new TemporaryHome();
        var identities = await Task.WhenAll(SecureChatCli.InitAsync(aHome, "A"), SecureChatCli.InitAsync(bHome, "B"));
        // The cuttable network fronts both ports before the nodes start, and B restarts on its port.
        var aListen = LoopbackPort.Unused();
        var bListen = LoopbackPort.Unused();
        await using var network = new CuttableNetwork();
        network.Front(aListen);
        network.Front(bListen);
        await NodeCli.AddContactAsync(aHome, identities[1], CuttableNetwork.AddressOf(bListen));
        await NodeCli.KnowAsync(bHome, identities[0]);

        await using var a = await RunningNode.StartAsync(aHome, "A", aListen);
        var b = await RunningNode.StartAsync(bHome, "B #1", bListen, verbose: true);
        var deadBs = new List<RunningNode>();
        try
        {
            var sending = SendAllAsync(a.Api);

            // The chaos: the pauses are the random moments of the blows, not waits for anything.
            var kills = 0;
            var cuts = 0;
            var cutConnections = 0;
            for (var step = 0; step < MaxChaosSteps && kills < Kills; step++)
            {
                await Task.Delay(random.Next(MaxUptimeMs + 1));
                if (random.Next(3) == 0)
                {
                    cuts++;
                    cutConnections += network.CutAll();
                    continue;
                }

                await b.KillAsync();
                kills++;
                deadBs.Add(b);
                await Task.Delay(random.Next(50, MaxDowntimeMs + 1));
                b = await RunningNode.StartAsync(bHome, $"B #{kills + 1}", bListen, verbose: true);
            }

            var chaosEnded = clock.Elapsed;
            _output.WriteLine($"chaos: {kills} SIGKILLs of B, {cuts} cuts of {cutConnections} open connections ({network.Relayed} connections relayed in all), ended at {chaosEnded.TotalSeconds:F1} s");
            Assert.Equal(Kills, kills);

            var (sent, sendingTime) = await sending.WaitAsync(SendingDeadline);
            _output.WriteLine($"posted {MessageCount} messages to A's API in {sendingTime.TotalSeconds:F1} s");
            Assert.Equal(MessageCount, sent.Select(m => m.Id).Distinct().Count());
            Assert.All(sent, m => Assert.Equal(("out", "queued"), (m.Direction, m.State)));

            var outbox = await Eventually.UntilAsync(
                "A's outbox empties",
                DeliveryDeadline,
                a.Api.OutboxAsync,
                count => count == 0,
                count => $"{count} queued\n{ChildProcess.Tail(a.Process.Transcript)}\n{ChildProcess.Tail(b.Process.Transcript)}");
            var seenByA = await Eventually.UntilAsync(
                "every message shows delivered on A",
                DeliveryDeadline,
                () => a.Api.ConversationAsync("B"),
                all => all.Count == MessageCount && all.All(m => m.State is "delivered" or "read"),
                all => $"{all.Count} messages, states {string.Join(", ", all.GroupBy(m => m.State).Select(g => $"{g.Key} {g.Count()}"))}");
            var delivered = clock.Elapsed;
            _output.WriteLine($"outbox {outbox}, all {MessageCount} delivered at {delivered.TotalSeconds:F1} s ({(delivered - chaosEnded).TotalSeconds:F1} s after the chaos)");
            Assert.Equal(sent.Select(m => m.Id), seenByA.Select(m => m.Id));

            // B's side, through its API while it runs: every message once, in the order sent.
            var received = await b.Api.ConversationAsync("A");
            AssertExactlyTheSent(sent, received, identities[0].Id);

            // B was never told where A is: it tried the port A's hello names, on the network, and reached A there.
            using (var contact = await b.Api.GetJsonAsync("api/contacts/A"))
            {
                Assert.Equal(identities[0].Id, contact.RootElement.GetProperty("id").GetString());
                Assert.Contains(CuttableNetwork.AddressOf(aListen), contact.RootElement.GetProperty("endpoints").EnumerateArray().Select(e => e.GetString()));
            }

            TimeSpan stopping;
            try
            {
                stopping = await b.StopAsync(bHome);
            }
            catch (XunitException)
            {
                _output.WriteLine(ChildProcess.Tail(a.Process.Transcript));
                throw;
            }

            _output.WriteLine($"B stopped {stopping.TotalSeconds:F1} s after SIGTERM");

            // And from B's store on disk, with no node running, as `securechat history` reads it.
            AssertExactlyTheSent(sent, await NodeCli.HistoryAsync(bHome, "A"), identities[0].Id);

            a.Process.AssertNoStackTrace();
            foreach (var node in deadBs.Append(b))
            {
                node.Process.AssertNoStackTrace();
            }

            _output.WriteLine($"whole test {clock.Elapsed.TotalSeconds:F1} s");
        }
        finally
        {
            foreach (var node in deadBs.Append(b))
            {
                await node.DisposeAsync();
            }
        }
    }

    /// <summary>B's conversation with A holds exactly the sent messages, each once, in the order sent.</summary>
    private static void AssertExactlyTheSent(List<ApiMessage> sent, IReadOnlyList<ApiMessage> conversation, string senderId)
    {
        Assert.All(conversation, m => Assert.Equal(("in", senderId), (m.Direction, m.ContactId)));
        Assert.Equal(MessageCount, conversation.Count);
        Assert.Equal(Enumerable.Range(0, MessageCount).Select(Text), conversation.Select(m => m.Text));
        Assert.Equal(sent.Select(m => m.Id), conversation.Select(m => m.Id));
    }

    private static string Text(int i) => string.Create(CultureInfo.InvariantCulture, $"m{i:D4}");

    /// <summary>Posts m0000..m1999 to A's API one after another, as fast as it answers.</summary>
    private static async Task<(List<ApiMessage> Sent, TimeSpan Took)> SendAllAsync(NodeApi api)
    {
        await Task.Yield();
        var clock = Stopwatch.StartNew();
        var sent = new List<ApiMessage>(MessageCount);
        for (var i = 0; i < MessageCount; i++)
        {
            var message = await api.SendAsync("B", Text(i));
            if (message.Text != Text(i))
            {
                throw new XunitException($"POST of {Text(i)} answered {message}");
            }

            sent.Add(message);
        }

        return (sent, clock.Elapsed);
    }
}
