using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.Node.Tests;

/// <summary>
/// Typing notices reach a connected contact, both ways, and are never stored: the integration test
/// of typing over sockets. What a session does with them (sent only once the session is chosen,
/// never acknowledged) is tested in memory in Session/PeerSessionAcknowledgementTests.cs and
/// PeerSessionReceiptTests.cs.
/// </summary>
public sealed class TypingTests(ITestOutputHelper output) : TwoNodeTests(output)
{

    [Fact]
    public async Task SetTyping_BothOnline_PeerSeesTypingStartAndStop()
    {
        // Both add each other: a stranger who dials in is a request, which is told of typing only once accepted.
        var bobNode = Bob.Start();
        bobNode.AddContact(Alice.Account, "alice", null);
        var aliceNode = Alice.Start();
        await using var aliceTrail = new EventTrail(aliceNode);
        await using var bobTrail = new EventTrail(bobNode);
        var bob = aliceNode.AddContact(Bob.Account, "bob", Bob.Endpoint);
        await Eventually.HoldsAsync(() => aliceNode.IsOnline(bob) && Bob.FindContact(Alice) is { } alice && bobNode.IsOnline(alice), "both online");
        var aliceAccount = Alice.Account.Text;

        aliceNode.SetTyping(bob, true);
        await bobTrail.WaitForAsync<TypingChanged>(e => e.ContactAccount == aliceAccount && e.Active, "alice typing");
        aliceNode.SetTyping(bob, false);
        await bobTrail.WaitForAsync<TypingChanged>(e => e.ContactAccount == aliceAccount && !e.Active, "alice stopped typing");
        Assert.Equal([true, false], bobTrail.Of<TypingChanged>().Select(e => e.Active));

        // Bob answered the dial, so he is Bob of the ratchet: he can type once alice's session start has reached him.
        bobNode.SetTyping(Bob.ContactOf(Alice), true);
        var typing = await aliceTrail.WaitForAsync<TypingChanged>(e => e.Active, "bob typing");
        Assert.Equal(Bob.Account.Text, typing.ContactAccount);

        Assert.Empty(Alice.History(Bob));
        Assert.Empty(Bob.History(Alice));
    }
}
