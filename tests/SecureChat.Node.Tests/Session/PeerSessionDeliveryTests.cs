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
public sealed class PeerSessionDeliveryTests : TwoParties
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Bootstrap_EitherSideDials_TextsFlowBothWays(bool aliceDials)
    {
        var fromAlice = Alice.Send("hello bob");
        var fromBob = Bob.Send("hello alice");

        using var pair = aliceDials ? SessionPair.Run(Alice, Bob) : SessionPair.Run(Bob, Alice);

        Assert.Equal([fromAlice.Id], Bob.Store.Received.Select(m => m.MessageId));
        Assert.Equal([fromBob.Id], Alice.Store.Received.Select(m => m.MessageId));
        Assert.Equal("hello bob", Bob.Store.Received[0].Text);
        Assert.Equal(MessageState.Delivered, fromAlice.State);
        Assert.Equal(MessageState.Delivered, fromBob.State);
    }

    [Fact]
    public void Bootstrap_ExporterSecretsDiffer_FirstRatchetMessageFailsAndTheSessionIsForgotten()
    {
        using var pair = new SessionPair(Alice, Bob, answererExporter: new byte[32]).Start();

        pair.Settle();

        Assert.Equal(CloseReason.ProtocolViolation, Assert.Single(Bob.Closes).Reason);
        Assert.Contains("out of step", Bob.Closes[0].Text, StringComparison.Ordinal);
        Assert.False(Bob.Store.HasSession);
    }

    [Fact]
    public void Deliver_ManyTexts_StoredOnceInOrderSentThenDelivered()
    {
        var sent = Enumerable.Range(0, 23).Select(i => Alice.Send($"text {i}")).ToList();

        using var pair = SessionPair.Run(Alice, Bob);

        Assert.Equal(sent.Select(m => m.Id), Bob.Store.Received.Select(m => m.MessageId));
        Assert.Equal(sent.Select(m => m.Lamport), Bob.Store.Received.Select(m => m.Lamport));
        Assert.All(sent, m => Assert.Equal([MessageState.Sent, MessageState.Delivered], Alice.StatesOf(m.Id)));
        Assert.True(pair.DialerOutputs.Count(o => o.Frames.Count > 0) > 23 / Alice.Options.SendBatch, "the outbox goes in batches of SendBatch");
    }

    [Fact]
    public void Deliver_QueuedWhileOnline_GoesOnTheNextPump()
    {
        using var pair = SessionPair.Run(Alice, Bob);
        var text = Alice.Send("typed while connected");

        pair.Kick().Settle();

        Assert.Equal([text.Id], Bob.Store.Received.Select(m => m.MessageId));
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
            toBob.AddRange(Enumerable.Range(0, random.Next(4)).Select(i => Alice.Send($"a{round}.{i}")));
            toAlice.AddRange(Enumerable.Range(0, random.Next(4)).Select(i => Bob.Send($"b{round}.{i}")));
            using var pair = random.Next(2) == 0 ? new SessionPair(Alice, Bob) : new SessionPair(Bob, Alice);
            pair.Start().Settle(frameBudget: random.Next(30), oneByOne: random.Next(2) == 0);
            Alice.Time.Advance(TimeSpan.FromSeconds(1));
            Bob.Time.Advance(TimeSpan.FromSeconds(1));
        }

        SessionPair.RunOnce(Alice, Bob);

        Assert.Equal(toBob.Select(m => m.Id), Bob.Store.Received.Select(m => m.MessageId));
        Assert.Equal(toAlice.Select(m => m.Id), Alice.Store.Received.Select(m => m.MessageId));
        Assert.All(toBob.Concat(toAlice), m => Assert.Equal(MessageState.Delivered, m.State));
        Assert.Empty(Alice.Closes);
        Assert.Empty(Bob.Closes);
    }

    /// <summary>
    /// Bob stores the texts but the acknowledgements never reach Alice: the next connection sends
    /// them all again. Bob keeps each once and counts each once against Alice's quota.
    /// </summary>
    [Fact]
    public void Deliver_AcknowledgementsLost_ResentTextsStoredAndCountedOnce()
    {
        var sent = Enumerable.Range(0, 3).Select(i => Alice.Send($"text {i}")).ToList();
        using (var pair = new SessionPair(Alice, Bob).Start())
        {
            // Both hellos, then Alice's session start and three texts in one batch reach Bob; his acknowledgement is cut off.
            pair.Settle(frameBudget: 6);
        }

        Assert.Equal(3, Bob.Store.Received.Count);
        Assert.All(sent, m => Assert.Equal(MessageState.Sent, m.State));

        SessionPair.RunOnce(Alice, Bob);

        Assert.Equal(sent.Select(m => m.Id), Bob.Store.Received.Select(m => m.MessageId));
        Assert.All(sent, m => Assert.Equal(MessageState.Delivered, m.State));
        Assert.Equal(3, Bob.Quota.Usage(Bob.ContactOf(Alice), Bob.Now).Messages);
    }

    /// <summary>
    /// Bob's store fails while it takes three texts: nothing is stored, nothing acknowledged,
    /// nothing counted against Alice's quota; the shell drops the connection and the next one
    /// delivers them.
    /// </summary>
    [Fact]
    public void Deliver_StoreWriteFails_NothingAcknowledgedOrCountedAndTheNextConnectionDelivers()
    {
        var sent = Enumerable.Range(0, 3).Select(i => Alice.Send($"text {i}")).ToList();
        Bob.Store.FailNextReceive = true;

        using (var pair = new SessionPair(Alice, Bob).Start())
        {
            Assert.Throws<StoreException>(() => pair.Settle());
        }

        Assert.Empty(Bob.Store.Received);
        Assert.All(sent, m => Assert.Equal(MessageState.Sent, m.State));
        Assert.Equal(0, Bob.Quota.Usage(Bob.ContactOf(Alice), Bob.Now).Messages);

        SessionPair.RunOnce(Alice, Bob);

        Assert.Equal(sent.Select(m => m.Id), Bob.Store.Received.Select(m => m.MessageId));
        Assert.Equal(3, Bob.Quota.Usage(Bob.ContactOf(Alice), Bob.Now).Messages);
    }

    [Fact]
    public void Deliver_SecondHelloAfterTheFirst_ClosesWithProtocolViolation()
    {
        using var pair = new SessionPair(Alice, Bob).Start();
        pair.Settle();
        var hello = pair.DialerOutputs[0].Frames[0];

        var output = pair.Answerer.Receive([hello], Bob.Now);

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
        SessionPair.RunOnce(Alice, Bob);

        var sent = Enumerable.Range(0, 4).Select(i => Alice.Send($"text {i}")).ToList();
        using var pair = new SessionPair(Alice, Bob).Start();
        pair.Settle(shuffle: batch => [.. batch.TakeWhile(IsHello), .. batch.SkipWhile(IsHello).Reverse()]);

        Assert.Equal(sent.Select(m => m.Id).Order(), Bob.Store.Received.Select(m => m.MessageId).Order());
        Assert.Equal(sent.Select(m => m.Id), Bob.Store.Received.OrderBy(m => m.Lamport).Select(m => m.MessageId));
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
        var early = Alice.Send("queued before both dials");
        var aliceDial = new SessionPair(Alice, Bob).Start();
        var bobDial = new SessionPair(Bob, Alice).Start();
        aliceDial.Settle(frameBudget: 2, cutWhenSpent: false);
        bobDial.Settle(frameBudget: 2, cutWhenSpent: false);
        Assert.True(aliceDial.Dialer.IsOnline && bobDial.Dialer.IsOnline);

        var (kept, dropped) = keepAlicesDial ? (aliceDial, bobDial) : (bobDial, aliceDial);
        dropped.Dispose();
        var fromBob = Bob.Send("on the kept connection");
        kept.Kick().Settle();
        kept.Dispose();

        var late = Alice.Send("on a later connection");
        SessionPair.RunOnce(Bob, Alice);

        Assert.Equal([early.Id, late.Id], Bob.Store.Received.Select(m => m.MessageId));
        Assert.Equal([fromBob.Id], Alice.Store.Received.Select(m => m.MessageId));
        Assert.All(new[] { early, late, fromBob }, m => Assert.Equal(MessageState.Delivered, m.State));
    }
}
