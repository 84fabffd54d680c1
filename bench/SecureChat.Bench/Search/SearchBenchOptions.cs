using System.Globalization;

namespace SecureChat.Bench.Search;

/// <summary>The options of the <c>search</c> verb.</summary>
public sealed record SearchBenchOptions
{
    public const string Usage = """
        usage: SecureChat.Bench search [options]
          --messages N        messages in the corpus (default 1000000)
          --iterations N      timed rounds of the query mix per design, at most (default 200)
          --seconds S         time for those rounds per design, at most (default 20)
          --token-bytes 8|12  blinded token length of design A (default 8)
          --max-prefix N      longest indexed prefix of design A (default 5)
          --threads N         unlock threads of design B (default: processor count)
          --sweep             also build design A for several token lengths and prefix lengths
          --json              print the report as JSON instead of a table
          --keep              keep the temporary directory of databases
        """;

    public int Messages { get; init; } = 1_000_000;

    public int Iterations { get; init; } = 200;

    public double Seconds { get; init; } = 20;

    public int TokenBytes { get; init; } = 8;

    public int MaxPrefix { get; init; } = 5;

    public int Threads { get; init; } = Environment.ProcessorCount;

    public bool Sweep { get; init; }

    public bool Json { get; init; }

    public bool Keep { get; init; }

    /// <summary>Parses the verb's arguments; null (with <paramref name="error"/>) when they are not understood.</summary>
    public static SearchBenchOptions? Parse(IReadOnlyList<string> args, out string? error)
    {
        ArgumentNullException.ThrowIfNull(args);
        var options = new SearchBenchOptions();
        error = null;
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            switch (name)
            {
                case "--sweep":
                    options = options with { Sweep = true };
                    continue;
                case "--json":
                    options = options with { Json = true };
                    continue;
                case "--keep":
                    options = options with { Keep = true };
                    continue;
            }

            if (i + 1 >= args.Count)
            {
                error = $"{name} needs a value, or is not an option.";
                return null;
            }

            var value = args[++i];
            switch (name)
            {
                case "--messages" when TryInt(value, 1, 50_000_000, out var n):
                    options = options with { Messages = n };
                    break;
                case "--iterations" when TryInt(value, 1, 1_000_000, out var n):
                    options = options with { Iterations = n };
                    break;
                case "--seconds" when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s > 0 && s <= 3600:
                    options = options with { Seconds = s };
                    break;
                case "--token-bytes" when value is "8" or "12":
                    options = options with { TokenBytes = int.Parse(value, CultureInfo.InvariantCulture) };
                    break;
                case "--max-prefix" when TryInt(value, 2, 64, out var n):
                    options = options with { MaxPrefix = n };
                    break;
                case "--threads" when TryInt(value, 1, 256, out var n):
                    options = options with { Threads = n };
                    break;
                default:
                    error = $"Not understood: {name} {value}";
                    return null;
            }
        }

        return options;
    }

    private static bool TryInt(string text, int min, int max, out int value) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out value) && value >= min && value <= max;
}
