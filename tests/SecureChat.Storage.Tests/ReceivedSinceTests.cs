namespace SecureChat.Storage.Tests;

/// <summary>
/// What a receive quota is seeded from after a restart (MessageLog.ReceivedSince): the texts
/// received from one contact since a time, each with a size never below its UTF-8 length.
/// </summary>
public sealed class ReceivedSinceTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2025, 5, 1, 9, 0, 0, TimeSpan.Zero);

    private readonly StoreHome _home = new();
    private readonly Peer _bob = Peer.Create();
    private readonly Peer _carol = Peer.Create();

    public void Dispose()
    {
        _bob.Dispose();
        _carol.Dispose();
        _home.Dispose();
    }

    [Fact]
    public void ReceivedSince_MixedConversations_OnlyThatContactsReceivedTextsFromThatTimeWithTheirSizes()
    {
        using (var store = _home.Open())
        {
            var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
            var carol = store.Contacts.Add(_carol.Account, "Carol", null, T0);
            store.Messages.Receive(bob, [Incoming(bob, "too early", T0.AddHours(-2)), Incoming(bob, "héllo", T0), Incoming(bob, new string('x', 16_000), T0.AddMinutes(5))], null);
            store.Messages.Receive(carol, [Incoming(carol, "carol's", T0.AddMinutes(1))], null);
            store.Outbox.QueueWithLamport(bob, "sent by me", lamport: 1);
        }

        // Read after reopening, as a node does after a restart.
        using var reopened = _home.Open();
        var received = reopened.Messages.ReceivedSince(reopened.Contacts.Find(_bob.Account)!, T0);

        Assert.Equal([T0, T0.AddMinutes(5)], received.Select(r => r.ReceivedAt));
        // Exactly the UTF-8 lengths while bodies are not padded; never less, and not far more, if they are.
        Assert.InRange(received[0].Bytes, 6, 6 + 4096);
        Assert.InRange(received[1].Bytes, 16_000, 16_000 + 4096);
    }

    private static StoredMessage Incoming(Contact contact, string text, DateTimeOffset receivedAt) =>
        new(MessageLog.NewId(), contact.Name, contact.Account, false, receivedAt, receivedAt, MessageState.Received, text);
}
