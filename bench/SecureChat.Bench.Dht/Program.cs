using System.Globalization;
using SecureChat.Bench;
using SecureChat.Bench.Dht;

// dht_lookup_p50_ms of bench/run, against libtorrent in the same run. Figures go to standard
// output as FIGURE lines; progress to standard error. With --role looker this is the SecureChat
// looker the driver starts.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
if (args is ["--role", "looker", .. var rest])
{
    return await SecureChatLooker.RunAsync(rest);
}

var quick = Stats.IsQuick(args);
return await LookupBenchmark.RunAsync(
    swarmSize: 200,
    itemCount: quick ? 20 : 200,
    budget: quick ? TimeSpan.FromSeconds(20) : TimeSpan.FromSeconds(180),
    log: Console.Error);
