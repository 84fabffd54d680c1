using SecureChat.Crypto;
using SecureChat.Protocol.Identity;

namespace SecureChat.Storage.Tests;

/// <summary>
/// Who is who in the contact book: an ID always means that account, a name a peer chose for itself
/// never finds it, strangers are requests until accepted, and a blocked account is refused at the pin check.
/// </summary>
public sealed class ContactStandingTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2025, 5, 1, 9, 0, 0, TimeSpan.Zero);

    private readonly TemporaryDirectory _home = new();
    private readonly SecretBytes _dataKey = SecretBytes.Random(SecretBox.KeySize);
    private readonly AccountId _self = Peer.Create().Account;
    private readonly Peer _bob = Peer.Create();
    private readonly Peer _mallory = Peer.Create();

    public ContactStandingTests()
    {
        DataDirectory.EnsureExists(_home.Path);
    }

    public void Dispose()
    {
        _bob.Dispose();
        _mallory.Dispose();
        _dataKey.Dispose();
        _home.Dispose();
    }

    [Fact]
    public void Resolve_StrangerCallsItselfByAContactsId_TheIdStillFindsTheContact()
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "bob", null, T0);
        var mallory = store.Contacts.Pin(_mallory.Certificate(), _bob.Account.Text, null, T0, ContactStanding.Request);
        store.Contacts.Accept(mallory, null);

        Assert.Equal(bob.Account, store.Contacts.Resolve(_bob.Account.Text).Account);
        Assert.Equal(bob.Account, store.Contacts.Resolve(_bob.Account.Text.ToUpperInvariant()).Account);
        Assert.Equal(bob.Account, store.Contacts.Resolve("bob").Account);

        // The ID it called itself by is shown as what it says, never as its name.
        var shown = store.Contacts.Find(_mallory.Account)!;
        Assert.False(shown.Named);
        Assert.NotEqual(_bob.Account.Text, shown.Name);
        Assert.Equal(_bob.Account.Text, shown.DisplayName);
    }

    [Fact]
    public void Resolve_NameIsAlsoTheBeginningOfAnotherContactsId_RefusedAsAmbiguous()
    {
        using var store = Open();
        var prefix = _mallory.Account.Text[..6];
        store.Contacts.Add(_bob.Account, prefix, null, T0);
        store.Contacts.Add(_mallory.Account, "mallory", null, T0);

        var error = Assert.Throws<StoreException>(() => store.Contacts.Resolve(prefix));

        Assert.Contains("use the full ID", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    [InlineData(12)]
    public void Rename_ToAnIdOrTheBeginningOfAKnownOne_RefusedWithASentence(int prefixLength)
    {
        using var store = Open();
        var bob = store.Contacts.Add(_bob.Account, "bob", null, T0);
        store.Contacts.Add(_mallory.Account, "mallory", null, T0);
        var name = prefixLength == 0 ? _mallory.Account.Text : _mallory.Account.Text[..prefixLength];

        var error = Assert.Throws<ArgumentException>(() => store.Contacts.Rename(bob, name));

        Assert.StartsWith($"'{name}' looks like an account ID", error.Message, StringComparison.Ordinal);
        Assert.Equal("bob", store.Contacts.Resolve(_bob.Account.Text).Name);
    }

    [Fact]
    public void Pin_InboundStranger_IsARequestNotAContactAndNotResolvable()
    {
        using var store = Open();

        var request = store.Contacts.Pin(_mallory.Certificate(), "mallory", null, T0, ContactStanding.Request);

        Assert.Equal(ContactStanding.Request, request.Standing);
        Assert.Empty(store.Contacts.All);
        Assert.Equal([request.Account], store.Contacts.Requests.Select(r => r.Account));
        Assert.Equal(StoreError.NoSuchContact, Assert.Throws<StoreException>(() => store.Contacts.Resolve(_mallory.Account.Text)).Error);
        Assert.Equal(request.Account, store.Contacts.ResolveRequest(_mallory.Account.Text[..8]).Account);
    }

    [Fact]
    public void Accept_WithAName_BecomesANamedContactThatSurvivesReopening()
    {
        using (var store = Open())
        {
            var request = store.Contacts.Pin(_mallory.Certificate(), "m", null, T0, ContactStanding.Request);
            store.Contacts.Accept(request, "Mal");
        }

        using var reopened = Open();
        var contact = reopened.Contacts.Resolve("mal");
        Assert.Equal((ContactStanding.Contact, true, "m"), (contact.Standing, contact.Named, contact.DisplayName));
        Assert.Empty(reopened.Contacts.Requests);
    }

    [Fact]
    public void Block_ARequestWithMessages_DeletesThemAndTheCheckSaysBlocked()
    {
        using var store = Open();
        var request = store.Contacts.Pin(_mallory.Certificate(), "mallory", null, T0, ContactStanding.Request);
        store.Messages.Add(request, MessageLog.NewId(), outgoing: false, "spam", T0, T0, MessageState.Received);

        store.Contacts.Block(_mallory.Account, T0);

        var blocked = store.Contacts.Find(_mallory.Account)!;
        Assert.Equal(0, store.Messages.Count(blocked));
        Assert.Empty(store.Contacts.Requests);
        Assert.Equal(PinVerdict.Blocked, store.Contacts.Check(_mallory.Certificate(), null, null).Verdict);
        Assert.Throws<StoreException>(() => store.Contacts.Pin(_mallory.Certificate(), "mallory", null, T0, ContactStanding.Request));

        store.Contacts.Unblock(_mallory.Account);
        Assert.Equal(PinVerdict.New, store.Contacts.Check(_mallory.Certificate(), null, null).Verdict);
    }

    [Fact]
    public void Add_NameAnUnnamedPeerCallsItself_IsFreeForThePerson()
    {
        using var store = Open();
        store.Contacts.Pin(_mallory.Certificate(), "bob", null, T0, ContactStanding.Request);

        var bob = store.Contacts.Add(_bob.Account, "bob", null, T0);

        Assert.Equal(bob.Account, store.Contacts.Resolve("bob").Account);
    }

    [Fact]
    public void Search_ARequestsHeldText_IsFoundOnlyOnceAccepted()
    {
        using var store = Open();
        var request = store.Contacts.Pin(_mallory.Certificate(), "mallory", null, T0, ContactStanding.Request);
        var id = MessageLog.NewId();
        store.Messages.Add(request, id, outgoing: false, "quixotically held", T0, T0, MessageState.Received);

        Assert.Empty(store.Messages.Search("quixotic", null, 10));
        Assert.Equal("quixotically held", store.Messages.Find(id)?.Text);

        store.Contacts.Accept(request, "mal");
        Assert.Equal([id], store.Messages.Search("quixotic", null, 10).Select(m => m.MessageId));
    }

    private LocalStore Open() => LocalStore.Open(_home.Path, _dataKey, _self, TimeProvider.System);
}
