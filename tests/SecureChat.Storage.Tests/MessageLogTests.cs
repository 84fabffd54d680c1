namespace SecureChat.Storage.Tests;

/// <summary>
/// The messages table as its callers see it: what is stored comes back as it was, a conversation
/// pages newest-last without gaps or repeats, one conversation never shows another's messages, and
/// a message delivered twice is kept once.
/// </summary>
public sealed class MessageLogTests : IDisposable
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
    public void History_AfterAddAndAfterReopen_ReturnsEachFieldAsStored()
    {
        var outgoingId = MessageLog.NewId();
        var incomingId = MessageLog.NewId();
        const string outgoingText = "Grüße aus Köln — привет, 你好, مرحبا 🎉\nsecond line\ttab";
        const string incomingText = "";
        var sentAt = new DateTimeOffset(2025, 5, 1, 11, 0, 0, TimeSpan.FromHours(2)).AddMilliseconds(123);
        var receivedAt = T0.AddMinutes(5).AddMilliseconds(999);
        StoredMessage[] expected;
        using (var store = _home.Open())
        {
            var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
            Assert.True(store.Messages.Add(bob, outgoingId, outgoing: true, outgoingText, sentAt, null, MessageState.Sent));
            Assert.True(store.Messages.Add(bob, incomingId, outgoing: false, incomingText, T0.AddMinutes(4), receivedAt, MessageState.Received));
            expected =
            [
                new(outgoingId, "Bob", _bob.Account.Text, true, sentAt, null, MessageState.Sent, outgoingText),
                new(incomingId, "Bob", _bob.Account.Text, false, T0.AddMinutes(4), receivedAt, MessageState.Received, incomingText),
            ];

            Assert.Equal(expected, store.Messages.History(bob, 10));
        }

        using var reopened = _home.Open();
        var history = reopened.Messages.History(reopened.Contacts.Resolve("Bob"), 10);

        Assert.Equal(expected, history);
        Assert.Equal(sentAt.UtcTicks, history[0].SentAt.UtcTicks);
        Assert.Equal(receivedAt.UtcTicks, history[1].ReceivedAt!.Value.UtcTicks);
    }

    [Fact]
    public void Add_TimesFinerThanAMillisecond_AreKeptToTheMillisecond()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var sentAt = T0.AddTicks(1_234_5678);
        var receivedAt = T0.AddTicks(9_999_9999);

        store.Messages.Add(bob, MessageLog.NewId(), outgoing: false, "hi", sentAt, receivedAt, MessageState.Received);

        var stored = Assert.Single(store.Messages.History(bob, 1));
        Assert.Equal(T0.AddMilliseconds(1234), stored.SentAt);
        Assert.Equal(T0.AddMilliseconds(9999), stored.ReceivedAt);
    }

    [Fact]
    public void History_ManyMessages_IsNewestLastAndLimitKeepsTheNewest()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var ids = AddConversation(store, bob, 7);

        var all = store.Messages.History(bob, 100);
        var newest = store.Messages.History(bob, 3);

        Assert.Equal(ids, all.Select(m => m.MessageId));
        Assert.Equal(Enumerable.Range(0, 7).Select(i => $"message {i}"), all.Select(m => m.Text));
        Assert.Equal(ids[^3..], newest.Select(m => m.MessageId));
    }

    [Fact]
    public void History_PagingWithBeforeMessageId_CoversEveryMessageOnceInOrder()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var ids = AddConversation(store, bob, 25);

        var pages = new List<IReadOnlyList<StoredMessage>>();
        string? before = null;
        for (var page = store.Messages.History(bob, 10); page.Count > 0; page = store.Messages.History(bob, 10, before))
        {
            pages.Add(page);
            before = page[0].MessageId;
        }

        Assert.Equal([10, 10, 5], pages.Select(p => p.Count));
        Assert.Equal(ids, pages.AsEnumerable().Reverse().SelectMany(p => p).Select(m => m.MessageId));
    }

    [Fact]
    public void History_TwoConversationsInterleaved_ShowsOnlyTheContactsOwn()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var carol = store.Contacts.Add(_carol.Account, "Carol", null, T0);
        var bobIds = new List<string>();
        var carolIds = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            bobIds.Add(Add(store, bob, $"to Bob {i}", T0.AddSeconds(2 * i)));
            carolIds.Add(Add(store, carol, $"to Carol {i}", T0.AddSeconds((2 * i) + 1)));
        }

        var bobHistory = store.Messages.History(bob, 100);
        var carolPage = store.Messages.History(carol, 2, carolIds[3]);

        Assert.Equal(bobIds, bobHistory.Select(m => m.MessageId));
        Assert.All(bobHistory, m => Assert.Equal((_bob.Account.Text, "Bob"), (m.ContactAccount, m.ContactName)));
        Assert.Equal(carolIds[1..3], carolPage.Select(m => m.MessageId));
        Assert.Equal(StoreError.NoSuchContact, Assert.Throws<StoreException>(() => store.Messages.History(bob, 100, carolIds[3])).Error);
    }

    [Fact]
    public void HistoryAfter_Anchor_PagesOldestFirstAndRespectsTheLimit()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var ids = AddConversation(store, bob, 10);

        var page = store.Messages.HistoryAfter(bob, 3, ids[2]);
        var rest = store.Messages.HistoryAfter(bob, 100, ids[2]);

        Assert.Equal(ids[3..6], page.Select(m => m.MessageId));
        Assert.Equal(["message 3", "message 4", "message 5"], page.Select(m => m.Text));
        Assert.Equal(ids[3..], rest.Select(m => m.MessageId));
    }

    [Fact]
    public void HistoryAfter_PagingForward_CoversEveryMessageAfterTheFirstOnceInOrder()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var ids = AddConversation(store, bob, 23);

        var pages = new List<IReadOnlyList<StoredMessage>>();
        var after = ids[0];
        for (var page = store.Messages.HistoryAfter(bob, 10, after); page.Count > 0; page = store.Messages.HistoryAfter(bob, 10, after))
        {
            pages.Add(page);
            after = page[^1].MessageId;
        }

        Assert.Equal([10, 10, 2], pages.Select(p => p.Count));
        Assert.Equal(ids[1..], pages.SelectMany(p => p).Select(m => m.MessageId));
    }

    [Fact]
    public void HistoryAfter_NewestMessage_IsEmpty()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var ids = AddConversation(store, bob, 4);

        Assert.Empty(store.Messages.HistoryAfter(bob, 10, ids[^1]));
        Assert.Empty(store.Messages.HistoryAfter(bob, 10, ids[^1].ToUpperInvariant()));
    }

    [Fact]
    public void HistoryAfter_UnknownId_ThrowsNoSuchContact()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        AddConversation(store, bob, 3);
        var unknown = MessageLog.NewId();

        var error = Assert.Throws<StoreException>(() => store.Messages.HistoryAfter(bob, 10, unknown));

        Assert.Equal(StoreError.NoSuchContact, error.Error);
        Assert.Contains(unknown, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HistoryAfter_IdFromAnotherConversation_IsRefused()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var carol = store.Contacts.Add(_carol.Account, "Carol", null, T0);
        var bobIds = new List<string>();
        var carolIds = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            bobIds.Add(Add(store, bob, $"to Bob {i}", T0.AddSeconds(2 * i)));
            carolIds.Add(Add(store, carol, $"to Carol {i}", T0.AddSeconds((2 * i) + 1)));
        }

        var error = Assert.Throws<StoreException>(() => store.Messages.HistoryAfter(bob, 10, carolIds[0]));
        var carolPage = store.Messages.HistoryAfter(carol, 10, carolIds[0]);

        Assert.Equal(StoreError.NoSuchContact, error.Error);
        Assert.Equal(carolIds[1..], carolPage.Select(m => m.MessageId));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(11)]
    public void HistoryAndHistoryAfter_SameAnchor_CoverTheConversationExactlyOnce(int anchorIndex)
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var carol = store.Contacts.Add(_carol.Account, "Carol", null, T0);
        var ids = AddConversation(store, bob, 12);
        AddConversation(store, carol, 3);
        var anchor = ids[anchorIndex];

        var before = store.Messages.History(bob, 100, anchor);
        var after = store.Messages.HistoryAfter(bob, 100, anchor);

        Assert.Equal(ids, before.Select(m => m.MessageId).Append(anchor).Concat(after.Select(m => m.MessageId)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void HistoryAfter_LimitNotPositive_ThrowsArgumentOutOfRange(int limit)
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var id = Add(store, bob, "x", T0);

        Assert.Throws<ArgumentOutOfRangeException>(() => store.Messages.HistoryAfter(bob, limit, id));
    }

    [Fact]
    public void Add_IdAlreadyStored_ReturnsFalseAndKeepsTheFirstCopy()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var carol = store.Contacts.Add(_carol.Account, "Carol", null, T0);
        var id = MessageLog.NewId();
        Assert.True(store.Messages.Add(bob, id, outgoing: false, "first", T0, T0, MessageState.Received));

        var again = store.Messages.Add(bob, id, outgoing: false, "second", T0.AddMinutes(1), T0.AddMinutes(1), MessageState.Received);
        var upperCase = store.Messages.Add(bob, id.ToUpperInvariant(), outgoing: true, "third", T0, null, MessageState.Queued);
        var elsewhere = store.Messages.Add(carol, id, outgoing: false, "fourth", T0, T0, MessageState.Received);

        Assert.False(again);
        Assert.False(upperCase);
        Assert.False(elsewhere);
        Assert.Equal("first", Assert.Single(store.Messages.History(bob, 10)).Text);
        Assert.Empty(store.Messages.History(carol, 10));
    }

    [Fact]
    public void UpdateState_StoredMessage_ChangesOnlyItsStateAndPersists()
    {
        string id, other;
        StoredMessage before;
        using (var store = _home.Open())
        {
            var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
            id = Add(store, bob, "delivered soon", T0);
            other = Add(store, bob, "still queued", T0.AddSeconds(1));
            before = store.Messages.History(bob, 10)[0];

            store.Messages.UpdateState(id, MessageState.Delivered);
            store.Messages.UpdateState(id.ToUpperInvariant(), MessageState.Read);
        }

        using var reopened = _home.Open();
        var history = reopened.Messages.History(reopened.Contacts.Resolve("Bob"), 10);

        Assert.Equal(before with { State = MessageState.Read }, history[0]);
        Assert.Equal((other, MessageState.Queued), (history[1].MessageId, history[1].State));
    }

    [Fact]
    public void UpdateState_UnknownId_ChangesNothing()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        Add(store, bob, "queued", T0);
        var before = store.Messages.History(bob, 10);

        store.Messages.UpdateState(MessageLog.NewId(), MessageState.Read);

        Assert.Equal(before, store.Messages.History(bob, 10));
    }

    [Fact]
    public void Count_TwoConversations_CountsEachOnItsOwn()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var carol = store.Contacts.Add(_carol.Account, "Carol", null, T0);
        Assert.Equal(0, store.Messages.Count(bob));

        AddConversation(store, bob, 5);
        AddConversation(store, carol, 2);

        Assert.Equal(5, store.Messages.Count(bob));
        Assert.Equal(2, store.Messages.Count(carol));
    }

    [Fact]
    public void AddNew_OutgoingAndIncoming_TakesAFreshIdAndTheCurrentTime()
    {
        var now = T0.AddMilliseconds(42);
        using var store = _home.Open(time: new FixedTime(now));
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);

        var sent = store.Messages.AddNew(bob, outgoing: true, "out", MessageState.Queued);
        var received = store.Messages.AddNew(bob, outgoing: false, "in", MessageState.Received);

        Assert.Matches("^[0-9a-f]{32}$", sent);
        Assert.NotEqual(sent, received);
        Assert.Equal(
            [
                new StoredMessage(sent, "Bob", _bob.Account.Text, true, now, null, MessageState.Queued, "out"),
                new StoredMessage(received, "Bob", _bob.Account.Text, false, now, now, MessageState.Received, "in"),
            ],
            store.Messages.History(bob, 10));
    }

    [Fact]
    public void Add_ContactRemoved_ThrowsNoSuchContact()
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        store.Contacts.Remove(bob);

        var error = Assert.Throws<StoreException>(() => Add(store, bob, "too late", T0));

        Assert.Equal(StoreError.NoSuchContact, error.Error);
    }

    [Theory]
    [InlineData("")]
    [InlineData("00")]
    [InlineData("0123456789abcdef0123456789abcde")]
    [InlineData("0123456789abcdef0123456789abcdef0")]
    [InlineData("0123456789abcdef0123456789abcdef00")]
    [InlineData("0123456789abcdef0123456789abcdeg")]
    [InlineData(" 0123456789abcdef0123456789abcdef")]
    [InlineData("0123456789abcdef-0123456789abcdef")]
    public void Add_InvalidId_ThrowsArgumentException(string messageId)
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);

        Assert.Throws<ArgumentException>(() => store.Messages.Add(bob, messageId, outgoing: true, "x", T0, null, MessageState.Queued));
        Assert.Throws<ArgumentException>(() => store.Messages.UpdateState(messageId, MessageState.Sent));
        Assert.Throws<ArgumentException>(() => store.Messages.History(bob, 10, messageId));
        Assert.Throws<ArgumentException>(() => store.Messages.HistoryAfter(bob, 10, messageId));
        Assert.Equal(0, store.Messages.Count(bob));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void History_LimitNotPositive_ThrowsArgumentOutOfRange(int limit)
    {
        using var store = _home.Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);

        Assert.Throws<ArgumentOutOfRangeException>(() => store.Messages.History(bob, limit));
    }

    /// <summary>Adds <paramref name="count"/> messages a second apart, alternating direction; returns their IDs in order.</summary>
    private static List<string> AddConversation(LocalStore store, Contact contact, int count) =>
        [.. Enumerable.Range(0, count).Select(i => Add(store, contact, $"message {i}", T0.AddSeconds(i), outgoing: i % 2 == 0))];

    private static string Add(LocalStore store, Contact contact, string text, DateTimeOffset sentAt, bool outgoing = true)
    {
        var id = MessageLog.NewId();
        Assert.True(store.Messages.Add(contact, id, outgoing, text, sentAt, outgoing ? null : sentAt, outgoing ? MessageState.Queued : MessageState.Received));
        return id;
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
