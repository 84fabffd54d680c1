using Xunit.Abstractions;

namespace SecureChat.Node.Tests;

/// <summary>Typing notices reach a connected contact, both ways, and are never stored.</summary>
public sealed class TypingTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly NodeHome _alice = new("alice", new TestOutputLogger(output, "alice"));
    private readonly NodeHome _bob = new("bob", new TestOutputLogger(output, "bob"));

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _alice.DisposeAsync();
        await _bob.DisposeAsync();
    }

    [Fact]
    public async Task SetTyping_BothOnline_PeerSeesTypingStartAndStop()
    {
        var bobNode = _bob.Start();
        var aliceNode = _alice.Start();
        await using var aliceTrail = new EventTrail(aliceNode);
        await using var bobTrail = new EventTrail(bobNode);
        var bob = aliceNode.AddContact(_bob.Account, "bob", _bob.Endpoint);
        await Eventually.HoldsAsync(() => aliceNode.IsOnline(bob) && _bob.FindContact(_alice) is { } alice && bobNode.IsOnline(alice), "both online");
        var aliceAccount = _alice.Account.Text;

        aliceNode.SetTyping(bob, true);
        await bobTrail.WaitForAsync<TypingChanged>(e => e.ContactAccount == aliceAccount && e.Active, "alice typing");
        aliceNode.SetTyping(bob, false);
        await bobTrail.WaitForAsync<TypingChanged>(e => e.ContactAccount == aliceAccount && !e.Active, "alice stopped typing");
        Assert.Equal([true, false], bobTrail.Of<TypingChanged>().Select(e => e.Active));

        // Bob answered the dial, so he is Bob of the ratchet: he can type once alice's session start has reached him.
        bobNode.SetTyping(_bob.ContactOf(_alice), true);
        var typing = await aliceTrail.WaitForAsync<TypingChanged>(e => e.Active, "bob typing");
        Assert.Equal(_bob.Account.Text, typing.ContactAccount);

        Assert.Empty(_alice.History(_bob));
        Assert.Empty(_bob.History(_alice));
    }
}
