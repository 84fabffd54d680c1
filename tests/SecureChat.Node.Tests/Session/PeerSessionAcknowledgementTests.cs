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
public sealed class PeerSessionAcknowledgementTests : IDisposable
{
    private readonly Party _alice = new("alice");
    private readonly Party _bob = new("bob");

    public void Dispose()
    {
        _alice.Dispose();
        _bob.Dispose();
    }

    /// <summary>
    /// A batch of texts and the session start is acknowledged by one delivered envelope, written
    /// after the store kept them; the delivered envelope itself is not acknowledged, so nothing
    /// more moves.
    /// </summary>
    [Fact]
    public void Delivered_OneBatchReceived_OneAcknowledgementAndNoneForIt()
    {
        var sent = Enumerable.Range(0, 3).Select(i => _alice.Send($"text {i}")).ToList();

        using var pair = SessionPair.Run(_alice, _bob);

        Assert.Equal((4, 1), pair.RatchetFrames);
        Assert.All(sent, m => Assert.Equal([MessageState.Sent, MessageState.Delivered], _alice.StatesOf(m.Id)));
    }

    /// <summary>A resent text Bob already has is acknowledged again (its first acknowledgement was lost), not stored again.</summary>
    [Fact]
    public void Delivered_TextAlreadyStored_AcknowledgedAgainNotStoredAgain()
    {
        var text = _alice.Send("twice on the wire");
        using (var pair = new SessionPair(_alice, _bob) { Wire = (fromDialer, frame) => fromDialer ? [frame] : IsHello(frame) ? [frame] : [] }.Start())
        {
            pair.Settle();
        }

        Assert.Single(_bob.Store.Received);
        Assert.Equal(MessageState.Sent, text.State);

        using var next = SessionPair.Run(_alice, _bob);

        Assert.Single(_bob.Store.Received);
        Assert.Equal(MessageState.Delivered, text.State);
        Assert.Empty(next.AnswererOutputs.SelectMany(o => o.Received));
    }

    /// <summary>The person saw only some texts: the receipt moves those to read, the others stay delivered.</summary>
    [Fact]
    public void ReadReceipt_SomeTextsSeen_OnlyThoseMoveToRead()
    {
        var sent = Enumerable.Range(0, 3).Select(i => _alice.Send($"text {i}")).ToList();
        using var pair = SessionPair.Run(_alice, _bob);

        _bob.Store.MarkSeen(sent[0].Id, sent[2].Id);
        pair.Kick().Settle();

        Assert.Equal([MessageState.Read, MessageState.Delivered, MessageState.Read], sent.Select(m => m.State));
        Assert.Empty(_bob.Store.Receipts);
    }

    /// <summary>
    /// Bob's acknowledgement of a text is lost, then he reads it: his receipt reaches Alice before
    /// the text is acknowledged again on the next connection. The text goes to read and stays
    /// there; the late acknowledgement does not move it back (6.5).
    /// </summary>
    [Fact]
    public void ReadReceipt_BeforeTheAcknowledgement_StateNeverMovesBack()
    {
        var text = _alice.Send("read before delivered");
        using (var pair = new SessionPair(_alice, _bob) { Wire = (fromDialer, frame) => fromDialer || IsHello(frame) ? [frame] : [] }.Start())
        {
            pair.Settle();
        }

        Assert.Equal(MessageState.Sent, text.State);
        _bob.Store.MarkAllSeen();

        SessionPair.RunOnce(_bob, _alice);

        Assert.Equal(MessageState.Read, text.State);
        Assert.Equal([MessageState.Sent, MessageState.Read], _alice.StatesOf(text.Id));
        Assert.Empty(_bob.Store.Receipts);
        Assert.Single(_bob.Store.Received);
    }

    /// <summary>Typing notices go only while connected: one set before the hellos waits for the session, and none is stored or acknowledged.</summary>
    [Fact]
    public void Typing_SetBeforeTheSessionIsChosen_GoesOnceItIs()
    {
        using var pair = new SessionPair(_alice, _bob);
        pair.Dialer.Typing(true);
        pair.Start().Settle();

        Assert.Equal([true], _bob.Events.OfType<TypingChanged>().Select(e => e.Active));
        Assert.Empty(_bob.Store.Received);
    }

    /// <summary>Bob answered, so he cannot encrypt until Alice's session start reaches him: his typing notice then goes, it is not lost.</summary>
    [Fact]
    public void Typing_BobBeforeHeCanEncrypt_GoesOnceAlicesSessionStartArrives()
    {
        using var pair = new SessionPair(_alice, _bob).Start();
        pair.Answerer.Typing(true);

        pair.Settle();

        Assert.Equal([true], _alice.Events.OfType<TypingChanged>().Select(e => e.Active));
    }

    private static bool IsHello(byte[] frame) => NodeWire.TryParseFrame(frame, out var parsed) && parsed.FrameCase == NodeFrame.FrameOneofCase.Hello;
}
