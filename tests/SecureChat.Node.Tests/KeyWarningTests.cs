using SecureChat.Storage;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.Node.Tests;

/// <summary>
/// A contact's address answered with another key: the node refuses the peer, keeps the warning
/// until the person has seen it, and holds back everything queued for the contact. Here bob's node
/// stops and carol, another account, takes over bob's port, as an attacker on the path or a new
/// tenant of the address would.
/// </summary>
public sealed class KeyWarningTests(ITestOutputHelper output) : TwoNodeTests(output)
{
    private readonly NodeHome _carol = new("carol", new TestOutputLogger(output, "carol"), NodeHome.NotListening);
    private readonly CancellationTokenSource _deadline = new(Eventually.Deadline);
    private EventTrail? _aliceTrail;

    public override async Task DisposeAsync()
    {
        if (_aliceTrail is not null)
        {
            await _aliceTrail.DisposeAsync();
        }

        await base.DisposeAsync();
        await _carol.DisposeAsync();
        _deadline.Dispose();
    }

    [Fact]
    public async Task Redial_AnotherAccountAtTheContactsAddress_WarnsKeepsTheMessageQueuedAndPinsNothing()
    {
        var (aliceNode, aliceTrail, bob) = await AliceMeetsBobThenCarolTakesHisPortAsync();

        var problem = await aliceTrail.WaitForAsync<ConnectionProblem>(p => p.KeyChanged, "a key change reported");
        var queued = aliceNode.Send(bob, "are you still bob?");
        await Eventually.HoldsAsync(
            () => aliceTrail.Of<ConnectionProblem>().Count(p => p.KeyChanged) >= 2,
            "alice's redial after queueing refused too");

        Assert.Equal(Bob.Account.Text, problem.ContactAccount);
        Assert.Equal(Bob.Endpoint, problem.Endpoint);
        Assert.Equal(problem.Message, aliceNode.KeyWarning(bob));
        Assert.StartsWith($"Refused: {Bob.Endpoint} used to be 'bob' ({Bob.Account.Text}), but now presents another key, {_carol.Account.Text}", problem.Message, StringComparison.Ordinal);
        Assert.Contains(_carol.Account.Fingerprint, problem.Message, StringComparison.Ordinal);
        Assert.All(aliceTrail.Of<ConnectionProblem>().Where(p => p.KeyChanged), p => Assert.Equal(Bob.Account.Text, p.ContactAccount));
        Assert.False(aliceNode.IsOnline(bob));
        Assert.Equal(1, Alice.Store.Outbox.Count());
        Assert.Equal(MessageState.Queued, Alice.History(Bob).Single(m => m.MessageId == queued.MessageId).State);
        Assert.Null(Alice.FindContact(_carol));
        Assert.Equal(0, _carol.CountWith(Alice));
        Assert.Equal(Bob.Identity.Certificate.Encoded.ToArray(), Alice.ContactOf(Bob).DecodeCertificate()?.Encoded.ToArray());
        Assert.Equal([Bob.Endpoint], Alice.ContactOf(Bob).Endpoints);
        Assert.DoesNotContain(aliceTrail.Of<ContactChanged>(), e => e.Contact.Account == _carol.Account.Text);
    }

    /// <summary>
    /// The person dismisses the warning while alice's node goes on redialing bob's address, where
    /// carol still answers: each dial is refused, and none raises the warning again. Alice's link
    /// reports refusals on its own thread, so a report may race the dismissal; whatever it
    /// published came before the dismissal's ContactChanged. (This test once counted the trail's
    /// warnings right after dismissing, while the trail, which reads the node's events on a task
    /// of its own, had not yet recorded one published before the dismissal: "expected 1, actual 2".)
    /// </summary>
    [Fact]
    public async Task DismissKeyWarning_SameKeyRefusedAgainAfterwards_IsNotWarnedAgain()
    {
        var (aliceNode, aliceTrail, bob) = await AliceMeetsBobThenCarolTakesHisPortAsync();
        await aliceTrail.WaitForAsync<ConnectionProblem>(p => p.KeyChanged, "a key change reported");
        Assert.True(aliceNode.DismissKeyWarning(bob));
        await aliceTrail.WaitForAsync<ContactChanged>(e => !e.IsNew && e.Contact.Account == Bob.Account.Text, "the dismissal announced");

        // Alice's node goes on dialing bob's address, where carol still answers, and refuses her
        // each time: a second admission at carol's means the dial before it was refused and reported.
        var dials = _carol.Node.Inbound!.Admitted;
        aliceNode.Send(bob, "anyone there?");
        await Eventually.HoldsAsync(() => _carol.Node.Inbound!.Admitted >= dials + 2, "two more of alice's dials at carol's port", () => $"{_carol.Node.Inbound}");

        Assert.Null(aliceNode.KeyWarning(bob));
        var events = aliceTrail.Of<NodeEvent>();
        var dismissal = events.FindIndex(e => e is ContactChanged { IsNew: false });
        Assert.DoesNotContain(events.Skip(dismissal + 1), e => e is ConnectionProblem { KeyChanged: true });
        Assert.Equal(1, Alice.Store.Outbox.Count());
    }

    [Fact]
    public async Task DismissKeyWarning_AfterTheRealContactReturns_ClearsItPublishesContactChangedAndTheQueuedMessageGoes()
    {
        var (aliceNode, aliceTrail, bob) = await AliceMeetsBobThenCarolTakesHisPortAsync();
        await aliceTrail.WaitForAsync<ConnectionProblem>(p => p.KeyChanged, "a key change reported");
        var queued = aliceNode.Send(bob, "is that you?");

        // Carol leaves and bob comes back to his port: nothing can raise the warning again.
        await _carol.StopAsync();
        Bob.Start();
        await Eventually.HoldsAsync(() => aliceNode.IsOnline(bob), "alice online with the real bob again");
        await Eventually.HoldsAsync(() => Bob.History(Alice).Any(m => m.MessageId == queued.MessageId), "the queued message delivered to bob");
        Assert.NotNull(aliceNode.KeyWarning(bob));

        var dismissed = aliceNode.DismissKeyWarning(bob);
        var changed = await aliceTrail.WaitForAsync<ContactChanged>(e => !e.IsNew && e.Contact.Account == Bob.Account.Text, "bob's record announced as changed");
        var again = aliceNode.DismissKeyWarning(bob);

        Assert.True(dismissed);
        Assert.Null(aliceNode.KeyWarning(bob));
        Assert.Equal(Bob.Account.Text, changed.Contact.Account);
        Assert.False(again);
        Assert.Single(aliceTrail.Of<ContactChanged>(), e => !e.IsNew);
    }

    [Fact]
    public async Task DismissKeyWarning_NoWarning_ReturnsFalseAndPublishesNothing()
    {
        var aliceNode = Alice.Start();
        await using var aliceTrail = new EventTrail(aliceNode);
        var bob = aliceNode.AddContact(Bob.Account, "bob", null);

        Assert.Null(aliceNode.KeyWarning(bob));
        Assert.False(aliceNode.DismissKeyWarning(bob));
        await aliceTrail.WaitForAsync<ContactChanged>(e => e.IsNew, "bob added");
        Assert.DoesNotContain(aliceTrail.Of<ContactChanged>(), e => !e.IsNew);
    }

    [Fact]
    public async Task RemoveContactAsync_WithAKeyWarning_PublishesContactRemovedAndForgetsTheWarning()
    {
        var (aliceNode, aliceTrail, bob) = await AliceMeetsBobThenCarolTakesHisPortAsync();
        await aliceTrail.WaitForAsync<ConnectionProblem>(p => p.KeyChanged, "a key change reported");
        aliceNode.Send(bob, "never sent");

        var removed = await aliceNode.RemoveContactAsync(bob);
        var announced = await aliceTrail.WaitForAsync<ContactRemoved>(_ => true, "bob's removal announced");

        Assert.Equal(Bob.Account.Text, announced.ContactAccount);
        Assert.Equal(2, removed);
        Assert.Null(aliceNode.KeyWarning(bob));
        Assert.Null(Alice.FindContact(Bob));
        Assert.Equal(0, Alice.Store.Outbox.Count());
        Assert.Null(Alice.FindContact(_carol));
        Assert.Single(aliceTrail.Of<ContactRemoved>());
    }

    /// <summary>
    /// Alice adds bob at his address and meets him there (which pins his key to it); one message
    /// goes through. Then bob's node stops and carol listens on his port, so alice's redials reach carol.
    /// The trail records alice's events from then on; the test class disposes it.
    /// </summary>
    private async Task<(ChatNode AliceNode, EventTrail AliceTrail, Contact Bob)> AliceMeetsBobThenCarolTakesHisPortAsync()
    {
        var aliceNode = Alice.Start();
        Bob.Start();
        var bob = aliceNode.AddContact(Bob.Account, "bob", Bob.Endpoint);
        aliceNode.Send(bob, "hi bob");
        await Eventually.HoldsAsync(() => Alice.Store.Outbox.Count() == 0 && aliceNode.IsOnline(bob), "alice's first message delivered to bob");
        Assert.NotNull(Alice.ContactOf(Bob).DecodeCertificate());

        await Bob.StopAsync();
        await Eventually.HoldsAsync(() => !aliceNode.IsOnline(bob), "alice sees bob gone");
        var aliceTrail = _aliceTrail = new EventTrail(aliceNode);
        await _carol.Start().StartListeningAsync("127.0.0.1", Bob.Port, _deadline.Token);
        return (aliceNode, aliceTrail, bob);
    }
}
