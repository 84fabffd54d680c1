using SecureChat.Crypto;
using SecureChat.Protocol.Identity;

namespace SecureChat.Storage.Tests.Search;

public sealed class MessageSearchTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly TemporaryDirectory _home = new();
    private readonly SecretBytes _dataKey = SecretBytes.Random(SecretBox.KeySize);
    private readonly LocalIdentity _self = LocalIdentity.Create("me", T0);
    private readonly LocalIdentity _bob = LocalIdentity.Create("bob", T0);
    private readonly LocalIdentity _carol = LocalIdentity.Create("carol", T0);

    public void Dispose()
    {
        _self.Dispose();
        _bob.Dispose();
        _carol.Dispose();
        _dataKey.Dispose();
        _home.Dispose();
    }

    [Fact]
    public void Search_WordsPrefixesCaseAndAccents_FindNewestFirst()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        Add(store, bob, "Meet me at the Café at noon", 0);
        Add(store, bob, "the zebra crossing", 1);
        Add(store, bob, "ZEBRAS everywhere, said the café owner", 2);

        Assert.Equal(["ZEBRAS everywhere, said the café owner", "the zebra crossing"], Texts(store.Messages.Search("zebra", null, 10)));
        Assert.Equal(["ZEBRAS everywhere, said the café owner", "Meet me at the Café at noon"], Texts(store.Messages.Search("CAFE", null, 10)));
        Assert.Equal(["Meet me at the Café at noon"], Texts(store.Messages.Search("caf noo", null, 10)));
        Assert.Empty(store.Messages.Search("zebra noon", null, 10));
        Assert.Single(store.Messages.Search("the", null, 1));
    }

    [Fact]
    public void Search_OneConversation_OnlyFindsItsMessages()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        var carol = store.Contacts.Add(_carol.Account, "Carol", null, T0);
        Add(store, bob, "lunch with bob", 0);
        Add(store, carol, "lunch with carol", 1);

        var found = store.Messages.Search("lunch", carol, 10);

        Assert.Equal("lunch with carol", Assert.Single(found).Text);
        Assert.Equal("Carol", found[0].ContactName);
        Assert.Equal(2, store.Messages.Search("lunch", null, 10).Count);
    }

    [Fact]
    public void Search_MessagesAddedAfterTheIndexWasBuilt_AreFound()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        Add(store, bob, "first words", 0);
        Assert.Equal(1, store.Messages.BuildIndex());

        Add(store, bob, "brand new vocabulary", 1);

        Assert.Equal("brand new vocabulary", Assert.Single(store.Messages.Search("vocab", null, 10)).Text);
    }

    [Fact]
    public void Search_RemovedContact_IsNoLongerFound()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
        Add(store, bob, "secret plans", 0);
        Assert.Single(store.Messages.Search("plans", null, 10));

        store.Contacts.Remove(bob);

        Assert.Empty(store.Messages.Search("plans", null, 10));
    }

    [Fact]
    public void Search_AfterReopening_RebuildsTheIndexFromTheSealedMessages()
    {
        using (var store = Open())
        {
            var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
            Add(store, bob, "persistent memory", 0);
        }

        using var reopened = Open();

        Assert.Equal("persistent memory", Assert.Single(reopened.Messages.Search("persist", null, 10)).Text);
    }

    private LocalStore Open() => LocalStore.Open(_home.Path, _dataKey, _self.Account, TimeProvider.System);

    private static void Add(LocalStore store, Contact contact, string text, int minute) =>
        store.Messages.Add(contact, MessageLog.NewId(), outgoing: false, text, T0.AddMinutes(minute), T0.AddMinutes(minute), MessageState.Received);

    private static List<string> Texts(IReadOnlyList<StoredMessage> messages) => [.. messages.Select(m => m.Text)];
}
