namespace SecureChat.Storage.Tests;

/// <summary>
/// Someone with the disk edits <c>securechat.db</c> while SecureChat is closed: flips bits of the
/// sealed columns, swaps them between rows, or changes the clear columns a sealed value is bound
/// to. Each edit is reported as <see cref="StoreError.Tampered"/>, never shown as garbage or as
/// someone else's message, and never escapes as another exception type.
/// </summary>
public sealed class TamperingTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2025, 5, 1, 9, 0, 0, TimeSpan.Zero);

    /// <summary>At full length, its sealed body (40 bytes more) is flipped in its first 64 and last 32 bytes only.</summary>
    private static readonly string LongText = string.Concat(Enumerable.Repeat("Meet at the old mill at nine. ", 8));

    private readonly StoreHome _home = new();
    private readonly Peer _bob = Peer.Create();
    private readonly Peer _carol = Peer.Create();

    public void Dispose()
    {
        _bob.Dispose();
        _carol.Dispose();
        _home.Dispose();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(240)]
    public void History_BodyBitFlipped_ThrowsTampered(int textLength)
    {
        var (bobIds, _) = SeedConversations(LongText[..textLength]);
        var target = bobIds[1];
        var body = BodyOf(target);

        var outcomes = BitsToFlip(body.Length).Select(bit =>
        {
            SetBody(target, Flipped(body, bit));
            return (bit, outcome: Outcome(store => store.Messages.History(store.Contacts.Resolve(_bob.Account.Text), 10)));
        }).ToList();

        AssertAllTampered(outcomes);
        SetBody(target, body);
        Assert.Equal("returned", Outcome(store => store.Messages.History(store.Contacts.Resolve(_bob.Account.Text), 10)));
    }

    /// <summary>The search index is built from the same sealed bodies, so it reports the same damage the same way.</summary>
    [Fact]
    public void Search_BodyBitFlipped_ThrowsTampered()
    {
        var (bobIds, _) = SeedConversations("findable words");
        var body = BodyOf(bobIds[1]);

        SetBody(bobIds[1], Flipped(body, (body.Length * 8) - 1));

        Assert.Equal(StoreError.Tampered.ToString(), Outcome(store => store.Messages.Search("findable", null, 10)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(39)]
    [InlineData(-1)]
    public void History_BodyTruncated_ThrowsTampered(int length)
    {
        var (bobIds, _) = SeedConversations("a few words");
        var body = BodyOf(bobIds[0]);

        SetBody(bobIds[0], body[..(length < 0 ? body.Length + length : length)]);

        Assert.Equal(StoreError.Tampered, HistoryError("Bob"));
    }

    [Fact]
    public void History_BodiesSwappedWithinAConversation_ThrowsTampered()
    {
        var (bobIds, _) = SeedConversations("same text");

        Swap("messages", "body", "message_id", Id(bobIds[0]), Id(bobIds[2]));

        Assert.Equal(StoreError.Tampered, HistoryError("Bob"));
    }

    [Fact]
    public void History_BodiesSwappedAcrossConversations_ThrowsTamperedForBoth()
    {
        var (bobIds, carolIds) = SeedConversations("same text");

        Swap("messages", "body", "message_id", Id(bobIds[0]), Id(carolIds[0]));

        Assert.Equal(StoreError.Tampered, HistoryError("Bob"));
        Assert.Equal(StoreError.Tampered, HistoryError("Carol"));
    }

    [Fact]
    public void History_MessageIdsSwapped_ThrowsTampered()
    {
        var (bobIds, _) = SeedConversations("same text");

        Swap("messages", "message_id", "message_id", Id(bobIds[0]), Id(bobIds[1]));

        Assert.Equal(StoreError.Tampered, HistoryError("Bob"));
    }

    /// <summary>Each clear column the sealed body is bound to, changed on one of Bob's messages; <paramref name="reader"/> is the conversation that shows the row afterwards.</summary>
    [Theory]
    [InlineData("outgoing = 1 - outgoing", "Bob")]
    [InlineData("sent_at = sent_at + 1", "Bob")]
    [InlineData("sent_at = sent_at - 3600000", "Bob")]
    [InlineData("message_id = randomblob(16)", "Bob")]
    [InlineData("contact_id = (SELECT max(id) FROM contacts)", "Carol")]
    public void History_BoundColumnChanged_ThrowsTampered(string assignment, string reader)
    {
        var (bobIds, _) = SeedConversations("bound to its row");

        Assert.Equal(1, _home.Execute($"UPDATE messages SET {assignment} WHERE message_id = $id", ("$id", Id(bobIds[1]))));

        Assert.Equal(StoreError.Tampered, HistoryError(reader));
    }

    [Theory]
    [InlineData(6L)]
    [InlineData(99L)]
    [InlineData(-1L)]
    [InlineData(long.MaxValue)]
    [InlineData(1L << 32)]
    [InlineData((1L << 32) + 4)]
    public void History_UnknownState_ThrowsTampered(long state)
    {
        var (bobIds, _) = SeedConversations("state");

        _home.Execute("UPDATE messages SET state = $state WHERE message_id = $id", ("$state", state), ("$id", Id(bobIds[0])));

        Assert.Equal(StoreError.Tampered, HistoryError("Bob"));
    }

    /// <summary>A message ID of another length than 16 bytes cannot be one this store wrote.</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(15)]
    [InlineData(17)]
    [InlineData(64)]
    public void History_MessageIdOfAnotherLength_ThrowsTampered(int length)
    {
        var (bobIds, _) = SeedConversations("wrong length");

        _home.Execute("UPDATE messages SET message_id = randomblob($length) WHERE message_id = $id", ("$length", length), ("$id", Id(bobIds[0])));

        Assert.Equal(StoreError.Tampered, HistoryError("Bob"));
    }

    /// <summary>The receive time is in clear; a value no date can hold is damage like an unknown state, not a crash.</summary>
    [Theory]
    [InlineData(long.MaxValue)]
    [InlineData(long.MinValue)]
    public void History_ReceivedAtOutOfRange_ThrowsStoreException(long receivedAt)
    {
        var (_, carolIds) = SeedConversations("received");

        _home.Execute("UPDATE messages SET received_at = $at WHERE message_id = $id", ("$at", receivedAt), ("$id", Id(carolIds[1])));

        Assert.IsType<StoreException>(Record.Exception(() => History("Carol")));
    }

    /// <summary>
    /// Bob's lookup and record moved to Carol's row and Carol's to Bob's: both contacts still open,
    /// but each conversation (bound to the row number) now hangs off the other contact.
    /// </summary>
    [Fact]
    public void History_ContactRowsSwapped_ThrowsTampered()
    {
        var (_, carolIds) = SeedConversations("whose conversation is this?");
        var rows = _home.Column<long>("SELECT id FROM contacts ORDER BY id");

        Swap("contacts", "lookup", "id", rows[0], rows[1]);
        Swap("contacts", "record", "id", rows[0], rows[1]);

        var error = Record.Exception(() => History("Bob"));
        Assert.True(
            error is StoreException { Error: StoreError.Tampered },
            error is null ? $"Bob's conversation shows Carol's messages: {string.Join(", ", History("Bob").Select(m => m.MessageId).Intersect(carolIds))}" : error.ToString());
        Assert.Equal(StoreError.Tampered, HistoryError("Carol"));
    }

    [Fact]
    public void Open_ContactRecordBitFlipped_ThrowsTampered()
    {
        SeedConversations("contacts");
        var row = _home.Column<long>("SELECT id FROM contacts ORDER BY id")[0];
        var record = _home.Scalar<byte[]>("SELECT record FROM contacts WHERE id = $id", ("$id", row));

        var outcomes = BitsToFlip(record.Length).Select(bit =>
        {
            _home.Execute("UPDATE contacts SET record = $record WHERE id = $id", ("$record", Flipped(record, bit)), ("$id", row));
            return (bit, outcome: Outcome(_ => 0));
        }).ToList();

        AssertAllTampered(outcomes);
        _home.Execute("UPDATE contacts SET record = $record WHERE id = $id", ("$record", record), ("$id", row));
        Assert.Equal("returned", Outcome(_ => 0));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(39)]
    [InlineData(-1)]
    public void Open_ContactRecordTruncated_ThrowsTampered(int length)
    {
        SeedConversations("contacts");
        var row = _home.Column<long>("SELECT id FROM contacts ORDER BY id")[0];
        var record = _home.Scalar<byte[]>("SELECT record FROM contacts WHERE id = $id", ("$id", row));

        _home.Execute("UPDATE contacts SET record = $record WHERE id = $id", ("$record", record[..(length < 0 ? record.Length + length : length)]), ("$id", row));

        Assert.Equal(StoreError.Tampered.ToString(), Outcome(_ => 0));
    }

    [Fact]
    public void Open_ContactRecordsSwapped_ThrowsTampered()
    {
        SeedConversations("contacts");
        var rows = _home.Column<long>("SELECT id FROM contacts ORDER BY id");

        Swap("contacts", "record", "id", rows[0], rows[1]);

        Assert.Equal(StoreError.Tampered.ToString(), Outcome(_ => 0));
    }

    [Fact]
    public void Open_ContactLookupsSwapped_ThrowsTampered()
    {
        SeedConversations("contacts");
        var rows = _home.Column<long>("SELECT id FROM contacts ORDER BY id");

        Swap("contacts", "lookup", "id", rows[0], rows[1]);

        Assert.Equal(StoreError.Tampered.ToString(), Outcome(_ => 0));
    }

    [Fact]
    public void Open_ContactLookupBitFlipped_ThrowsTampered()
    {
        SeedConversations("contacts");
        var row = _home.Column<long>("SELECT id FROM contacts ORDER BY id")[1];
        var lookup = _home.Scalar<byte[]>("SELECT lookup FROM contacts WHERE id = $id", ("$id", row));

        var outcomes = BitsToFlip(lookup.Length).Select(bit =>
        {
            _home.Execute("UPDATE contacts SET lookup = $lookup WHERE id = $id", ("$lookup", Flipped(lookup, bit)), ("$id", row));
            return (bit, outcome: Outcome(_ => 0));
        }).ToList();

        AssertAllTampered(outcomes);
    }

    /// <summary>
    /// Bob and Carol as contacts, Bob with three messages and Carol with two, all with
    /// <paramref name="text"/>; the store is closed when this returns.
    /// </summary>
    private (List<string> Bob, List<string> Carol) SeedConversations(string text)
    {
        using var store = _home.Open();
        var bob = store.Contacts.Pin(_bob.Certificate(), "Bob", "bob.example:7000", T0);
        var carol = store.Contacts.Add(_carol.Account, "Carol", null, T0);
        var bobIds = new List<string>();
        var carolIds = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            bobIds.Add(Add(store, bob, text, T0.AddSeconds(i), outgoing: i != 1));
        }

        for (var i = 0; i < 2; i++)
        {
            carolIds.Add(Add(store, carol, text, T0.AddSeconds(10 + i), outgoing: i == 0));
        }

        return (bobIds, carolIds);
    }

    private static string Add(LocalStore store, Contact contact, string text, DateTimeOffset sentAt, bool outgoing)
    {
        var id = MessageLog.NewId();
        store.Messages.Add(contact, id, outgoing, text, sentAt, outgoing ? null : sentAt.AddSeconds(1), outgoing ? MessageState.Sent : MessageState.Received);
        return id;
    }

    /// <summary>
    /// Opens the store and runs <paramref name="read"/>: "returned" if both succeed, the
    /// <see cref="StoreError"/> if either throws a <see cref="StoreException"/>, else the exception's type.
    /// </summary>
    private string Outcome(Func<LocalStore, object> read)
    {
        try
        {
            using var store = _home.Open();
            read(store);
            return "returned";
        }
        catch (StoreException ex)
        {
            return ex.Error.ToString();
        }
        catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
        {
            return ex.GetType().Name;
        }
    }

    private IReadOnlyList<StoredMessage> History(string contact)
    {
        using var store = _home.Open();
        return store.Messages.History(store.Contacts.Resolve(AccountOf(contact)), 10);
    }

    /// <summary>The account ID of the peer a test names ("Bob" or "Carol"): a peer's own name never finds it.</summary>
    private string AccountOf(string contact) => (contact == "Bob" ? _bob : _carol).Account.Text;

    private StoreError HistoryError(string contact)
    {
        var error = Assert.Throws<StoreException>(() => History(contact));
        return error.Error;
    }

    private byte[] BodyOf(string messageId) =>
        _home.Scalar<byte[]>("SELECT body FROM messages WHERE message_id = $id", ("$id", Id(messageId)));

    private void SetBody(string messageId, byte[] body) =>
        Assert.Equal(1, _home.Execute("UPDATE messages SET body = $body WHERE message_id = $id", ("$body", body), ("$id", Id(messageId))));

    /// <summary>Swaps one column between two rows, through a placeholder so a UNIQUE column never holds one value twice.</summary>
    private void Swap(string table, string column, string keyColumn, object a, object b)
    {
        var valueA = _home.Scalar<object>($"SELECT {column} FROM {table} WHERE {keyColumn} = $key", ("$key", a));
        var valueB = _home.Scalar<object>($"SELECT {column} FROM {table} WHERE {keyColumn} = $key", ("$key", b));
        var update = $"UPDATE {table} SET {column} = $value WHERE {keyColumn} = $key";
        var placeholder = new byte[] { 0xEE };
        Assert.Equal(1, _home.Execute(update, ("$value", placeholder), ("$key", a)));
        Assert.Equal(1, _home.Execute(update, ("$value", valueA), ("$key", b)));
        Assert.Equal(1, _home.Execute(update, ("$value", valueB), ("$key", column == keyColumn ? placeholder : a)));
    }

    private static void AssertAllTampered(IEnumerable<(int Bit, string Outcome)> outcomes)
    {
        var missed = outcomes.Where(o => o.Outcome != StoreError.Tampered.ToString()).Select(o => $"bit {o.Bit}: {o.Outcome}").ToList();
        Assert.True(missed.Count == 0, $"Not reported as tampering: {string.Join(", ", missed)}");
    }

    private static byte[] Id(string messageId) => Convert.FromHexString(messageId);

    private static byte[] Flipped(byte[] value, int bit)
    {
        var copy = value.ToArray();
        copy[bit / 8] ^= (byte)(1 << (bit % 8));
        return copy;
    }

    /// <summary>Every bit of a short value; of a long one, every bit of its first 64 bytes (nonce and the start of the ciphertext) and its last 32 (the end of the ciphertext and the tag).</summary>
    private static IEnumerable<int> BitsToFlip(int length) =>
        length <= 96
            ? Enumerable.Range(0, length * 8)
            : Enumerable.Range(0, 64 * 8).Concat(Enumerable.Range((length - 32) * 8, 32 * 8));
}
