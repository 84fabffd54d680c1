using System.Diagnostics;
using System.Globalization;

namespace SecureChat.Bench.Capacity;

/// <summary>
/// <c>idle_rss_mb</c>: the resident memory of an idle <c>securechat run</c> with 1,000 contacts,
/// each with an endpoint on a loopback port where nobody listens (so every contact's dial loop
/// runs and backs off as for contacts that are offline), next to the same node with no contacts.
/// Both nodes run at once, so they see the same machine; each is read once a second and the
/// figure is the largest reading of the last 5 s of the settling time.
/// </summary>
internal sealed class IdleMemory : IAsyncDisposable
{
    public const int Contacts = 1_000;
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(5);

    private readonly BenchHome _empty;
    private readonly BenchHome _full;
    private NodeProcess? _emptyNode;
    private NodeProcess? _fullNode;
    private bool _disposed;

    private IdleMemory(BenchHome empty, BenchHome full)
    {
        _empty = empty;
        _full = full;
    }

    /// <summary>Writes the two data directories: one without contacts, one with <see cref="Contacts"/>.</summary>
    public static IdleMemory Prepare(TextWriter log)
    {
        var empty = BenchHome.Create("idle-empty");
        BenchHome? full = null;
        try
        {
            full = BenchHome.Create("idle-contacts");
            var accounts = BenchHome.StrangerAccounts(Contacts);
            var endpoints = BenchHome.DeadEndpoints(Contacts);
            var clock = Stopwatch.StartNew();
            full.AddContacts([.. accounts.Select((account, i) => (account, (string?)endpoints[i]))]);
            log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"idle_rss_mb: {Contacts:N0} contacts at unreachable endpoints written through LocalStore in {clock.Elapsed.TotalSeconds:F1} s"));
            return new IdleMemory(empty, full);
        }
        catch
        {
            full?.Dispose();
            empty.Dispose();
            throw;
        }
    }

    public async Task StartAsync(BenchSettings settings, CancellationToken cancellationToken)
    {
        var empty = NodeProcess.StartAsync(_empty.Path, "idle, no contacts", settings, cancellationToken);
        var full = NodeProcess.StartAsync(_full.Path, "idle, 1000 contacts", settings, cancellationToken);
        try
        {
            await Task.WhenAll(empty, full);
        }
        finally
        {
            _emptyNode = empty.IsCompletedSuccessfully ? empty.Result : null;
            _fullNode = full.IsCompletedSuccessfully ? full.Result : null;
        }
    }

    /// <summary>Reads both nodes once a second until <see cref="BenchSettings.IdleSettle"/> after they became ready.</summary>
    public async Task<Figure> MeasureAsync(BenchSettings settings, TextWriter log, CancellationToken cancellationToken)
    {
        var emptyNode = _emptyNode ?? throw new InvalidOperationException("The nodes were not started.");
        var fullNode = _fullNode ?? throw new InvalidOperationException("The nodes were not started.");
        var sampling = await Task.WhenAll(
            emptyNode.SampleUntilAsync(settings.IdleSettle, log, cancellationToken),
            fullNode.SampleUntilAsync(settings.IdleSettle, log, cancellationToken));
        var (emptyRss, emptyCpu) = Settled(sampling[0], settings.IdleSettle);
        var (fullRss, fullCpu) = Settled(sampling[1], settings.IdleSettle);
        log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"idle_rss_mb: no contacts {emptyRss:F1} MiB (cpu {emptyCpu:P1} of a core over the last 5 s); {Contacts:N0} contacts {fullRss:F1} MiB (cpu {fullCpu:P1}), {fullNode.LogLines} log lines, {fullNode.OpenFiles()} fds, {fullNode.Threads()} threads"));
        log.WriteLine($"idle_rss_mb: resident now, no contacts: {emptyNode.ResidentParts()}; {Contacts:N0} contacts: {fullNode.ResidentParts()}");

        var note = string.Create(CultureInfo.InvariantCulture,
            $"max VmRSS of the last 5 s of {settings.IdleSettle.TotalSeconds:0} s after start; the {Contacts:N0} contacts' dial loops then use {fullCpu:P1} of a core (no contacts: {emptyCpu:P1})");
        return new Figure(
            "idle_rss_mb",
            Math.Round(fullRss, 1),
            "MiB",
            $"resident memory of an idle `securechat run` (web UI on, --no-dht --no-lan) with {Contacts:N0} contacts at unreachable loopback endpoints",
            Target: "≤ 100",
            BaselineKey: "idle_rss_empty_mb",
            Baseline: Math.Round(emptyRss, 1),
            BaselineUnit: "MiB",
            BaselineWhat: "the same node with no contacts, measured alongside",
            Note: (settings.Quick ? "quick run; " : string.Empty) + note + settings.NodeNote);
    }

    /// <summary>Stops the nodes and deletes their data directories; a second call does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var node in new[] { _emptyNode, _fullNode }.OfType<NodeProcess>())
        {
            await node.DisposeAsync();
        }

        _empty.Dispose();
        _full.Dispose();
    }

    /// <summary>The largest VmRSS of the last <see cref="Window"/>, and the share of one core the process used over it.</summary>
    private static (double ResidentMiB, double Cpu) Settled(List<Sample> samples, TimeSpan settle)
    {
        var from = (settle - Window).TotalSeconds - 0.5;
        var last = samples.Where(s => s.Seconds >= from).ToList();
        if (last.Count < 2)
        {
            last = [.. samples.TakeLast(2)];
        }

        var cpu = last.Count >= 2 ? (last[^1].ProcessorSeconds - last[0].ProcessorSeconds) / (last[^1].Seconds - last[0].Seconds) : double.NaN;
        return (last.Max(s => s.ResidentMiB), cpu);
    }
}
