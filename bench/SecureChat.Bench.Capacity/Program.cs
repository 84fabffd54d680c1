using System.Diagnostics;
using System.Globalization;
using SecureChat.Bench.Capacity;

// Capacity figures of the performance suite (bench/run), each measured on the real `securechat run`:
//   idle_rss_mb       resident memory of an idle node with 1,000 contacts (baseline: no contacts)
//   connections_held  peer connections one node holds and serves, at under 64 KiB each
//   connection_kib    what one held connection costs the node
// Usage: SecureChat.Bench.Capacity [--quick] [--node-env NAME=VALUE]... [--cli PATH]
//   --node-env sets a variable for the node processes only (DOTNET_gcServer=1, say), to try a setting;
//   --cli runs another build of securechat as the node (a .dll through dotnet, else the program itself).
// Figures go to stdout as "FIGURE {json}" lines, everything else to stderr. With --client N the
// program is instead the swarm of peers that dials the node (PeerSwarm).
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
if (args is ["--client", var count] && int.TryParse(count, NumberStyles.None, CultureInfo.InvariantCulture, out var peers) && peers > 0)
{
    return await PeerSwarm.RunAsync(peers, Console.In, Console.Out, Console.Error);
}

var settings = BenchSettings.Parse(args, out var error);
if (settings is null)
{
    Console.Error.WriteLine(error);
    Console.Error.WriteLine("usage: SecureChat.Bench.Capacity [--quick] [--node-env NAME=VALUE]... [--cli PATH]");
    return 2;
}

using var stopping = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // Ctrl+C stops the measurement; the finally blocks still end the node processes.
    e.Cancel = true;
    stopping.Cancel();
};

var wall = Stopwatch.StartNew();
var log = Console.Error;
try
{
    // The swarm makes its identities while the idle nodes' contacts are written; then all three
    // nodes start, and the node that will hold the connections is read at rest while the idle
    // nodes settle. The peers dial only once the idle nodes are gone.
    var preparingHeld = HeldConnections.PrepareAsync(settings, log, stopping.Token);
    var preparingIdle = Task.Run(() => IdleMemory.Prepare(log), stopping.Token);
    try
    {
        await Task.WhenAll(preparingHeld, preparingIdle);
    }
    catch
    {
        await DisposeIfMade(preparingHeld);
        await DisposeIfMade(preparingIdle);
        throw;
    }

    await using var held = preparingHeld.Result;
    await using var idle = preparingIdle.Result;
    await Task.WhenAll(idle.StartAsync(settings, stopping.Token), held.StartAsync(settings, stopping.Token));
    var atRest = held.ReadAtRestAsync(settings.IdleSettle, log, stopping.Token);
    (await idle.MeasureAsync(settings, log, stopping.Token)).Report();
    var before = await atRest;
    await idle.DisposeAsync();
    foreach (var figure in await held.MeasureAsync(before, settings, log, stopping.Token))
    {
        figure.Report();
    }
}
catch (OperationCanceledException) when (stopping.IsCancellationRequested)
{
    log.WriteLine("stopped");
    return 130;
}
catch (Exception ex) when (ex is InvalidOperationException or IOException or SecureChat.Storage.StoreException or System.ComponentModel.Win32Exception)
{
    // Everything started is stopped and deleted by now (the await using above).
    log.WriteLine($"capacity bench failed after {wall.Elapsed.TotalSeconds:F1} s: {ex.Message}");
    return 1;
}

log.WriteLine($"capacity bench done in {wall.Elapsed.TotalSeconds:F1} s (load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]})");
return 0;

static async Task DisposeIfMade<T>(Task<T> making)
    where T : IAsyncDisposable
{
    if (making.IsCompletedSuccessfully)
    {
        await making.Result.DisposeAsync();
    }
}
