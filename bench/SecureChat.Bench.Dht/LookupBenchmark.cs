using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using SecureChat.Dht;

namespace SecureChat.Bench.Dht;

/// <summary>
/// <c>dht_lookup_p50_ms</c>: BEP 44 mutable gets in a loopback swarm of SecureChat nodes, by a fresh
/// SecureChat node and by a fresh libtorrent-rasterbar node, of the same items in the same run.
/// The items (signed, salted, 202-byte values: the size of a rendezvous record) are put by swarm
/// nodes before either looker exists, so no looker holds one. Both lookers start together, join
/// through the same three swarm nodes and warm up with the same lookups; then they take turns on
/// each item (the first to go alternates), never running at the same time. Each measures in its
/// own process, from its get call until its lookup has ended.
/// </summary>
internal static class LookupBenchmark
{
    private const int Seeds = 3;
    private const int WarmUpLookups = 8;
    private const int WarmUpGets = 50;
    private const double GetTimeoutSeconds = 30;

    public static async Task<int> RunAsync(int swarmSize, int itemCount, TimeSpan budget, TextWriter log)
    {
        if (!await LookerProcess.LibtorrentAvailableAsync(log))
        {
            return 1;
        }

        var clock = Stopwatch.StartNew();
        var random = new Random(44);
        await using var swarm = await LoopbackSwarm.StartAsync(swarmSize, log);
        var warmUpItems = Enumerable.Range(0, WarmUpGets).Select(_ => NewItem(random)).ToList();
        var items = Enumerable.Range(0, itemCount).Select(_ => NewItem(random)).ToList();
        await PutAsync(swarm, [.. warmUpItems, .. items], log);

        var seeds = Enumerable.Range(0, Seeds).Select(i => swarm.Hosts[i * swarmSize / Seeds].LocalEndPoint).ToList();
        await using var ours = LookerProcess.StartSecureChat(IPAddress.Parse("127.0.2.1"), seeds);
        await using var theirs = LookerProcess.StartLibtorrent(IPAddress.Parse("127.0.2.2"), seeds);
        var started = await Task.WhenAll(ours.StartedAsync(), theirs.StartedAsync());
        log.WriteLine($"lookers: securechat on 127.0.2.1:{started[0]["port"]}, libtorrent {started[1]["version"]} on 127.0.2.2:{started[1]["port"]}; both join through {string.Join(", ", seeds)}");

        var targets = new JsonArray([.. Enumerable.Range(0, WarmUpLookups).Select(_ => (JsonNode)Convert.ToHexStringLower(Bytes(random, NodeId.Size)))]);
        var warm = await Task.WhenAll(
            ours.CallAsync(new JsonObject { ["op"] = "warm", ["targets"] = targets.DeepClone(), ["timeout"] = 60.0 }),
            theirs.CallAsync(new JsonObject { ["op"] = "warm", ["targets"] = targets.DeepClone(), ["timeout"] = 60.0 }));
        foreach (var (looker, reply) in new[] { ours, theirs }.Zip(warm))
        {
            if (reply["ok"]?.GetValue<bool>() != true)
            {
                throw new InvalidOperationException($"The {looker.Name} looker did not join: {reply.ToJsonString()}");
            }
        }

        log.WriteLine($"warm-up: a join and {WarmUpLookups} lookups each; routing tables: securechat {warm[0]["nodes"]} nodes, libtorrent {warm[1]["nodes"]} live nodes ({clock.Elapsed.TotalSeconds:F1} s in)");

        // Untimed gets of items of their own first, so that the SecureChat looker's code has been
        // through the JIT's tiers (a node that has run for a while has), as the measured gets do.
        for (var i = 0; i < WarmUpGets; i++)
        {
            foreach (var reply in await GetByBothAsync(warmUpItems[i], i, ours, theirs))
            {
                if (reply["ok"]?.GetValue<bool>() != true)
                {
                    throw new InvalidOperationException($"A warm-up get failed: {reply.ToJsonString()}");
                }
            }
        }

        log.WriteLine($"warm-up: {WarmUpGets} untimed gets each ({clock.Elapsed.TotalSeconds:F1} s in)");
        var results = new Dictionary<LookerProcess, List<JsonObject>> { [ours] = [], [theirs] = [] };
        var measuring = Stopwatch.StartNew();
        for (var i = 0; i < items.Count && measuring.Elapsed < budget; i++)
        {
            var replies = await GetByBothAsync(items[i], i, ours, theirs);
            results[ours].Add(replies[0]);
            results[theirs].Add(replies[1]);
            if ((i + 1) % Math.Max(1, items.Count / 5) == 0)
            {
                log.WriteLine($"gets: {i + 1}/{items.Count} items; so far p50 securechat {Median(results[ours]):F1} ms, libtorrent {Median(results[theirs]):F1} ms");
            }
        }

        var measured = results[ours].Count;
        if (!Times(results[ours]).Any() || !Times(results[theirs]).Any())
        {
            log.WriteLine($"dht: no get ended (securechat: {results[ours].FirstOrDefault()?.ToJsonString()}; libtorrent: {results[theirs].FirstOrDefault()?.ToJsonString()})");
            return 1;
        }

        var oursP50 = Median(results[ours]);
        var theirsP50 = Median(results[theirs]);
        var note = $"{swarmSize}-node loopback swarm; {measured} items, each got once by each looker in turn, after {WarmUpGets} untimed gets; "
            + $"found {Found(results[ours])}/{measured} (SecureChat), {Found(results[theirs])}/{measured} (libtorrent); "
            + $"p90 {P90(results[ours]):F1} ms vs {P90(results[theirs]):F1} ms";
        if (measured < items.Count)
        {
            note += $"; stopped after {measured} of {items.Count} items at the time budget";
        }

        log.WriteLine($"securechat: p50 {oursP50:F1} ms, p90 {P90(results[ours]):F1} ms, found {Found(results[ours])}/{measured}; "
            + $"queries per get p50 {Stats.Median(results[ours].Select(r => r["queries"]?.GetValue<double>() ?? 0)):F0}, "
            + $"hops p50 {Stats.Median(results[ours].Select(r => r["hops"]?.GetValue<double>() ?? 0)):F0}");
        var firsts = results[theirs].Select(r => r["first_ms"]?.GetValue<double>()).OfType<double>().ToList();
        log.WriteLine($"libtorrent: p50 {theirsP50:F1} ms, p90 {P90(results[theirs]):F1} ms, found {Found(results[theirs])}/{measured}"
            + (firsts.Count > 0 ? $"; its first alert with the item came after p50 {Stats.Median(firsts):F1} ms" : ""));
        log.WriteLine($"dht: {clock.Elapsed.TotalSeconds:F1} s in all");

        new Figure(
            "dht_lookup_p50_ms",
            Math.Round(oursP50, 2),
            "ms",
            "median BEP 44 mutable get, until the lookup ends, by a fresh SecureChat node in a loopback swarm of SecureChat nodes",
            BaselineKey: "dht_lookup_libtorrent_p50_ms",
            Baseline: Math.Round(theirsP50, 2),
            BaselineUnit: "ms",
            BaselineWhat: "libtorrent-rasterbar (Debian's python3-libtorrent), a fresh node joined the same way, the same items, until its authoritative dht_mutable_item_alert",
            Note: note).Report();
        new Figure(
            "dht_lookup_ratio_vs_libtorrent",
            Math.Round(oursP50 / theirsP50, 3),
            "×",
            "SecureChat's median get time over libtorrent's, same swarm, same items, same run",
            Target: "≤ 1.5",
            Note: note).Report();

        var complete = Found(results[ours]) == measured && Found(results[theirs]) == measured;
        if (!complete)
        {
            log.WriteLine("dht: some gets did not find their item (see the note); the figures cover every get that ended");
        }

        return 0;
    }

    /// <summary>One get of the item by each looker, one after the other; the first to go alternates with <paramref name="turn"/>. Replies: ours, then theirs.</summary>
    private static async Task<JsonObject[]> GetByBothAsync(DhtItem item, int turn, LookerProcess ours, LookerProcess theirs)
    {
        var get = new JsonObject
        {
            ["op"] = "get",
            ["pubkey"] = Convert.ToHexStringLower(item.PublicKey!),
            ["salt"] = Convert.ToHexStringLower(item.Salt),
            ["seq"] = item.Sequence,
            ["timeout"] = GetTimeoutSeconds,
        };
        if (turn % 2 == 0)
        {
            var first = await ours.CallAsync((JsonObject)get.DeepClone());
            return [first, await theirs.CallAsync(get)];
        }

        var second = await theirs.CallAsync((JsonObject)get.DeepClone());
        return [await ours.CallAsync(get), second];
    }

    /// <summary>Puts each item from a different swarm node, a few at a time.</summary>
    private static async Task PutAsync(LoopbackSwarm swarm, List<DhtItem> items, TextWriter log)
    {
        var clock = Stopwatch.StartNew();
        var stored = new List<double>();
        for (var start = 0; start < items.Count; start += 8)
        {
            var batch = Enumerable.Range(start, Math.Min(8, items.Count - start))
                .Select(i => swarm.Hosts[i % swarm.Hosts.Count].Call(n => n.Put(items[i])).WaitAsync(TimeSpan.FromSeconds(30)));
            foreach (var result in await Task.WhenAll(batch))
            {
                if (result.Accepted == 0)
                {
                    throw new InvalidOperationException($"No node took the item {result.Target}: {string.Join("; ", result.Errors)}");
                }

                stored.Add(result.Accepted);
            }
        }

        // How many of the k nodes truly closest to each item (the ones a get converges to) hold it.
        var now = DateTimeOffset.UtcNow;
        var onClosest = items.Select(item => (double)swarm.Hosts
            .OrderBy(h => h.Id, Comparer<NodeId>.Create(item.Target.CompareDistance))
            .Take(8)
            .Count(h => h.Call(n => n.Storage.Item(item.Target, now)) is not null)).ToList();
        log.WriteLine($"items: {items.Count} put in {clock.Elapsed.TotalSeconds:F1} s, each on {Stats.Median(stored):F0} nodes (median; min {stored.Min():F0}); "
            + $"held by {Stats.Median(onClosest):F0} of the 8 nodes closest to it (median; min {onClosest.Min():F0}, {onClosest.Count(c => c == 0)} by none)");
    }

    /// <summary>A signed mutable item with a 16-byte salt and a 202-byte value, as a rendezvous record is.</summary>
    private static DhtItem NewItem(Random random)
    {
        var seed = Bytes(random, 32);
        var value = "202:"u8.ToArray().Concat(Bytes(random, 202)).ToArray();
        var sequence = 1_700_000_000L + random.Next(0, 1 << 30);
        return DhtItem.Sign(seed, value, Bytes(random, 16), sequence);
    }

    private static byte[] Bytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private static IEnumerable<double> Times(List<JsonObject> replies) =>
        replies.Where(r => r["ok"]?.GetValue<bool>() == true).Select(r => r["ms"]!.GetValue<double>());

    private static double Median(List<JsonObject> replies) => Times(replies).Any() ? Stats.Median(Times(replies)) : double.NaN;

    private static double P90(List<JsonObject> replies) => Times(replies).Any() ? Stats.Percentile(Times(replies), 90) : double.NaN;

    private static int Found(List<JsonObject> replies) => replies.Count(r => r["found"]?.GetValue<bool>() == true);
}
