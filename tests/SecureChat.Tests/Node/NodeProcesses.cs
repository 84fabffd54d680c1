namespace SecureChat.Tests.Node;

/// <summary>
/// The tests that run <c>securechat run</c> nodes share one xUnit collection, so they run one
/// after another: the kill -9 test's timing is not squeezed by other nodes on a small machine.
/// </summary>
[CollectionDefinition(Collection)]
public sealed class NodeProcesses
{
    public const string Collection = "securechat run nodes";
}
