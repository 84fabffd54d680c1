using System.Security.Cryptography;
using SecureChat.Crypto;
using SecureChat.Protocol.Ratchet;
using SecureChat.Storage;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.Node.Tests;

/// <summary>
/// The ratchet session kept with a contact (docs/protocol.md 6.2): saved, resumed by the next
/// connection after a restart, replaced by a new one when a side has lost it, and usable by both
/// sides whichever of them dials.
/// </summary>
public sealed class SessionTests(ITestOutputHelper output) : TwoNodeTests(output)
{

    [Fact]
    public async Task Start_BothRestartedWithStoresReopened_SavedSessionResumesAndMessagesFlow()
    {
        Bob.Start().AddContact(Alice.Account, "alice", null);
        Alice.Start().AddContact(Bob.Account, "bob", Bob.Endpoint);
        await ExchangeAsync("before");
        var id = SessionId(Alice, Bob);
        Assert.Equal(id, SessionId(Bob, Alice));

        await Alice.StopAsync();
        await Bob.StopAsync();
        Alice.ReopenStore();
        Bob.ReopenStore();
        Assert.Equal(id, SessionId(Alice, Bob));
        Assert.Equal(id, SessionId(Bob, Alice));

        Bob.Start();
        Alice.Start();
        await ExchangeAsync("after");
        Assert.Equal(id, SessionId(Alice, Bob));
        Assert.Equal(id, SessionId(Bob, Alice));
        string[] conversation = ["before from alice", "before from bob", "after from alice", "after from bob"];
        Assert.Equal(conversation, Alice.History(Bob).Select(m => m.Text));
        Assert.Equal(conversation, Bob.History(Alice).Select(m => m.Text));
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
        Bob.Start().AddContact(Alice.Account, "alice", null);
        var aliceNode = Alice.Start();
        var bob = aliceNode.AddContact(Bob.Account, "bob", Bob.Endpoint);
        await ExchangeAsync("first");
        var old = SessionId(Alice, Bob);

        await Bob.StopAsync();
        Bob.Store.Sessions.Delete(Bob.ContactOf(Alice));
        Bob.ReopenStore();
        Assert.Null(Bob.Store.Sessions.Load(Bob.ContactOf(Alice)));
        string[] pending = ["sent while you were away 1", "sent while you were away 2", "sent while you were away 3"];
        var ids = pending.Select(text => aliceNode.Send(bob, text).MessageId).ToList();

        Bob.Start();
        await Eventually.HoldsAsync(() => Alice.Store.Outbox.Count() == 0, "all delivered", () => $"Alice's outbox holds {Alice.Store.Outbox.Count()}.");
        var fresh = SessionId(Alice, Bob);
        Assert.Equal(fresh, SessionId(Bob, Alice));
        Assert.NotEqual(old, fresh);
        Assert.Equal(["first from alice", "first from bob", .. pending], Bob.History(Alice).Select(m => m.Text));
        Assert.Equal(ids, Bob.History(Alice).TakeLast(pending.Length).Select(m => m.MessageId));

        // The new session carries the conversation both ways.
        Bob.Node.Send(Bob.ContactOf(Alice), "back again");
        await Eventually.HoldsAsync(() => Bob.Store.Outbox.Count() == 0, "bob's reply delivered");
        Assert.Equal("back again", Alice.History(Bob)[^1].Text);
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
        var aliceNode = Alice.Start();
        var bob = Alice.Store.Contacts.Add(Bob.Account, "bob", null, DateTimeOffset.UtcNow);
        var alice = Bob.Store.Contacts.Add(Alice.Account, "alice", Alice.Endpoint, DateTimeOffset.UtcNow);
        var id = SaveUnconfirmedSession(alice: (Alice, bob), bob: (Bob, alice));

        var bobNode = Bob.Start();
        var message = bobNode.Send(alice, "hello, are we set up?");
        await Eventually.HoldsAsync(() => aliceNode.IsOnline(bob) && bobNode.IsOnline(alice), "both online");
        Assert.Equal(id, SessionId(Alice, Bob));
        await Eventually.HoldsAsync(
            () => Bob.Store.Messages.Find(message.MessageId)?.State == MessageState.Delivered,
            "bob's text delivered",
            () => $"It is {Bob.Store.Messages.Find(message.MessageId)?.State}; alice holds {Alice.CountWith(Bob)} messages.",
            within: TimeSpan.FromSeconds(5));
        Assert.Equal(id, SessionId(Bob, Alice));
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
        Alice.Node.Send(Alice.ContactOf(Bob), $"{label} from alice");
        await Eventually.HoldsAsync(() => Alice.Store.Outbox.Count() == 0, $"alice's '{label}' delivered");
        Bob.Node.Send(Bob.ContactOf(Alice), $"{label} from bob");
        await Eventually.HoldsAsync(() => Bob.Store.Outbox.Count() == 0, $"bob's '{label}' delivered");
    }

    /// <summary>
    /// Saves the two halves of one new session, as both sides save it right after the hellos of
    /// the connection that starts it (PeerSession.AcceptHello): Alice's and Bob's, neither confirmed.
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
