using System.Globalization;

namespace SecureChat.Bench.Capacity;

/// <summary>
/// <c>connections_held</c> and <c>connection_kib</c>: a <c>securechat run</c> node whose contacts
/// are the N peers of a swarm process (<see cref="PeerSwarm"/>) is read at rest, then every peer
/// connects and has its session start acknowledged, and the node is read again once it has
/// settled; the cost of a connection is the difference over the connections up. A final ping on
/// every connection shows that the node still holds and serves them all.
/// </summary>
internal sealed class HeldConnections : IAsyncDisposable
{
    public const double MaxKiB = 64;
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(3);

    private readonly BenchHome _home;
    private readonly SwarmProcess _swarm;
    private NodeProcess? _node;

    private HeldConnections(BenchHome home, SwarmProcess swarm)
    {
        _home = home;
        _swarm = swarm;
    }

    /// <summary>Starts the swarm (its peers make their identities) and writes them into the node's data directory as contacts.</summary>
    public static async Task<HeldConnections> PrepareAsync(BenchSettings settings, TextWriter log, CancellationToken cancellationToken)
    {
        var home = BenchHome.Create("held");
        SwarmProcess? swarm = null;
        try
        {
            swarm = await SwarmProcess.StartAsync(settings.Connections, log, cancellationToken);
            home.AddContacts([.. swarm.Accounts.Select(account => (account, (string?)null))]);
            log.WriteLine($"connections_held: {settings.Connections:N0} peers ready, each a contact of the node (no endpoint: the node waits for them)");
            return new HeldConnections(home, swarm);
        }
        catch
        {
            if (swarm is not null)
            {
                await swarm.DisposeAsync();
            }

            home.Dispose();
            throw;
        }
    }

    public async Task StartAsync(BenchSettings settings, CancellationToken cancellationToken) =>
        _node = await NodeProcess.StartAsync(_home.Path, "held node", settings, cancellationToken);

    /// <summary>The node at rest: its largest VmRSS of the last 3 s up to <paramref name="until"/> after it became ready.</summary>
    public async Task<double> ReadAtRestAsync(TimeSpan until, TextWriter log, CancellationToken cancellationToken) =>
        Settled(await Node.SampleUntilAsync(until, log, cancellationToken));

    /// <summary>Connects every peer, lets the node settle, reads it again and pings every connection.</summary>
    public async Task<IReadOnlyList<Figure>> MeasureAsync(double before, BenchSettings settings, TextWriter log, CancellationToken cancellationToken)
    {
        var count = settings.Connections;
        log.WriteLine($"connections_held: resident at rest: {Node.ResidentParts()}");
        var held = await _swarm.AskAsync($"dial 127.0.0.1:{Node.ListenPort} {_home.Account}", "held", TimeSpan.FromMinutes(3), cancellationToken);
        var connected = int.Parse(held[0], CultureInfo.InvariantCulture);
        log.WriteLine($"connections_held: {connected} of {count} connected ({held[1]} failed) in {held[2]} s; node fds {Node.OpenFiles()}, threads {Node.Threads()}");
        var heldAt = Node.SinceReady.Elapsed;
        var after = Settled(await SettleAsync(settings.HeldSettleAfter, log, cancellationToken));
        var settledFor = Node.SinceReady.Elapsed - heldAt;
        log.WriteLine($"connections_held: resident now: {Node.ResidentParts()}");
        var alive = await _swarm.AskAsync("check", "alive", TimeSpan.FromMinutes(3), cancellationToken);
        var answering = int.Parse(alive[0], CultureInfo.InvariantCulture);
        log.WriteLine($"connections_held: {answering} of {connected} answered a ping {settledFor.TotalSeconds:0} s later ({alive[1]} did not), in {alive[2]} s; node fds {Node.OpenFiles()}, threads {Node.Threads()}");

        var kib = connected > 0 ? (after - before) * 1024 / connected : double.NaN;
        var facts = string.Create(CultureInfo.InvariantCulture,
            $"VmRSS {before:F1} MiB with {count:N0} contacts and no connection, {after:F1} MiB once settled ({settledFor.TotalSeconds:0} s) after {connected:N0} connected (max of the last 3 s each): {kib:F1} KiB a connection; {answering:N0} answered a ping at the end");
        var over = kib >= MaxKiB ? string.Create(CultureInfo.InvariantCulture, $"over {MaxKiB:0} KiB a connection; ") : string.Empty;
        var scale = settings.Quick ? "quick run; " : string.Empty;
        return
        [
            new Figure(
                "connections_held",
                answering,
                "connections",
                "authenticated peer connections (Noise XX, hellos, ratchet session) one `securechat run` holds and still serves after settling",
                Target: "≥ 1000",
                Note: scale + over + facts + settings.NodeNote),
            new Figure(
                "connection_kib",
                Math.Round(kib, 1),
                "KiB",
                "resident memory a held peer connection costs the node: ΔVmRSS / connections",
                Target: "≤ 64",
                Note: scale + facts + settings.NodeNote),
        ];
    }

    public async ValueTask DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }

        await _swarm.DisposeAsync();
        _home.Dispose();
    }

    /// <summary>
    /// Samples for <paramref name="settle"/>, and on while the node is still busy (above 5 % of a
    /// core over the last 3 s: it may still be logging or collecting what the connections left),
    /// for at most twice as long in all.
    /// </summary>
    private async Task<List<Sample>> SettleAsync(TimeSpan settle, TextWriter log, CancellationToken cancellationToken)
    {
        var start = Node.SinceReady.Elapsed;
        var samples = await Node.SampleUntilAsync(start + settle, log, cancellationToken);
        while (Busy(samples) && Node.SinceReady.Elapsed < start + (2 * settle))
        {
            samples.AddRange(await Node.SampleUntilAsync(Node.SinceReady.Elapsed + TimeSpan.FromSeconds(1), log, cancellationToken));
        }

        return samples;
    }

    private static bool Busy(List<Sample> samples)
    {
        var end = samples[^1];
        var from = samples.LastOrDefault(s => s.Seconds <= end.Seconds - Window.TotalSeconds) ?? samples[0];
        return end.Seconds > from.Seconds && (end.ProcessorSeconds - from.ProcessorSeconds) / (end.Seconds - from.Seconds) > 0.05;
    }

    private NodeProcess Node => _node ?? throw new InvalidOperationException("The node was not started.");

    /// <summary>The largest VmRSS of the last <see cref="Window"/> of samples.</summary>
    private static double Settled(List<Sample> samples)
    {
        var end = samples[^1].Seconds;
        return samples.Where(s => s.Seconds >= end - Window.TotalSeconds - 0.5).Max(s => s.ResidentMiB);
    }
}
