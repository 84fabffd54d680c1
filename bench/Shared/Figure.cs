using System.Text.Json;
using System.Text.Json.Serialization;

namespace SecureChat.Bench;

/// <summary>
/// One figure of the suite (bench/run): what was measured, next to the baseline measured in the
/// same run. Each bench program prints its figures as lines "FIGURE {json}" on standard output;
/// SecureChat.Bench.Suite collects them into bench/results/latest.json and latest.md.
/// </summary>
/// <param name="Key">The key in latest.json, such as <c>msgs_per_s</c>.</param>
/// <param name="Value">The measured number.</param>
/// <param name="Unit">Its unit as the table shows it, such as "msg/s" or "ms".</param>
/// <param name="What">One line on what was measured, for the table.</param>
/// <param name="Target">The target as a comparison, such as "≥ 30000" or "≤ 1.5"; null for a figure with none.</param>
/// <param name="BaselineKey">The key in latest.json of the baseline, or null where the figure has none.</param>
/// <param name="Baseline">The baseline's number, measured in the same run.</param>
/// <param name="BaselineUnit">The baseline's unit.</param>
/// <param name="BaselineWhat">One line on what the baseline is.</param>
/// <param name="Note">Anything a reader of the table must know (a smaller scale in a quick run, say).</param>
public sealed record Figure(
    string Key,
    double Value,
    string Unit,
    string What,
    string? Target = null,
    string? BaselineKey = null,
    double? Baseline = null,
    string? BaselineUnit = null,
    string? BaselineWhat = null,
    string? Note = null)
{
    public const string Prefix = "FIGURE ";

    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>Prints the figure for the suite to collect.</summary>
    public void Report(TextWriter? output = null)
    {
        (output ?? Console.Out).WriteLine(Prefix + JsonSerializer.Serialize(this, Json));
        (output ?? Console.Out).Flush();
    }

    /// <summary>Reads a line a bench program printed; null when it is not a figure.</summary>
    public static Figure? Parse(string line) =>
        line.StartsWith(Prefix, StringComparison.Ordinal) ? JsonSerializer.Deserialize<Figure>(line.AsSpan(Prefix.Length), Json) : null;

    /// <summary>Whether <see cref="Value"/> meets <see cref="Target"/>; null when there is no target.</summary>
    public bool? Met()
    {
        if (Target is null)
        {
            return null;
        }

        var parts = Target.Split(' ', 2, StringSplitOptions.TrimEntries);
        var bound = double.Parse(parts[1].Replace(",", "", StringComparison.Ordinal), System.Globalization.CultureInfo.InvariantCulture);
        return parts[0] switch
        {
            "≥" => Value >= bound,
            "≤" => Value <= bound,
            _ => throw new FormatException($"A target reads \"≥ N\" or \"≤ N\", not \"{Target}\"."),
        };
    }
}
