using SecureChat.Storage;

namespace SecureChat.Node.Tests.Session;

/// <summary>Read receipts and typing notices (docs/protocol.md 6.8, 6.9), two sessions in memory.</summary>
public sealed class PeerSessionReceiptTests : TwoParties
{
    [Fact]
    public void ReadReceipt_PersonReads_SenderSeesReadAndTheReceiptIsDone()
    {
        var text = Alice.Send("read me");
        using var pair = SessionPair.Run(Alice, Bob);
        Assert.Equal(MessageState.Delivered, text.State);

        Bob.Store.MarkAllSeen();
        pair.Kick().Settle();

        Assert.Equal(MessageState.Read, text.State);
        Assert.Equal([MessageState.Sent, MessageState.Delivered, MessageState.Read], Alice.StatesOf(text.Id));
        Assert.Empty(Bob.Store.Receipts);
    }

    [Fact]
    public void ReadReceipt_AcknowledgementLost_SentAgainOnTheNextConnectionAndCountedOnce()
    {
        var text = Alice.Send("read me");
        SessionPair.RunOnce(Alice, Bob);

        var receipt = Bob.Store.MarkAllSeen();
        using (var pair = new SessionPair(Bob, Alice).Start())
        {
            // The hellos, then Bob's receipt reaches Alice; her acknowledgement is lost.
            pair.Settle(frameBudget: 3, oneByOne: true);
        }

        Assert.Equal(MessageState.Read, text.State);
        Assert.Equal([receipt], Bob.Store.Receipts);

        SessionPair.RunOnce(Bob, Alice);

        Assert.Empty(Bob.Store.Receipts);
        Assert.Single(Alice.StatesOf(text.Id), MessageState.Read);
    }

    [Fact]
    public void Typing_Active_PeerGetsTheEventAndNothingIsStored()
    {
        using var pair = SessionPair.Run(Alice, Bob);

        pair.Dialer.Typing(true);
        pair.Kick().Settle();
        pair.Dialer.Typing(false);
        pair.Kick().Settle();

        Assert.Equal(
            [new TypingChanged(Alice.Identity.Account.Text, true), new TypingChanged(Alice.Identity.Account.Text, false)],
            Bob.Events.OfType<TypingChanged>());
        Assert.Empty(Bob.Store.Received);
        Assert.Empty(Alice.Events.OfType<MessageStateChanged>());
    }
}
