using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.NetSim.Tests;

/// <summary>
/// The baseline of issue 17: real <c>securechat run</c> nodes on hosts of the simulated internet,
/// each pair added to each other by ID only, find each other through DHT bootstrap nodes (three
/// SecureChat nodes on the public segment) and send one message each way. The test prints the
/// matrix (pair, each direction delivered or not, after how long, and the addresses each side
/// keeps for the other) and asserts what holds today and must keep holding: two public hosts
/// connect, as does a NATed host with a public one. It also asserts, as the baseline that issue
/// 17 is to flip, that the pairs it is about do not reach each other yet: two hosts behind
/// endpoint-independent NATs (one of whose routers could map a port), and an IPv6-only host.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(SimulatedInternetCollection.Name)]
public sealed class BaselineMatrixTests(ITestOutputHelper output)
{
    /// <summary>
    /// How long a message may take to arrive before its direction counts as not connected. A NATed
    /// node dialing a public one takes 25 to 30 s today; the rest is room for a loaded machine.
    /// </summary>
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    private const int DhtPort = 6881;

    /// <summary>What a pair does before issue 17.</summary>
    private enum Today
    {
        /// <summary>Connects, and must keep connecting.</summary>
        Connects,

        /// <summary>Does not connect: issue 17 is to change that, and this test's expectation with it.</summary>
        NotYet,
    }

    /// <summary>One pair of the matrix: where each runs, and what it does today.</summary>
    private sealed record Pair(string Label, Func<Hosts, SimHost> A, Func<Hosts, SimHost> B, Today Today);

    private sealed record Hosts(SimHost Public1, SimHost Public2, SimHome Eim1, SimHome Eim2, SimHome Symmetric, SimHome Upnp, SimHome Ipv6, SimHome Dual);

    /// <summary>One row of the matrix, as measured.</summary>
    private sealed record Row(string Label, TimeSpan? AToB, TimeSpan? BToA, string AKeepsForB, string BKeepsForA)
    {
        public bool Connected => AToB is not null && BToA is not null;
    }

    private static readonly Pair[] Pairs =
    [
        new("public-public", h => h.Public1, h => h.Public2, Today.Connects),
        new("EIM-public", h => h.Eim1.Host, h => h.Public1, Today.Connects),
        new("public-EIM", h => h.Public1, h => h.Eim1.Host, Today.Connects),
        new("symmetric-public", h => h.Symmetric.Host, h => h.Public1, Today.Connects),
        new("UPnP-public", h => h.Upnp.Host, h => h.Public2, Today.Connects),
        new("dual-stack-public", h => h.Dual.Host, h => h.Public2, Today.Connects),
        new("EIM-EIM", h => h.Eim1.Host, h => h.Eim2.Host, Today.NotYet),
        new("UPnP-EIM", h => h.Upnp.Host, h => h.Eim2.Host, Today.NotYet),
        new("IPv6-public", h => h.Ipv6.Host, h => h.Public2, Today.NotYet),
    ];

    [Fact]
    public async Task Run_PairsAddedByIdOnly_PublicSidesConnectAndIssue17sPairsDoNotYet()
    {
        using var net = SimulatedInternet.Create();
        var hosts = new Hosts(
            net.AddPublicHost("pub1"),
            net.AddPublicHost("pub2"),
            net.AddHome("eim1", HomeKind.EimNat),
            net.AddHome("eim2", HomeKind.EimNat),
            net.AddHome("sym1", HomeKind.SymmetricNat),
            net.AddHome("upnp1", HomeKind.UpnpRouter),
            net.AddHome("v6h1", HomeKind.Ipv6Firewall),
            net.AddHome("dual1", HomeKind.DualStack));
        var bootHosts = new[] { net.AddPublicHost("boot1"), net.AddPublicHost("boot2"), net.AddPublicHost("boot3") };
        var bootstrap = bootHosts.Select(h => new IPEndPoint(h.V4, DhtPort)).ToList();
        var boots = new List<SimNode>();
        var rows = new List<Row>();
        try
        {
            // The bootstrap nodes join through each other: BEP 42's observed address needs two voters at two addresses.
            for (var i = 0; i < bootHosts.Length; i++)
            {
                var boot = await SimNode.CreateAsync(bootHosts[i], $"boot{i + 1}");
                boots.Add(boot);
                await boot.StartAsync(7000, DhtPort, bootstrap.Where((_, j) => j != i));
            }

            // Each pair on fresh homes and ports of its own (two nodes of different pairs may share a
            // host). The pairs that connect run one after another, so that each time is its own; the
            // pairs that do not yet can only wait out the deadline, and wait it out together.
            var measured = new Row[Pairs.Length];
            for (var p = 0; p < Pairs.Length; p++)
            {
                if (Pairs[p].Today == Today.Connects)
                {
                    measured[p] = await MeasureAsync(Pairs[p], hosts, 7001 + p, DhtPort + 1 + p, bootstrap);
                }
            }

            var waiting = Enumerable.Range(0, Pairs.Length).Where(p => Pairs[p].Today == Today.NotYet).ToList();
            var waited = await Task.WhenAll(waiting.Select(p => MeasureAsync(Pairs[p], hosts, 7001 + p, DhtPort + 1 + p, bootstrap)));
            for (var i = 0; i < waiting.Count; i++)
            {
                measured[waiting[i]] = waited[i];
            }

            rows.AddRange(measured);
        }
        finally
        {
            foreach (var boot in boots)
            {
                await boot.DisposeAsync();
            }
        }

        var matrix = Matrix(rows);
        output.WriteLine(matrix);
        Assert.True(rows.Single(r => r.Label == "public-public").Connected, "Two public nodes added by ID must find each other through the DHT and exchange messages both ways.\n" + matrix);
        foreach (var (pair, row) in Pairs.Zip(rows).Where(p => p.First.Today == Today.Connects))
        {
            Assert.True(row.Connected, $"A NATed node and a public one ({pair.Label}) must find each other and exchange messages both ways.\n" + matrix);
        }

        // The baseline before issue 17 (port mapping, hole punching, IPv6): two nodes behind
        // endpoint-independent NATs do not reach each other today, even where one router would map
        // a port on request, and an IPv6-only node cannot join the (IPv4) DHT. When issue 17 makes
        // a pair connect, its Today becomes Connects and the matrix grows the rest of the kinds.
        foreach (var (pair, row) in Pairs.Zip(rows).Where(p => p.First.Today == Today.NotYet))
        {
            Assert.False(row.Connected, $"Issue 17's baseline changed: {pair.Label} connects now. Mark it Today.Connects to expect it from now on.\n" + matrix);
        }
    }

    private async Task<Row> MeasureAsync(Pair pair, Hosts hosts, int listenPort, int dhtPort, IReadOnlyList<IPEndPoint> bootstrap)
    {
        await using var a = await SimNode.CreateAsync(pair.A(hosts), "a");
        await using var b = await SimNode.CreateAsync(pair.B(hosts), "b");
        await Task.WhenAll(a.AddByIdAsync(b), b.AddByIdAsync(a));
        await Task.WhenAll(a.StartAsync(listenPort, dhtPort, bootstrap), b.StartAsync(listenPort, dhtPort, bootstrap));

        // Both send at once, as soon as both run; each direction is timed on its own.
        var clock = Stopwatch.StartNew();
        var fromA = await a.SendAsync(b, $"{pair.Label}: hello from a");
        var fromB = await b.SendAsync(a, $"{pair.Label}: hello from b");
        var arrivals = await Task.WhenAll(ArrivalAsync(b, fromA, clock), ArrivalAsync(a, fromB, clock));
        var row = new Row(pair.Label, arrivals[0], arrivals[1], await a.EndpointsOfAsync(b), await b.EndpointsOfAsync(a));
        if (pair.Label == "public-public" && !row.Connected)
        {
            output.WriteLine($"--- a ---\n{ChildProcess.Tail(a.Transcript)}\n--- b ---\n{ChildProcess.Tail(b.Transcript)}");
        }

        return row;
    }

    /// <summary>When <paramref name="receiver"/> first holds message <paramref name="id"/>; null when it has not within the <see cref="Deadline"/>.</summary>
    private static async Task<TimeSpan?> ArrivalAsync(SimNode receiver, string id, Stopwatch clock)
    {
        try
        {
            await Eventually.UntilAsync($"{receiver.Name} holds message {id}", Deadline, () => receiver.HasMessageAsync(id), has => has, _ => string.Empty);
            return clock.Elapsed;
        }
        catch (Xunit.Sdk.XunitException)
        {
            return null;
        }
    }

    private static string Describe(Row row) =>
        string.Create(CultureInfo.InvariantCulture, $"{row.Label,-18} {(row.Connected ? "connected" : "not connected"),-14} a->b {Seconds(row.AToB),-10} b->a {Seconds(row.BToA),-10} a keeps b at [{row.AKeepsForB}], b keeps a at [{row.BKeepsForA}]");

    private static string Seconds(TimeSpan? time) =>
        time is { } t ? string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:F1} s") : $"> {Deadline.TotalSeconds:0} s";

    private static string Matrix(IEnumerable<Row> rows)
    {
        var text = new StringBuilder("Issue 17 baseline (pair: a sends to b and b to a at once, both added by ID only; time to first message each way):\n");
        foreach (var row in rows)
        {
            text.AppendLine(Describe(row));
        }

        return text.ToString();
    }
}
