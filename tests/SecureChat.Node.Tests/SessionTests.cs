using System.Security.Cryptography;
using SecureChat.Crypto;
using SecureChat.Protocol.Ratchet;
using SecureChat.Storage;
using Xunit.Abstractions;

namespace SecureChat.Node.Tests;

/// <summary>
/// The ratchet session kept with a contact (docs/protocol.md 6.2): saved, resumed by the next
/// connection after a restart, replaced by a new one when a side has lost it, and usable by both
/// sides whichever of them dials.
/// </summary>
public sealed class SessionTests(ITestOutputHelper output) : IAsyncLifetime
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
    public async Task Start_BothRestartedWithStoresReopened_SavedSessionResumesAndMessagesFlow()
    {
        _bob.Start();
        _alice.Start().AddContact(_bob.Account, "bob", _bob.Endpoint);
        await ExchangeAsync("before");
        var id = SessionId(_alice, _bob);
        Assert.Equal(id, SessionId(_bob, _alice));

        await _alice.StopAsync();
        await _bob.StopAsync();
        _alice.ReopenStore();
        _bob.ReopenStore();
        Assert.Equal(id, SessionId(_alice, _bob));
        Assert.Equal(id, SessionId(_bob, _alice));

        _bob.Start();
        _alice.Start();
        await ExchangeAsync("after");
        Assert.Equal(id, SessionId(_alice, _bob));
        Assert.Equal(id, SessionId(_bob, _alice));
        string[] conversation = ["before from alice", "before from bob", "after from alice", "after from bob"];
        Assert.Equal(conversation, _alice.History(_bob).Select(m => m.Text));
        Assert.Equal(conversation, _bob.History(_alice).Select(m => m.Text));
    }

    /// <summary>
    /// Bob loses his session while stopped; alice queues texts meanwhile. The hellos then differ,
    /// both start a new session (docs/protocol.md 6.2) and the outbox goes out under it. Both sides
    /// dial (bob learned alice's address from her first hello), so the new session is often
    /// started on one connection and carried on the other after they cross (6.6).
    /// </summary>
    [Fact]
    public async Task Start_ReceiverLostItsSession_NewSessionStartsAndPendingMessagesArriveOnce()
    {
        _bob.Start();
        var aliceNode = _alice.Start();
        var bob = aliceNode.AddContact(_bob.Account, "bob", _bob.Endpoint);
        await ExchangeAsync("first");
        var old = SessionId(_alice, _bob);

        await _bob.StopAsync();
        _bob.Store.Sessions.Delete(_bob.ContactOf(_alice));
        _bob.ReopenStore();
        Assert.Null(_bob.Store.Sessions.Load(_bob.ContactOf(_alice)));
        string[] pending = ["sent while you were away 1", "sent while you were away 2", "sent while you were away 3"];
        var ids = pending.Select(text => aliceNode.Send(bob, text).MessageId).ToList();

        _bob.Start();
        await Eventually.HoldsAsync(() => _alice.Store.Messages.OutboxCount() == 0, "all delivered", () => $"Alice's outbox holds {_alice.Store.Messages.OutboxCount()}.");
        var fresh = SessionId(_alice, _bob);
        Assert.Equal(fresh, SessionId(_bob, _alice));
        Assert.NotEqual(old, fresh);
        Assert.Equal(["first from alice", "first from bob", .. pending], _bob.History(_alice).Select(m => m.Text));
        Assert.Equal(ids, _bob.History(_alice).TakeLast(pending.Length).Select(m => m.MessageId));

        // The new session carries the conversation both ways.
        _bob.Node.Send(_bob.ContactOf(_alice), "back again");
        await Eventually.HoldsAsync(() => _bob.Store.Messages.OutboxCount() == 0, "bob's reply delivered");
        Assert.Equal("back again", _alice.History(_bob)[^1].Text);
    }

    /// <summary>
    /// Both sides hold a session that the dialer of its first connection (Alice) started, and Bob
    /// has not decrypted anything in it yet: the connection was lost right after the hellos. Now
    /// Bob dials and has a text to send, Alice has none. Bob cannot encrypt before Alice's
    /// session_start reaches him, and docs/protocol.md 6.2 has Alice send one "on every connection
    /// until an envelope of the peer has authenticated", whoever dialed.
    /// </summary>
    [Fact]
    public async Task Send_KeptSessionBobNotYetConfirmedAndBobDials_BobsTextArrives()
    {
        var aliceNode = _alice.Start();
        var bob = _alice.Store.Contacts.Add(_bob.Account, "bob", null, DateTimeOffset.UtcNow);
        var alice = _bob.Store.Contacts.Add(_alice.Account, "alice", _alice.Endpoint, DateTimeOffset.UtcNow);
        var id = SaveUnconfirmedSession(alice: (_alice, bob), bob: (_bob, alice));

        var bobNode = _bob.Start();
        var message = bobNode.Send(alice, "hello, are we set up?");
        await Eventually.HoldsAsync(() => aliceNode.IsOnline(bob) && bobNode.IsOnline(alice), "both online");
        Assert.Equal(id, SessionId(_alice, _bob));
        await Eventually.HoldsAsync(
            () => _bob.Store.Messages.Find(message.MessageId)?.State == MessageState.Delivered,
            "bob's text delivered",
            () => $"It is {_bob.Store.Messages.Find(message.MessageId)?.State}; alice holds {_alice.CountWith(_bob)} messages.",
            within: TimeSpan.FromSeconds(5));
        Assert.Equal(id, SessionId(_bob, _alice));
    }

    /// <summary>The session ID each side saved for the other (SessionRecord: version, then the 16-byte ID).</summary>
    private static byte[] SessionId(NodeHome home, NodeHome peer)
    {
        var bytes = home.Store.Sessions.Load(home.ContactOf(peer));
        Assert.NotNull(bytes);
        using var record = SessionRecord.TryDecode(bytes, RatchetOptions.Default);
        Assert.NotNull(record);
        return record.Id;
    }

    /// <summary>Alice sends a text and bob answers it; each waits until the other has stored it.</summary>
    private async Task ExchangeAsync(string label)
    {
        _alice.Node.Send(_alice.ContactOf(_bob), $"{label} from alice");
        await Eventually.HoldsAsync(() => _alice.Store.Messages.OutboxCount() == 0, $"alice's '{label}' delivered");
        _bob.Node.Send(_bob.ContactOf(_alice), $"{label} from bob");
        await Eventually.HoldsAsync(() => _bob.Store.Messages.OutboxCount() == 0, $"bob's '{label}' delivered");
    }

    /// <summary>
    /// Saves the two halves of one new session, as both sides save it right after the hellos of
    /// the connection that starts it (LinkSession.HelloAsync): Alice's and Bob's, neither confirmed.
    /// </summary>
    private static byte[] SaveUnconfirmedSession((NodeHome Home, Contact Peer) alice, (NodeHome Home, Contact Peer) bob)
    {
        var id = RandomNumberGenerator.GetBytes(SessionRecord.SessionIdSize);
        var sharedSecret = RandomNumberGenerator.GetBytes(RatchetSession.KeySize);
        var bobPrivate = new byte[X25519.KeySize];
        var bobPublic = new byte[X25519.KeySize];
        X25519.GenerateKeyPair(bobPrivate, bobPublic);
        byte[] associatedData = [.. "SecureChat ratchet v1"u8, .. id, .. alice.Home.Account.PublicKey, .. bob.Home.Account.PublicKey];
        using (var record = new SessionRecord(id, RatchetSession.InitializeAlice(sharedSecret, bobPublic, associatedData), peerConfirmed: false))
        {
            alice.Home.Store.Sessions.Save(alice.Peer, record.Encode());
        }

        using (var record = new SessionRecord(id, RatchetSession.InitializeBob(sharedSecret, bobPrivate, associatedData), peerConfirmed: false))
        {
            bob.Home.Store.Sessions.Save(bob.Peer, record.Encode());
        }

        return id;
    }
}
