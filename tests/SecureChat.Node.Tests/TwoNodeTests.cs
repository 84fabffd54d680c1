using Xunit.Abstractions;

namespace SecureChat.Node.Tests;

/// <summary>
/// Alice and Bob, each with a fresh data directory, made for each test and stopped after it; a
/// test class derives from this and starts their nodes as it needs them.
/// </summary>
public abstract class TwoNodeTests(ITestOutputHelper output) : IAsyncLifetime
{
    protected ITestOutputHelper Output { get; } = output;

    internal NodeHome Alice { get; } = new("alice", new TestOutputLogger(output, "alice"));

    internal NodeHome Bob { get; } = new("bob", new TestOutputLogger(output, "bob"));

    public Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        await Alice.DisposeAsync();
        await Bob.DisposeAsync();
    }
}
