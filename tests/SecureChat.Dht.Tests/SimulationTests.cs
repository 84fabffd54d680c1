using Xunit.Abstractions;

namespace SecureChat.Dht.Tests;

/// <summary>
/// A thousand nodes on a simulated network (no sockets, a virtual clock): lookups of live nodes'
/// IDs must find them every time without churn, and at least 99% of the time after a fifth of
/// the nodes have left and as many new ones joined. Reports success rates and hop counts.
/// </summary>
[Trait("Speed", "Slow")]
public sealed class SimulationTests(ITestOutputHelper output)
{
    private const int Size = 1000;
    private const int Lookups = 200;

    [Fact]
    public void Lookups_ThousandNodes_FindEveryTargetWithoutChurnAndNearlyAllUnderChurn()
    {
        var network = new SimulatedNetwork(seed: 5);
        var nodes = Enumerable.Range(0, Size).Select(i => network.Add(SimulatedNetwork.Address(i))).ToList();
        Join(network, nodes);

        var calm = Measure(network, nodes, new Random(1));
        output.WriteLine($"no churn: {calm}");

        // 20% churn: a fifth of the nodes leave without a word, and as many new ones join.
        var random = new Random(2);
        var leaving = nodes.OrderBy(_ => random.Next()).Take(Size / 5).ToList();
        foreach (var node in leaving)
        {
            network.TakeDown(node);
        }

        var joining = Enumerable.Range(Size, Size / 5).Select(i => network.Add(SimulatedNetwork.Address(i))).ToList();
        Join(network, joining, nodes.Where(network.IsUp).Take(3).ToList());
        network.Run(TimeSpan.FromSeconds(30));
        var live = network.LiveNodes.ToList();
        var churned = Measure(network, live, new Random(3));
        output.WriteLine($"20% churn: {churned}");

        Assert.Equal(1.0, calm.SuccessRate);
        Assert.True(churned.SuccessRate >= 0.99, $"success under churn {churned.SuccessRate:P1}");
        Assert.InRange(calm.MeanHops, 1, 8);
    }

    private static void Join(SimulatedNetwork network, List<DhtNode> nodes, List<DhtNode>? introducers = null)
    {
        var first = introducers ?? [nodes[0]];
        foreach (var node in nodes)
        {
            var through = first.Where(n => n != node).Select(network.EndPointOf).ToList();
            if (through.Count == 0)
            {
                continue;
            }

            network.RunUntil(node.Bootstrap(through), TimeSpan.FromMinutes(1));
            if (introducers is null && first.Count < 3)
            {
                first.Add(node);
            }
        }
    }

    private static Outcome Measure(SimulatedNetwork network, List<DhtNode> nodes, Random random)
    {
        var found = 0;
        var hops = new List<int>();
        var queries = new List<int>();
        for (var i = 0; i < Lookups; i++)
        {
            var from = nodes[random.Next(nodes.Count)];
            var target = nodes[random.Next(nodes.Count)];
            var result = network.RunUntil(from.FindNode(target.Id), TimeSpan.FromMinutes(1));
            if (target == from || (result.Closest.Count > 0 && result.Closest[0].Contact.Id == target.Id))
            {
                found++;
            }

            hops.Add(result.Hops);
            queries.Add(result.Queries);
        }

        return new Outcome((double)found / Lookups, hops.Average(), hops.Max(), queries.Average());
    }

    private sealed record Outcome(double SuccessRate, double MeanHops, int MaxHops, double MeanQueries)
    {
        public override string ToString() => $"success {SuccessRate:P1}, hops mean {MeanHops:F2} max {MaxHops}, queries per lookup {MeanQueries:F1}";
    }
}
