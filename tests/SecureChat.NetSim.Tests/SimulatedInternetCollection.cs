namespace SecureChat.NetSim.Tests;

/// <summary>
/// The tests of the simulated internet run one after another: each builds a world of its own, and
/// the baseline starts a dozen node processes, which two shared cores run better in turn.
/// </summary>
[CollectionDefinition(Name)]
public sealed class SimulatedInternetCollection
{
    public const string Name = "Simulated internet";
}
