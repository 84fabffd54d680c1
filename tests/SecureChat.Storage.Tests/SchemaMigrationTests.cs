namespace SecureChat.Storage.Tests;

/// <summary>
/// Schema version 4: the rows the terminal line chat wrote (lamport 0) get Lamport values in their
/// conversation's order and a final state, and the outbox index no longer tells them apart.
/// </summary>
public sealed class SchemaMigrationTests : IDisposable
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
    public void Open_SchemaVersion3WithLineChatRows_NumbersThemInConversationOrderAboveTheNodeRowsBefore()
    {
        CreateVersion3Store();

        using var store = Open();

        Assert.Equal(4L, _home.Scalar<long>("PRAGMA user_version"));
        var bob = store.Contacts.Resolve(_bob.Account.Text);
        var carol = store.Contacts.Resolve(_carol.Account.Text);

        // Bob: two line rows, a node row at 5, three line rows. Each line row is the highest value
        // before it plus the line rows counted so far; the node row keeps what its peer holds.
        Assert.Equal(
            [("line in", 1L), ("line out", 2L), ("node out", 5L), ("line out after", 8L), ("line in after", 9L), ("line out failed", 10L)],
            store.Messages.History(bob, 10).Select(m => (m.Text, m.Lamport)));
        Assert.Equal([("carol in", 1L), ("carol out", 2L)], store.Messages.History(carol, 10).Select(m => (m.Text, m.Lamport)));
        Assert.Equal(0L, _home.Scalar<long>("SELECT count(*) FROM messages WHERE lamport = 0"));
    }

    [Fact]
    public void Open_SchemaVersion3WithLineChatRows_SentLinesAreDeliveredAndUnsentOnesWaitInTheOutbox()
    {
        CreateVersion3Store();

        using var store = Open();

        var bob = store.Contacts.Resolve(_bob.Account.Text);
        var states = store.Messages.History(bob, 10).ToDictionary(m => m.Text, m => m.State);
        Assert.Equal(MessageState.Received, states["line in"]);
        Assert.Equal(MessageState.Delivered, states["line out"]);
        Assert.Equal(MessageState.Delivered, states["node out"]);
        Assert.Equal(MessageState.Delivered, states["line out after"]);
        Assert.Equal(MessageState.Seen, states["line in after"]);

        // The line the line chat could not hand over was never delivered: the node delivers it once.
        Assert.Equal(MessageState.Queued, states["line out failed"]);
        Assert.Equal(
            ["line out failed"],
            _home.Column<long>("SELECT id FROM messages WHERE outgoing = 1 AND state < 2 ORDER BY id").Select(id => Text(store, bob, id)));
    }

    [Fact]
    public void Open_SchemaVersion3_OutboxIndexNoLongerLooksAtLamport()
    {
        CreateVersion3Store();
        Assert.Contains("lamport > 0", OutboxIndex(), StringComparison.Ordinal);

        using (Open())
        {
        }

        var index = OutboxIndex();
        Assert.EndsWith("WHERE outgoing = 1 AND state < 2", index, StringComparison.Ordinal);
        Assert.DoesNotContain("lamport", index, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_NewStore_CreatesTheOutboxIndexWithoutLamport()
    {
        using (Open())
        {
        }

        Assert.Equal(4L, _home.Scalar<long>("PRAGMA user_version"));
        Assert.DoesNotContain("lamport", OutboxIndex(), StringComparison.Ordinal);
    }

    /// <summary>
    /// A store as version 3 left it after terminal chats and a node: the current code writes the
    /// rows (with any Lamport value), then the line chat's rows are set back to lamport 0, the
    /// outbox index is made the version 2 one again and <c>user_version</c> is set to 3. The
    /// Lamport value is not part of a row's sealed body, so the rows still open.
    /// </summary>
    private void CreateVersion3Store()
    {
        using (var store = Open())
        {
            var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
            var carol = store.Contacts.Add(_carol.Account, "Carol", null, T0);
            Assert.Equal(6, store.Messages.AddRange(bob, [
                Message(bob, "line in", outgoing: false, MessageState.Received, lamport: 1),
                Message(bob, "line out", outgoing: true, MessageState.Sent, lamport: 1),
                Message(bob, "node out", outgoing: true, MessageState.Delivered, lamport: 5),
                Message(bob, "line out after", outgoing: true, MessageState.Sent, lamport: 1),
                Message(bob, "line in after", outgoing: false, MessageState.Seen, lamport: 1),
                Message(bob, "line out failed", outgoing: true, MessageState.Queued, lamport: 1),
            ]));
            Assert.Equal(2, store.Messages.AddRange(carol, [
                Message(carol, "carol in", outgoing: false, MessageState.Received, lamport: 1),
                Message(carol, "carol out", outgoing: true, MessageState.Sent, lamport: 1),
            ]));
        }

        _home.Execute("""
            UPDATE messages SET lamport = 0 WHERE lamport = 1;
            DROP INDEX messages_outbox;
            CREATE INDEX messages_outbox ON messages(contact_id, id) WHERE outgoing = 1 AND state < 2 AND lamport > 0;
            PRAGMA user_version = 3;
            """);
        Assert.Equal(7L, _home.Scalar<long>("SELECT count(*) FROM messages WHERE lamport = 0"));
    }

    private string OutboxIndex() => _home.Scalar<string>("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'messages_outbox'");

    private string Text(LocalStore store, Contact contact, long row)
    {
        var messageId = Convert.ToHexStringLower(_home.Scalar<byte[]>("SELECT message_id FROM messages WHERE id = $id", ("$id", row)));
        return store.Messages.History(contact, 10).Single(m => m.MessageId == messageId).Text;
    }

    private LocalStore Open() => _home.Open(time: new FixedClock(T0));

    private static StoredMessage Message(Contact contact, string text, bool outgoing, MessageState state, long lamport) =>
        new(MessageLog.NewId(), contact.Name, contact.Account, outgoing, T0, outgoing ? null : T0.AddSeconds(1), state, text, lamport);

    /// <summary>A clock that always reads <paramref name="now"/>.</summary>
    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
