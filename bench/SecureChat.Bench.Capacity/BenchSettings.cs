namespace SecureChat.Bench.Capacity;

/// <summary>
/// How long the nodes settle and how many peers dial, for the quick and the full run. The node
/// of <see cref="HeldConnections"/> is read at rest during the same <see cref="IdleSettle"/> as
/// the idle nodes, and read again <see cref="HeldSettleAfter"/> after its peers connected (longer
/// while it is still busy).
/// </summary>
internal sealed record BenchSettings(
    bool Quick,
    TimeSpan IdleSettle,
    int Connections,
    TimeSpan HeldSettleAfter,
    IReadOnlyDictionary<string, string> NodeEnvironment,
    string? Cli)
{
    /// <summary>"; node environment: NAME=VALUE, …; node program: PATH" for what was set for the nodes, for the figures' notes.</summary>
    public string NodeNote =>
        (NodeEnvironment.Count == 0 ? string.Empty : "; node environment: " + string.Join(", ", NodeEnvironment.Select(v => $"{v.Key}={v.Value}")))
        + (Cli is null ? string.Empty : $"; node program: {Cli}");

    public static BenchSettings? Parse(string[] args, out string? error)
    {
        var quick = Stats.IsQuick(args);
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        string? cli = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--quick":
                    break;
                case "--node-env" when i + 1 < args.Length && args[i + 1].IndexOf('=', StringComparison.Ordinal) is > 0 and var equals:
                    environment[args[i + 1][..equals]] = args[i + 1][(equals + 1)..];
                    i++;
                    break;
                case "--cli" when i + 1 < args.Length:
                    cli = Path.GetFullPath(args[++i]);
                    break;
                default:
                    error = $"Unknown argument '{args[i]}'.";
                    return null;
            }
        }

        error = null;
        return quick
            ? new BenchSettings(true, TimeSpan.FromSeconds(10), 1_000, TimeSpan.FromSeconds(5), environment, cli)
            : new BenchSettings(false, TimeSpan.FromSeconds(30), 1_000, TimeSpan.FromSeconds(15), environment, cli);
    }
}
