using SecureChat.Storage;

namespace SecureChat.Node.Tests.Session;

/// <summary>Read receipts and typing notices (docs/protocol.md 6.8, 6.9), two sessions in memory.</summary>
public sealed class PeerSessionReceiptTests : IDisposable
{
    private readonly Party _alice = new("alice");
    private readonly Party _bob = new("bob");

    public void Dispose()
    {
        _alice.Dispose();
        _bob.Dispose();
    }

    [Fact]
    public void ReadReceipt_PersonReads_SenderSeesReadAndTheReceiptIsDone()
    {
        var text = _alice.Send("read me");
        using var pair = SessionPair.Run(_alice, _bob);
        Assert.Equal(MessageState.Delivered, text.State);

        _bob.Store.MarkAllSeen();
        pair.Kick().Settle();

        Assert.Equal(MessageState.Read, text.State);
        Assert.Equal([MessageState.Sent, MessageState.Delivered, MessageState.Read], _alice.StatesOf(text.Id));
        Assert.Empty(_bob.Store.Receipts);
    }

    [Fact]
    public void ReadReceipt_AcknowledgementLost_SentAgainOnTheNextConnectionAndCountedOnce()
    {
        var text = _alice.Send("read me");
        SessionPair.RunOnce(_alice, _bob);

        var receipt = _bob.Store.MarkAllSeen();
        using (var pair = new SessionPair(_bob, _alice).Start())
        {
            // The hellos, then Bob's receipt reaches Alice; her acknowledgement is lost.
            pair.Settle(frameBudget: 3, oneByOne: true);
        }

        Assert.Equal(MessageState.Read, text.State);
        Assert.Equal([receipt], _bob.Store.Receipts);

        SessionPair.RunOnce(_bob, _alice);

        Assert.Empty(_bob.Store.Receipts);
        Assert.Single(_alice.StatesOf(text.Id), MessageState.Read);
    }

    [Fact]
    public void Typing_Active_PeerGetsTheEventAndNothingIsStored()
    {
        using var pair = SessionPair.Run(_alice, _bob);

        pair.Dialer.Typing(true);
        pair.Kick().Settle();
        pair.Dialer.Typing(false);
        pair.Kick().Settle();

        Assert.Equal(
            [new TypingChanged(_alice.Identity.Account.Text, true), new TypingChanged(_alice.Identity.Account.Text, false)],
            _bob.Events.OfType<TypingChanged>());
        Assert.Empty(_bob.Store.Received);
        Assert.Empty(_alice.Events.OfType<MessageStateChanged>());
    }
}
