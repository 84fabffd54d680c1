using System.Diagnostics.CodeAnalysis;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Messages;
using SecureChat.Storage;

namespace SecureChat.Node.Tests.Session;

/// <summary>
/// Delivery through cut connections, lost and repeated frames, and crossing dials (docs/protocol.md
/// 6.4-6.6): every text is stored once, in the order it was sent, or is still in the outbox.
/// </summary>
[SuppressMessage("Security", "CA5394:Do not use insecure randomness", Justification = "The cut points must be reproducible from a fixed seed; no key is drawn from it.")]
public sealed class PeerSessionDeliveryTests : IDisposable
{
    private readonly Party _alice = new("alice");
    private readonly Party _bob = new("bob");

    public void Dispose()
    {
        _alice.Dispose();
        _bob.Dispose();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Bootstrap_EitherSideDials_TextsFlowBothWays(bool aliceDials)
    {
        var fromAlice = _alice.Send("hello bob");
        var fromBob = _bob.Send("hello alice");

        using var pair = aliceDials ? SessionPair.Run(_alice, _bob) : SessionPair.Run(_bob, _alice);

        Assert.Equal([fromAlice.Id], _bob.Store.Received.Select(m => m.MessageId));
        Assert.Equal([fromBob.Id], _alice.Store.Received.Select(m => m.MessageId));
        Assert.Equal("hello bob", _bob.Store.Received[0].Text);
        Assert.Equal(MessageState.Delivered, fromAlice.State);
        Assert.Equal(MessageState.Delivered, fromBob.State);
    }

    [Fact]
    public void Bootstrap_ExporterSecretsDiffer_FirstRatchetMessageFailsAndTheSessionIsForgotten()
    {
        using var pair = new SessionPair(_alice, _bob, answererExporter: new byte[32]).Start();

        pair.Settle();

        Assert.Equal(CloseReason.ProtocolViolation, Assert.Single(_bob.Closes).Reason);
        Assert.Contains("out of step", _bob.Closes[0].Text, StringComparison.Ordinal);
        Assert.False(_bob.Store.HasSession);
    }

    [Fact]
    public void Deliver_ManyTexts_StoredOnceInOrderSentThenDelivered()
    {
        var sent = Enumerable.Range(0, 23).Select(i => _alice.Send($"text {i}")).ToList();

        using var pair = SessionPair.Run(_alice, _bob);

        Assert.Equal(sent.Select(m => m.Id), _bob.Store.Received.Select(m => m.MessageId));
        Assert.Equal(sent.Select(m => m.Lamport), _bob.Store.Received.Select(m => m.Lamport));
        Assert.All(sent, m => Assert.Equal([MessageState.Sent, MessageState.Delivered], _alice.StatesOf(m.Id)));
        Assert.True(pair.DialerOutputs.Count(o => o.Frames.Count > 0) > 23 / _alice.Options.SendBatch, "the outbox goes in batches of SendBatch");
    }

    [Fact]
    public void Deliver_QueuedWhileOnline_GoesOnTheNextPump()
    {
        using var pair = SessionPair.Run(_alice, _bob);
        var text = _alice.Send("typed while connected");

        pair.Kick().Settle();

        Assert.Equal([text.Id], _bob.Store.Received.Select(m => m.MessageId));
        Assert.Equal(MessageState.Delivered, text.State);
    }

    /// <summary>
    /// The connection is cut after every possible number of frames, then a new one (a new pair of
    /// sessions, loaded from the stores as after a restart) runs to the end. Whatever was lost,
    /// each text is stored once, in order, and no session is ever out of step: a frame is never
    /// sent under a ratchet state the store did not hold.
    /// </summary>
    [Fact]
    public void Deliver_ConnectionCutAfterEachFrameCount_EachTextStoredOnceInOrderBothWays()
    {
        for (var budget = 0; budget < 40; budget++)
        {
            using var alice = new Party("alice");
            using var bob = new Party("bob");
            var toBob = Enumerable.Range(0, 6).Select(i => alice.Send($"a{i}")).ToList();
            var toAlice = Enumerable.Range(0, 6).Select(i => bob.Send($"b{i}")).ToList();

            using (var first = new SessionPair(alice, bob).Start())
            {
                first.Settle(frameBudget: budget, oneByOne: true);
            }

            SessionPair.RunOnce(bob, alice);

            Assert.Equal(toBob.Select(m => m.Id), bob.Store.Received.Select(m => m.MessageId));
            Assert.Equal(toAlice.Select(m => m.Id), alice.Store.Received.Select(m => m.MessageId));
            Assert.All(toBob.Concat(toAlice), m => Assert.Equal(MessageState.Delivered, m.State));
            Assert.Empty(alice.Closes);
            Assert.Empty(bob.Closes);
        }
    }

    /// <summary>Many connections, each cut at a random point, texts queued between them: the end state is exact.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Deliver_RandomCutsAndReconnects_EachTextStoredExactlyOnceInOrder(int seed)
    {
        var random = new Random(seed);
        var toBob = new List<MemoryOutgoing>();
        var toAlice = new List<MemoryOutgoing>();
        for (var round = 0; round < 25; round++)
        {
            toBob.AddRange(Enumerable.Range(0, random.Next(4)).Select(i => _alice.Send($"a{round}.{i}")));
            toAlice.AddRange(Enumerable.Range(0, random.Next(4)).Select(i => _bob.Send($"b{round}.{i}")));
            using var pair = random.Next(2) == 0 ? new SessionPair(_alice, _bob) : new SessionPair(_bob, _alice);
            pair.Start().Settle(frameBudget: random.Next(30), oneByOne: random.Next(2) == 0);
            _alice.Time.Advance(TimeSpan.FromSeconds(1));
            _bob.Time.Advance(TimeSpan.FromSeconds(1));
        }

        SessionPair.RunOnce(_alice, _bob);

        Assert.Equal(toBob.Select(m => m.Id), _bob.Store.Received.Select(m => m.MessageId));
        Assert.Equal(toAlice.Select(m => m.Id), _alice.Store.Received.Select(m => m.MessageId));
        Assert.All(toBob.Concat(toAlice), m => Assert.Equal(MessageState.Delivered, m.State));
        Assert.Empty(_alice.Closes);
        Assert.Empty(_bob.Closes);
    }

    /// <summary>
    /// Bob stores the texts but the acknowledgements never reach Alice: the next connection sends
    /// them all again. Bob keeps each once and counts each once against Alice's quota.
    /// </summary>
    [Fact]
    public void Deliver_AcknowledgementsLost_ResentTextsStoredAndCountedOnce()
    {
        var sent = Enumerable.Range(0, 3).Select(i => _alice.Send($"text {i}")).ToList();
        using (var pair = new SessionPair(_alice, _bob).Start())
        {
            // Both hellos, then Alice's session start and three texts in one batch reach Bob; his acknowledgement is cut off.
            pair.Settle(frameBudget: 6);
        }

        Assert.Equal(3, _bob.Store.Received.Count);
        Assert.All(sent, m => Assert.Equal(MessageState.Sent, m.State));

        SessionPair.RunOnce(_alice, _bob);

        Assert.Equal(sent.Select(m => m.Id), _bob.Store.Received.Select(m => m.MessageId));
        Assert.All(sent, m => Assert.Equal(MessageState.Delivered, m.State));
        Assert.Equal(3, _bob.Quota.Usage(_bob.ContactOf(_alice), _bob.Now).Messages);
    }

    /// <summary>
    /// Bob's store fails while it takes three texts: nothing is stored, nothing acknowledged,
    /// nothing counted against Alice's quota; the shell drops the connection and the next one
    /// delivers them.
    /// </summary>
    [Fact]
    public void Deliver_StoreWriteFails_NothingAcknowledgedOrCountedAndTheNextConnectionDelivers()
    {
        var sent = Enumerable.Range(0, 3).Select(i => _alice.Send($"text {i}")).ToList();
        _bob.Store.FailNextReceive = true;

        using (var pair = new SessionPair(_alice, _bob).Start())
        {
            Assert.Throws<StoreException>(() => pair.Settle());
        }

        Assert.Empty(_bob.Store.Received);
        Assert.All(sent, m => Assert.Equal(MessageState.Sent, m.State));
        Assert.Equal(0, _bob.Quota.Usage(_bob.ContactOf(_alice), _bob.Now).Messages);

        SessionPair.RunOnce(_alice, _bob);

        Assert.Equal(sent.Select(m => m.Id), _bob.Store.Received.Select(m => m.MessageId));
        Assert.Equal(3, _bob.Quota.Usage(_bob.ContactOf(_alice), _bob.Now).Messages);
    }

    [Fact]
    public void Deliver_SecondHelloAfterTheFirst_ClosesWithProtocolViolation()
    {
        using var pair = new SessionPair(_alice, _bob).Start();
        pair.Settle();
        var hello = pair.DialerOutputs[0].Frames[0];

        var output = pair.Answerer.Receive([hello], _bob.Now);

        Assert.Equal(CloseReason.ProtocolViolation, output.Close?.Reason);
        Assert.Contains("not a ratchet message", output.Close!.Text, StringComparison.Ordinal);
    }

    /// <summary>
    /// A channel never reorders, but the ratchet must take messages out of order (skipped keys):
    /// delivered in reverse, each text is stored once with the Lamport value that orders it.
    /// </summary>
    [Fact]
    public void Deliver_FramesOfABatchReversed_EachStoredOnceWithItsLamport()
    {
        SessionPair.RunOnce(_alice, _bob);

        var sent = Enumerable.Range(0, 4).Select(i => _alice.Send($"text {i}")).ToList();
        using var pair = new SessionPair(_alice, _bob).Start();
        pair.Settle(shuffle: batch => [.. batch.TakeWhile(IsHello), .. batch.SkipWhile(IsHello).Reverse()]);

        Assert.Equal(sent.Select(m => m.Id).Order(), _bob.Store.Received.Select(m => m.MessageId).Order());
        Assert.Equal(sent.Select(m => m.Id), _bob.Store.Received.OrderBy(m => m.Lamport).Select(m => m.MessageId));
        Assert.All(sent, m => Assert.Equal(MessageState.Delivered, m.State));
    }

    private static bool IsHello(byte[] frame) =>
        NodeWire.TryParseFrame(frame, out var parsed) && parsed.FrameCase == Protocol.Messages.Wire.NodeFrame.FrameOneofCase.Hello;

    /// <summary>
    /// Both nodes dial at once: two connections finish their hellos, each starting a session (the
    /// later one saved last). The link keeps one and closes the other; whichever it keeps, what
    /// follows, on it and on later connections, is delivered exactly once.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void CrossingDials_TwoConnectionsAtOnce_TheKeptOneAndLaterOnesDeliverExactlyOnce(bool keepAlicesDial)
    {
        var early = _alice.Send("queued before both dials");
        var aliceDial = new SessionPair(_alice, _bob).Start();
        var bobDial = new SessionPair(_bob, _alice).Start();
        aliceDial.Settle(frameBudget: 2, cutWhenSpent: false);
        bobDial.Settle(frameBudget: 2, cutWhenSpent: false);
        Assert.True(aliceDial.Dialer.IsOnline && bobDial.Dialer.IsOnline);

        var (kept, dropped) = keepAlicesDial ? (aliceDial, bobDial) : (bobDial, aliceDial);
        dropped.Dispose();
        var fromBob = _bob.Send("on the kept connection");
        kept.Kick().Settle();
        kept.Dispose();

        var late = _alice.Send("on a later connection");
        SessionPair.RunOnce(_bob, _alice);

        Assert.Equal([early.Id, late.Id], _bob.Store.Received.Select(m => m.MessageId));
        Assert.Equal([fromBob.Id], _alice.Store.Received.Select(m => m.MessageId));
        Assert.All(new[] { early, late, fromBob }, m => Assert.Equal(MessageState.Delivered, m.State));
    }
}
