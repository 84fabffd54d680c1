using System.Globalization;
using SecureChat.Bench.Search;

// Benchmarks, run by hand: dotnet run -c Release --project bench/SecureChat.Bench -- VERB [options]
const string Usage = "usage: SecureChat.Bench search [--help | options]";
if (args.Length == 0 || args[0] != "search")
{
    Console.Error.WriteLine(Usage);
    return 2;
}

if (args.Skip(1).Any(arg => arg is "--help" or "-h"))
{
    Console.WriteLine(SearchBenchOptions.Usage);
    return 0;
}

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
var options = SearchBenchOptions.Parse(args[1..], out var error);
if (options is null)
{
    Console.Error.WriteLine(error);
    Console.Error.WriteLine(SearchBenchOptions.Usage);
    return 2;
}

var report = SearchBenchmark.Run(options, Console.Error);
if (options.Json)
{
    SearchReportWriter.WriteJson(report, Console.Out);
}
else
{
    SearchReportWriter.WriteTable(report, Console.Out);
}

return 0;
