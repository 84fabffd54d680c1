using System.Globalization;
using SecureChat.Bench;
using SecureChat.Bench.Wire;

// The end-to-end figures of bench/run, each against its baseline from the same run. Figures go to
// standard output as FIGURE lines; progress to standard error. Without --role this is the driver;
// with it, one of the child processes the driver starts.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
if (args is ["--role", var role, .. var rest])
{
    await (role switch
    {
        "sink-tcp" => Bulk.SinkTcpAsync(long.Parse(rest[0], CultureInfo.InvariantCulture)),
        "sink-channel" => Bulk.SinkChannelAsync(long.Parse(rest[0], CultureInfo.InvariantCulture)),
        "sink-latency" => Messaging.SinkLatencyAsync(),
        "node" => Messaging.ReceiverAsync(),
        "connect" => Connect.NodeAsync(rest[0], rest[1], rest[2]),
        _ => throw new ArgumentException($"unknown role: {role}"),
    });
    return 0;
}

var quick = Stats.IsQuick(args);
var only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault();
// --profile DIR: CPU samples of both nodes during the messages step's burst and paced phases
// (Profiler); --profile-allocations DIR: the same with the runtime's allocation ticks.
Profiler.Allocations = args.Contains("--profile-allocations");
Profiler.Directory = args.SkipWhile(a => a is not ("--profile" or "--profile-allocations")).Skip(1).FirstOrDefault();
var log = Console.Error;
var steps = new (string Name, Func<Task<IEnumerable<Figure>>> Run)[]
{
    ("bulk", () => Bulk.RunAsync(quick ? 256L << 20 : 1L << 30, quick ? 1 : 3, log)),
    ("messages", () => Messaging.RunAsync(quick ? 10_000 : 100_000, quick ? 2_000 : 10_000, log)),
    ("connect", () => Connect.RunAsync(quick ? 3 : 10, log)),
};
var failed = 0;
foreach (var (name, run) in steps.Where(s => only is null || s.Name == only))
{
    try
    {
        foreach (var figure in await run())
        {
            figure.Report();
        }
    }
    catch (Exception ex)
    {
        failed++;
        await log.WriteLineAsync($"{name}: failed: {ex}");
    }
}

return failed == 0 ? 0 : 1;
