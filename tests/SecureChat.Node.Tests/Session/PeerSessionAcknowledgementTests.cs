using SecureChat.Protocol.Messages;
using SecureChat.Protocol.Messages.Wire;
using SecureChat.Storage;

namespace SecureChat.Node.Tests.Session;

/// <summary>
/// Acknowledgements and read receipts rule by rule (docs/protocol.md 6.4, 6.5): one delivered
/// envelope per received batch, states that only move forward, receipts for what the person saw.
/// DeliveryTests.Send_BothOnline_DeliveredOnceAndReceiptsMoveStates stays as the integration test
/// over sockets and the real store.
/// </summary>
public sealed class PeerSessionAcknowledgementTests : TwoParties
{
    /// <summary>
    /// A batch of texts and the session start is acknowledged by one delivered envelope, written
    /// after the store kept them; the delivered envelope itself is not acknowledged, so nothing
    /// more moves.
    /// </summary>
    [Fact]
    public void Delivered_OneBatchReceived_OneAcknowledgementAndNoneForIt()
    {
        var sent = Enumerable.Range(0, 3).Select(i => Alice.Send($"text {i}")).ToList();

        using var pair = SessionPair.Run(Alice, Bob);

        Assert.Equal((4, 1), pair.RatchetFrames);
        Assert.All(sent, m => Assert.Equal([MessageState.Sent, MessageState.Delivered], Alice.StatesOf(m.Id)));
    }

    /// <summary>A resent text Bob already has is acknowledged again (its first acknowledgement was lost), not stored again.</summary>
    [Fact]
    public void Delivered_TextAlreadyStored_AcknowledgedAgainNotStoredAgain()
    {
        var text = Alice.Send("twice on the wire");
        using (var pair = new SessionPair(Alice, Bob) { Wire = (fromDialer, frame) => fromDialer ? [frame] : IsHello(frame) ? [frame] : [] }.Start())
        {
            pair.Settle();
        }

        Assert.Single(Bob.Store.Received);
        Assert.Equal(MessageState.Sent, text.State);

        using var next = SessionPair.Run(Alice, Bob);

        Assert.Single(Bob.Store.Received);
        Assert.Equal(MessageState.Delivered, text.State);
        Assert.Empty(next.AnswererOutputs.SelectMany(o => o.Received));
    }

    /// <summary>The person saw only some texts: the receipt moves those to read, the others stay delivered.</summary>
    [Fact]
    public void ReadReceipt_SomeTextsSeen_OnlyThoseMoveToRead()
    {
        var sent = Enumerable.Range(0, 3).Select(i => Alice.Send($"text {i}")).ToList();
        using var pair = SessionPair.Run(Alice, Bob);

        Bob.Store.MarkSeen(sent[0].Id, sent[2].Id);
        pair.Kick().Settle();

        Assert.Equal([MessageState.Read, MessageState.Delivered, MessageState.Read], sent.Select(m => m.State));
        Assert.Empty(Bob.Store.Receipts);
    }

    /// <summary>
    /// Bob's acknowledgement of a text is lost, then he reads it: his receipt reaches Alice before
    /// the text is acknowledged again on the next connection. The text goes to read and stays
    /// there; the late acknowledgement does not move it back (6.5).
    /// </summary>
    [Fact]
    public void ReadReceipt_BeforeTheAcknowledgement_StateNeverMovesBack()
    {
        var text = Alice.Send("read before delivered");
        using (var pair = new SessionPair(Alice, Bob) { Wire = (fromDialer, frame) => fromDialer || IsHello(frame) ? [frame] : [] }.Start())
        {
            pair.Settle();
        }

        Assert.Equal(MessageState.Sent, text.State);
        Bob.Store.MarkAllSeen();

        SessionPair.RunOnce(Bob, Alice);

        Assert.Equal(MessageState.Read, text.State);
        Assert.Equal([MessageState.Sent, MessageState.Read], Alice.StatesOf(text.Id));
        Assert.Empty(Bob.Store.Receipts);
        Assert.Single(Bob.Store.Received);
    }

    /// <summary>Typing notices go only while connected: one set before the hellos waits for the session, and none is stored or acknowledged.</summary>
    [Fact]
    public void Typing_SetBeforeTheSessionIsChosen_GoesOnceItIs()
    {
        using var pair = new SessionPair(Alice, Bob);
        pair.Dialer.Typing(true);
        pair.Start().Settle();

        Assert.Equal([true], Bob.Events.OfType<TypingChanged>().Select(e => e.Active));
        Assert.Empty(Bob.Store.Received);
    }

    /// <summary>Bob answered, so he cannot encrypt until Alice's session start reaches him: his typing notice then goes, it is not lost.</summary>
    [Fact]
    public void Typing_BobBeforeHeCanEncrypt_GoesOnceAlicesSessionStartArrives()
    {
        using var pair = new SessionPair(Alice, Bob).Start();
        pair.Answerer.Typing(true);

        pair.Settle();

        Assert.Equal([true], Alice.Events.OfType<TypingChanged>().Select(e => e.Active));
    }

    private static bool IsHello(byte[] frame) => NodeWire.TryParseFrame(frame, out var parsed) && parsed.FrameCase == NodeFrame.FrameOneofCase.Hello;
}
