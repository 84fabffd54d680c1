using System.Diagnostics.CodeAnalysis;
using SecureChat.Storage;

namespace SecureChat.Node.Tests.Session;

/// <summary>
/// Nodes that go away and come back (docs/protocol.md 6.2, 6.4): a party's store is all a restart
/// keeps, so a side rebuilt from it on a new connection is a node restarted. These were the
/// socket tests DeliveryTests.Send_ReceiverRestartsMidStream_EachMessageStoredOnceInOrder,
/// Send_BothDirectionsAtOnce_EachSideReceivesAllInOrder, MarkRead_WhileSenderOffline_SenderSeesReadAfterItRestarts
/// and SessionTests.Start_ReceiverLostItsSession_NewSessionStartsAndPendingMessagesArriveOnce and
/// Send_KeptSessionBobNotYetConfirmedAndBobDials_BobsTextArrives; the integration layer keeps
/// DeliveryTests.Send_WhileRecipientOffline_DeliveredWhenItStarts and
/// SessionTests.Start_BothRestartedWithStoresReopened_SavedSessionResumesAndMessagesFlow.
/// </summary>
[SuppressMessage("Security", "CA5394:Do not use insecure randomness", Justification = "The stop points must be reproducible from a fixed seed; no key is drawn from it.")]
public sealed class PeerSessionRestartTests : IDisposable
{
    private readonly Party _alice = new("alice", new NodeOptions { SendBatch = 8, MaxInFlight = 8 });
    private readonly Party _bob = new("bob");

    public void Dispose()
    {
        _alice.Dispose();
        _bob.Dispose();
    }

    /// <summary>No connection while Alice queues: the next one, whoever dials, carries the whole outbox in order.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Offline_TextsQueuedWhileNoConnection_DeliveredInOrderOnTheNext(bool aliceDials)
    {
        SessionPair.RunOnce(_alice, _bob);
        var sent = new[] { _alice.Send("are you there?"), _alice.Send("call me"), _alice.Send("it's about the keys") };
        Assert.All(sent, m => Assert.Equal(MessageState.Queued, m.State));

        using var pair = aliceDials ? SessionPair.Run(_alice, _bob) : SessionPair.Run(_bob, _alice);

        Assert.Equal(sent.Select(m => m.Id), _bob.Store.Received.Select(m => m.MessageId));
        Assert.Equal(sent.Select(m => m.Text), _bob.Store.Received.Select(m => m.Text));
        Assert.All(sent, m => Assert.Equal([MessageState.Sent, MessageState.Delivered], _alice.StatesOf(m.Id)));
    }

    /// <summary>
    /// Alice queues 500 texts, a few at a time, while Bob stops (the connection is cut, what is on
    /// the wire lost) and starts again from his store, at points drawn from a seed: some texts are
    /// lost in flight, some stored with their acknowledgement lost. Each is stored once, in order.
    /// </summary>
    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    public void Restart_ReceiverStopsAndStartsMidStream_EachTextStoredOnceInOrder(int seed)
    {
        var random = new Random(seed);
        var sent = new List<MemoryOutgoing>();
        var pair = SessionPair.Run(_alice, _bob);
        try
        {
            while (sent.Count < 500)
            {
                for (var i = random.Next(1, 12); i > 0 && sent.Count < 500; i--)
                {
                    sent.Add(_alice.Send($"message {sent.Count:D3}"));
                }

                pair.Kick().Settle(frameBudget: pair.Delivered + random.Next(1, 20), oneByOne: random.Next(2) == 0, cutWhenSpent: false);
                if (random.Next(4) == 0)
                {
                    // Bob stops: the connection is gone with what was on it; he starts again from his store.
                    pair.Dispose();
                    pair = random.Next(2) == 0 ? new SessionPair(_alice, _bob).Start() : new SessionPair(_bob, _alice).Start();
                }
            }

            pair.Kick().Settle();
        }
        finally
        {
            pair.Dispose();
        }

        SessionPair.RunOnce(_alice, _bob);

        Assert.Equal(sent.Select(m => m.Id), _bob.Store.Received.Select(m => m.MessageId));
        Assert.All(sent, m => Assert.Equal(MessageState.Delivered, m.State));
    }

    /// <summary>Both sides queue texts while the other does: each stores all of the other's, in order, once.</summary>
    [Fact]
    public void BothDirections_QueuedAtOnce_EachSideStoresAllOfTheOthersInOrder()
    {
        using var pair = SessionPair.Run(_alice, _bob);
        var fromAlice = new List<MemoryOutgoing>();
        var fromBob = new List<MemoryOutgoing>();
        for (var round = 0; round < 60; round++)
        {
            for (var i = 0; i < 5; i++)
            {
                fromAlice.Add(_alice.Send($"alice {fromAlice.Count:D3}"));
                fromBob.Add(_bob.Send($"bob {fromBob.Count:D3}"));
            }

            pair.Kick().Settle(frameBudget: pair.Delivered + 6, cutWhenSpent: false);
        }

        pair.Kick().Settle();

        Assert.Equal(fromAlice.Select(m => m.Id), _bob.Store.Received.Select(m => m.MessageId));
        Assert.Equal(fromBob.Select(m => m.Id), _alice.Store.Received.Select(m => m.MessageId));
        Assert.All(fromAlice.Concat(fromBob), m => Assert.Equal(MessageState.Delivered, m.State));
        Assert.True(_alice.Clock.Value > fromBob[^1].Lamport && _bob.Clock.Value > fromAlice[^1].Lamport, "each clock moved past what it saw");
    }

    /// <summary>Bob reads while Alice is away: the receipt waits in his store and moves her texts to read on the next connection, once.</summary>
    [Fact]
    public void ReadReceipt_MarkedWhileTheSenderIsAway_SenderSeesReadOnTheNextConnection()
    {
        var sent = new[] { _alice.Send("first"), _alice.Send("second") };
        SessionPair.RunOnce(_alice, _bob);
        Assert.All(sent, m => Assert.Equal(MessageState.Delivered, m.State));

        var receipt = _bob.Store.MarkAllSeen();
        Assert.Equal(sent.Select(m => m.Id).Order(), receipt.MessageIds.Order());
        Assert.Equal([receipt], _bob.Store.PendingReceipts(_bob.ContactOf(_alice)));

        SessionPair.RunOnce(_alice, _bob);

        Assert.All(sent, m => Assert.Equal([MessageState.Sent, MessageState.Delivered, MessageState.Read], _alice.StatesOf(m.Id)));
        Assert.Empty(_bob.Store.Receipts);
    }

    /// <summary>
    /// Bob lost his session while stopped (a damaged or deleted record); Alice queued texts meanwhile.
    /// The hellos differ, both start a new session (6.2), and the outbox goes under it, each text once;
    /// the new session carries Bob's answer back.
    /// </summary>
    [Fact]
    public void Restart_ReceiverLostItsSession_NewSessionStartsAndPendingTextsArriveOnce()
    {
        var first = _alice.Send("first");
        using (var pair = SessionPair.Run(_alice, _bob))
        {
            _bob.Send("first from bob");
            pair.Kick().Settle();
        }

        _bob.Store.SessionState = null;
        var pending = Enumerable.Range(1, 3).Select(i => _alice.Send($"sent while you were away {i}")).ToList();

        using var next = SessionPair.Run(_bob, _alice);
        var answer = _bob.Send("back again");
        next.Kick().Settle();

        Assert.Equal([first.Id, .. pending.Select(m => m.Id)], _bob.Store.Received.Select(m => m.MessageId));
        Assert.Equal(next.HandshakeHash[..16], next.Answerer.SessionId.ToArray());
        Assert.Equal(next.Dialer.SessionId.ToArray(), next.Answerer.SessionId.ToArray());
        Assert.Equal(["first from bob", "back again"], _alice.Store.Received.Select(m => m.Text));
        Assert.Equal(MessageState.Delivered, answer.State);
    }

    /// <summary>
    /// The connection that started a session was lost right after the hellos: both keep a session
    /// Bob has opened nothing in, and Bob cannot encrypt. Bob dials with a text: Alice, answering,
    /// sends a session start because Bob has not yet shown he holds the session (6.2, "on every
    /// connection until..."), whoever dialed, and Bob's text goes under the same session.
    /// </summary>
    [Fact]
    public void KeptSession_BobNotYetConfirmedAndBobDials_AliceSendsASessionStartAndBobsTextArrives()
    {
        using (var pair = new SessionPair(_alice, _bob).Start())
        {
            pair.Settle(frameBudget: 2);
        }

        Assert.True(_alice.Store.HasSession && _bob.Store.HasSession);
        var text = _bob.Send("hello, are we set up?");

        using var next = SessionPair.Run(_bob, _alice);

        Assert.Equal([text.Id], _alice.Store.Received.Select(m => m.MessageId));
        Assert.Equal(MessageState.Delivered, text.State);
        Assert.Equal((1, 1), (_alice.Store.SessionsStarted, _bob.Store.SessionsStarted));
        Assert.Equal(next.Dialer.SessionId.ToArray(), next.Answerer.SessionId.ToArray());
    }

    /// <summary>
    /// Once Bob has shown he holds the session (an envelope of his opened at Alice), later
    /// connections carry no session start: it is sent only until then (6.2).
    /// </summary>
    [Fact]
    public void KeptSession_PeerConfirmed_NoSessionStartOnLaterConnections()
    {
        SessionPair.RunOnce(_alice, _bob);
        var text = _alice.Send("only this");

        using var next = SessionPair.Run(_alice, _bob);

        Assert.Equal(1, next.RatchetFrames.FromDialer);
        Assert.Equal(MessageState.Delivered, text.State);
    }
}
