using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using SecureChat.Net;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Identity;

namespace SecureChat.Bench.Capacity;

/// <summary>
/// The <c>--client N</c> role: N peers, each with an identity of its own, in a process apart from
/// the node so that their memory is not the node's. It speaks line commands on stdin and answers
/// on stdout:
/// <code>
/// (start)                  → "account ID" × N, then "ready"
/// "dial HOST:PORT NODE_ID" → "held OK FAILED SECONDS": each peer connects and has its session start acknowledged
/// "check"                  → "alive OK FAILED SECONDS": each held connection is pinged and must answer
/// "quit", or stdin ends    → the connections are dropped and the process exits
/// </code>
/// </summary>
internal static class PeerSwarm
{
    /// <summary>Peers connecting at once: within the handshakes the listener takes from one address at a time (16).</summary>
    private const int Parallel = 16;

    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(120);

    public static async Task<int> RunAsync(int count, TextReader input, TextWriter output, TextWriter log)
    {
        var identities = Enumerable.Range(0, count).Select(_ => LocalIdentity.Create("peer", DateTimeOffset.UtcNow)).ToArray();
        var peers = new SwarmPeer?[count];
        try
        {
            foreach (var identity in identities)
            {
                output.WriteLine($"account {identity.Account}");
            }

            output.WriteLine("ready");
            output.Flush();
            while (await input.ReadLineAsync() is { } line && line != "quit")
            {
                var words = line.Split(' ');
                var answer = words[0] switch
                {
                    "dial" when words.Length == 3 && PeerEndpoint.TryParse(words[1], out var node, out _) && AccountId.TryParse(words[2], out var nodeAccount) =>
                        "held " + await ForEachAsync(count, log, async (i, token) => peers[i] = await SwarmPeer.ConnectAsync(node, nodeAccount, identities[i], StepTimeout, token)),
                    "check" =>
                        "alive " + await ForEachAsync(count, log, async (i, token) =>
                        {
                            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
                            timeout.CancelAfter(StepTimeout);
                            await (peers[i] ?? throw new InvalidOperationException("never connected")).PingAsync(timeout.Token);
                        }),
                    _ => $"error unknown command '{line}'",
                };
                output.WriteLine(answer);
                output.Flush();
            }

            return 0;
        }
        finally
        {
            foreach (var peer in peers.OfType<SwarmPeer>())
            {
                await peer.DisposeAsync();
            }

            foreach (var identity in identities)
            {
                identity.Dispose();
            }
        }
    }

    /// <summary>Runs <paramref name="step"/> for every peer, <see cref="Parallel"/> at a time; returns "OK FAILED SECONDS".</summary>
    private static async Task<string> ForEachAsync(int count, TextWriter log, Func<int, CancellationToken, Task> step)
    {
        using var budget = new CancellationTokenSource(Budget);
        var clock = Stopwatch.StartNew();
        var failures = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var ok = 0;
        await System.Threading.Tasks.Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = Parallel, CancellationToken = CancellationToken.None }, async (i, _) =>
        {
            try
            {
                await step(i, budget.Token);
                Interlocked.Increment(ref ok);
            }
            catch (Exception ex) when (ex is ChannelException or NetworkException or InvalidOperationException or OperationCanceledException)
            {
                failures.AddOrUpdate($"{ex.GetType().Name}: {ex.Message}", 1, (_, n) => n + 1);
            }
        });

        foreach (var (reason, times) in failures.OrderByDescending(f => f.Value).Take(5))
        {
            log.WriteLine($"  client: {times} × {reason}");
        }

        return string.Create(CultureInfo.InvariantCulture, $"{ok} {count - ok} {clock.Elapsed.TotalSeconds:F2}");
    }
}
