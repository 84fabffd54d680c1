using SecureChat.Crypto;
using SecureChat.Protocol.Identity;

namespace SecureChat.Storage.Tests;

/// <summary>
/// The contact book's trust-on-first-use pins, sealed in the store under the data key. Alice keeps the book; Bob and Carol are peers, each an account key with device certificates.
/// </summary>
public sealed class ContactBookTests : IDisposable
{
    private const string BobAddress = "bob.example:7000";
    private static readonly DateTimeOffset T0 = new(2025, 5, 1, 9, 0, 0, TimeSpan.Zero);

    private readonly TemporaryDirectory _home = new();
    private readonly SecretBytes _dataKey = SecretBytes.Random(SecretBox.KeySize);
    private readonly AccountId _self = Peer.Create().Account;
    private readonly Peer _bob = Peer.Create();
    private readonly Peer _carol = Peer.Create();

    public ContactBookTests()
    {
        DataDirectory.EnsureExists(_home.Path);
    }

    public void Dispose()
    {
        _bob.Dispose();
        _carol.Dispose();
        _dataKey.Dispose();
        _home.Dispose();
    }

    [Fact]
    public void Check_NeverSeen_IsNewThenKnownOncePinned()
    {
        using var bookStore = Open();
        var book = bookStore.Contacts;
        var certificate = _bob.Certificate();

        var first = book.Check(certificate, BobAddress, null);
        var pinned = book.Pin(certificate, "Bob", BobAddress, T0);
        var second = book.Check(certificate, BobAddress, null);

        Assert.Equal(new PinCheck(PinVerdict.New, null), first);
        Assert.Equal(PinVerdict.Known, second.Verdict);
        Assert.Equal(pinned, second.Pinned);
        Assert.Equal(_bob.Account.Text, pinned.Account);
        Assert.Equal("Bob", pinned.DisplayName);
        Assert.Equal(certificate, pinned.DecodeCertificate());
    }

    [Fact]
    public void Check_InboundKnownPeer_IsKnown()
    {
        using var bookStore = Open();
        var book = bookStore.Contacts;
        var certificate = _bob.Certificate();
        book.Pin(certificate, "Bob", BobAddress, T0);

        Assert.Equal(PinVerdict.Known, book.Check(certificate, null, null).Verdict);
        Assert.Equal(PinVerdict.Known, book.Check(certificate, "elsewhere:1", null).Verdict);
    }

    [Fact]
    public void Check_AnotherAccountAtAPinnedAddress_IsAccountChanged()
    {
        using var bookStore = Open();
        var book = bookStore.Contacts;
        var bobPin = book.Pin(_bob.Certificate(), "Bob", BobAddress, T0);

        var check = book.Check(_carol.Certificate(), BobAddress, null);

        Assert.Equal(PinVerdict.AccountChanged, check.Verdict);
        Assert.Equal(bobPin, check.Pinned);
    }

    [Fact]
    public void Check_AnotherAccountAtAPinnedAddressDifferentlyCased_IsAccountChanged()
    {
        using var bookStore = Open();
        var book = bookStore.Contacts;
        book.Pin(_bob.Certificate(), "Bob", BobAddress, T0);

        Assert.Equal(PinVerdict.AccountChanged, book.Check(_carol.Certificate(), BobAddress.ToUpperInvariant(), null).Verdict);
    }

    [Fact]
    public void Check_AnotherAccountThanTheExpectedOne_IsNotTheExpectedAccount()
    {
        using var bookStore = Open();
        var book = bookStore.Contacts;
        var bobPin = book.Pin(_bob.Certificate(), "Bob", BobAddress, T0);

        var check = book.Check(_carol.Certificate(), BobAddress, _bob.Account);
        var unpinned = book.Check(_bob.Certificate(), "new.example:1", _carol.Account);

        Assert.Equal(new PinCheck(PinVerdict.NotTheExpectedAccount, bobPin), check);
        Assert.Equal(new PinCheck(PinVerdict.NotTheExpectedAccount, null), unpinned);
    }

    [Fact]
    public void Check_ExpectedAccountAtAnotherPeersAddress_IsNew()
    {
        using var bookStore = Open();
        var book = bookStore.Contacts;
        book.Pin(_bob.Certificate(), "Bob", BobAddress, T0);

        Assert.Equal(PinVerdict.New, book.Check(_carol.Certificate(), BobAddress, _carol.Account).Verdict);
    }

    [Fact]
    public void Check_SameAccountWithANewDeviceKey_IsDeviceKeyChanged()
    {
        using var bookStore = Open();
        var book = bookStore.Contacts;
        var bobPin = book.Pin(_bob.Certificate(), "Bob", BobAddress, T0);
        var newDevice = _bob.CertificateForNewDevice();

        var dialed = book.Check(newDevice, BobAddress, null);
        var inbound = book.Check(newDevice, null, null);

        Assert.Equal(new PinCheck(PinVerdict.DeviceKeyChanged, bobPin), dialed);
        Assert.Equal(new PinCheck(PinVerdict.DeviceKeyChanged, bobPin), inbound);
    }

    [Fact]
    public void Check_NewDeviceKeyWithTheAccountExpected_IsKnown()
    {
        using var bookStore = Open();
        var book = bookStore.Contacts;
        var bobPin = book.Pin(_bob.Certificate(), "Bob", BobAddress, T0);

        var check = book.Check(_bob.CertificateForNewDevice(), BobAddress, _bob.Account);

        Assert.Equal(new PinCheck(PinVerdict.Known, bobPin), check);
    }

    [Fact]
    public void Check_SameDeviceKeysReissuedLater_IsKnown()
    {
        using var bookStore = Open();
        var book = bookStore.Contacts;
        book.Pin(_bob.Certificate(), "Bob", BobAddress, T0);

        Assert.Equal(PinVerdict.Known, book.Check(_bob.Certificate(T0.AddDays(30)), BobAddress, null).Verdict);
    }

    [Fact]
    public void Open_AfterPinning_FindsTheSamePins()
    {
        Contact bobPin, carolPin;
        using (var bookStore = Open())
        {
            var book = bookStore.Contacts;
            bobPin = book.Pin(_bob.Certificate(), "Bob", BobAddress, T0);
            carolPin = book.Pin(_carol.Certificate(), "Carol", null, T0.AddMinutes(1));
        }

        using var reopenedStore = Open();
        var reopened = reopenedStore.Contacts;

        Assert.Equal(bobPin.Endpoints, reopened.Find(_bob.Account)!.Endpoints);
        Assert.Equal(bobPin with { Endpoints = [] }, reopened.Find(_bob.Account)! with { Endpoints = [] });
        Assert.Equal(carolPin with { Endpoints = [] }, reopened.Find(_carol.Account)! with { Endpoints = [] });
        Assert.Equal([_bob.Account.Text, _carol.Account.Text], reopened.All.Select(p => p.Account));
        Assert.Equal(PinVerdict.Known, reopened.Check(_bob.Certificate(), BobAddress, null).Verdict);
        Assert.Equal(PinVerdict.AccountChanged, reopened.Check(_carol.Certificate(), BobAddress, null).Verdict);
        Assert.Equal(PinVerdict.DeviceKeyChanged, reopened.Check(_bob.CertificateForNewDevice(), null, null).Verdict);
    }

    [Fact]
    public void Pin_AnotherPeerAtTheSameAddress_TakesTheAddressOver()
    {
        using (var bookStore = Open())
        {
            var book = bookStore.Contacts;
            book.Pin(_bob.Certificate(), "Bob", BobAddress, T0);
            book.Pin(_bob.Certificate(), "Bob", "bob.other:1", T0.AddMinutes(1));

            var carolPin = book.Pin(_carol.Certificate(), "Carol", BobAddress.ToUpperInvariant(), T0.AddMinutes(2));

            Assert.Equal(carolPin, book.FindByEndpoint(BobAddress));
            Assert.Equal(["bob.other:1"], book.Find(_bob.Account)!.Endpoints);
            Assert.Equal(PinVerdict.AccountChanged, book.Check(_bob.Certificate(), BobAddress, null).Verdict);
            Assert.Equal(PinVerdict.Known, book.Check(_carol.Certificate(), BobAddress, null).Verdict);
        }

        using var reopenedStore = Open();
        var reopened = reopenedStore.Contacts;
        Assert.Equal(_carol.Account.Text, reopened.FindByEndpoint(BobAddress)!.Account);
        Assert.Equal(["bob.other:1"], reopened.Find(_bob.Account)!.Endpoints);
    }

    [Fact]
    public void Pin_Again_KeepsFirstSeenAndPutsTheLatestAddressFirst()
    {
        using var bookStore = Open();
        var book = bookStore.Contacts;
        book.Pin(_bob.Certificate(), "Bob", "a:1", T0);
        book.Pin(_bob.Certificate(), "Bob", "b:1", T0.AddHours(1));

        var pin = book.Pin(_bob.Certificate(), "Robert", "A:1", T0.AddHours(2));

        Assert.Equal(T0, pin.FirstSeen);
        Assert.Equal(T0.AddHours(2), pin.LastSeen);
        Assert.Equal("Robert", pin.DisplayName);
        Assert.Equal(["A:1", "b:1"], pin.Endpoints);
        Assert.Single(book.All);
    }

    [Fact]
    public void Pin_WithoutAddress_KeepsTheKnownAddresses()
    {
        using var bookStore = Open();
        var book = bookStore.Contacts;
        book.Pin(_bob.Certificate(), "Bob", BobAddress, T0);

        var pin = book.Pin(_bob.Certificate(), "Bob", null, T0.AddHours(1));

        Assert.Equal([BobAddress], pin.Endpoints);
    }

    [Fact]
    public void Pin_ManyAddresses_KeepsTheEightLatest()
    {
        using var bookStore = Open();
        var book = bookStore.Contacts;
        for (var i = 0; i < 12; i++)
        {
            book.Pin(_bob.Certificate(), "Bob", $"host{i}:1", T0.AddMinutes(i));
        }

        Assert.Equal(Enumerable.Range(4, 8).Reverse().Select(i => $"host{i}:1"), book.Find(_bob.Account)!.Endpoints);
    }

    [Fact]
    public void Pin_NewDeviceCertificate_ReplacesThePinnedOne()
    {
        using var bookStore = Open();
        var book = bookStore.Contacts;
        book.Pin(_bob.Certificate(), "Bob", BobAddress, T0);
        var newDevice = _bob.CertificateForNewDevice();

        book.Pin(newDevice, "Bob", BobAddress, T0.AddDays(1));

        Assert.Equal(newDevice, book.Find(_bob.Account)!.DecodeCertificate());
        Assert.Equal(PinVerdict.Known, book.Check(newDevice, BobAddress, null).Verdict);
    }

    [Fact]
    public void Pin_ContactAddedById_KeepsTheChosenNameAndWasKnown()
    {
        var certificate = _bob.Certificate();
        using (var bookStore = Open())
        {
            var book = bookStore.Contacts;
            var added = book.Add(_bob.Account, "Robert", BobAddress, T0);

            var check = book.Check(certificate, BobAddress, null);
            var pinned = book.Pin(certificate, "Bob", BobAddress, T0.AddHours(1));

            Assert.Equal(new PinCheck(PinVerdict.Known, added), check);
            Assert.Null(added.DecodeCertificate());
            Assert.Equal(added.Id, pinned.Id);
            Assert.Equal(("Robert", "Bob", T0, T0.AddHours(1)), (pinned.Name, pinned.DisplayName, pinned.FirstSeen, pinned.LastSeen));
            Assert.Equal(certificate, pinned.DecodeCertificate());
        }

        using var reopenedStore = Open();
        Assert.Equal(certificate, reopenedStore.Contacts.Resolve("Robert").DecodeCertificate());
        Assert.Equal(PinVerdict.DeviceKeyChanged, reopenedStore.Contacts.Check(_bob.CertificateForNewDevice(), null, null).Verdict);
    }

    [Fact]
    public void Add_AccountAlreadyAContact_ThrowsConflictAndKeepsTheFirst()
    {
        using var bookStore = Open();
        var book = bookStore.Contacts;
        var first = book.Add(_bob.Account, "Bob", null, T0);

        var again = Assert.Throws<StoreException>(() => book.Add(_bob.Account, "Robert", "elsewhere:1", T0.AddHours(1)));
        var unnamed = Assert.Throws<StoreException>(() => book.Add(_bob.Account, null, null, T0.AddHours(1)));

        Assert.Equal((StoreError.Conflict, StoreError.Conflict), (again.Error, unnamed.Error));
        Assert.Equal(first, Assert.Single(book.All));
    }

    [Fact]
    public void Add_PinnedPeer_ThrowsConflict()
    {
        using var bookStore = Open();
        var book = bookStore.Contacts;
        book.Pin(_bob.Certificate(), "Bob", BobAddress, T0);

        Assert.Equal(StoreError.Conflict, Assert.Throws<StoreException>(() => book.Add(_bob.Account, "Robert", null, T0)).Error);
    }

    [Fact]
    public void Add_OwnId_ThrowsConflictAndAddsNothing()
    {
        using var bookStore = Open();
        var book = bookStore.Contacts;

        var error = Assert.Throws<StoreException>(() => book.Add(_self, "Me", null, T0));

        Assert.Equal(StoreError.Conflict, error.Error);
        Assert.Empty(book.All);
    }

    [Fact]
    public void Add_NameTakenInAnotherCase_ThrowsConflict()
    {
        using var bookStore = Open();
        var book = bookStore.Contacts;
        book.Add(_bob.Account, "Bob", null, T0);

        var error = Assert.Throws<StoreException>(() => book.Add(_carol.Account, "bOB", null, T0));

        Assert.Equal(StoreError.Conflict, error.Error);
        Assert.Null(book.Find(_carol.Account));
    }

    [Fact]
    public void Add_WithoutName_IsNamedByTheStartOfItsId()
    {
        using var bookStore = Open();

        var added = bookStore.Contacts.Add(_bob.Account, null, null, T0);

        Assert.Equal(_bob.Account.Text[..8], added.Name);
        Assert.Equal(added, bookStore.Contacts.Resolve(_bob.Account.Text[..8]));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("Bob\u202Egnp.exe")]
    [InlineData("Bob\nCarol")]
    [InlineData("Bob\u200B")]
    [InlineData("ééééééééééééééééééééééééééééééééé")]
    public void Add_InvalidName_ThrowsArgumentExceptionAndAddsNothing(string name)
    {
        using var bookStore = Open();
        var book = bookStore.Contacts;

        Assert.Throws<ArgumentException>(() => book.Add(_bob.Account, name, null, T0));
        Assert.Empty(book.All);
    }

    [Fact]
    public void Rename_ToANameTakenInAnotherCase_ThrowsConflictAndKeepsTheName()
    {
        using var bookStore = Open();
        var book = bookStore.Contacts;
        book.Add(_bob.Account, "Bob", null, T0);
        var carol = book.Add(_carol.Account, "Carol", null, T0);

        var error = Assert.Throws<StoreException>(() => book.Rename(carol, "BOB"));

        Assert.Equal(StoreError.Conflict, error.Error);
        Assert.Equal("Carol", book.Find(_carol.Account)!.Name);
    }

    [Fact]
    public void Rename_OwnNameInAnotherCase_RenamesAndPersists()
    {
        using (var bookStore = Open())
        {
            var bob = bookStore.Contacts.Add(_bob.Account, "bob", null, T0);

            Assert.Equal("Bob", bookStore.Contacts.Rename(bob, "Bob").Name);
        }

        using var reopenedStore = Open();
        Assert.Equal("Bob", reopenedStore.Contacts.Find(_bob.Account)!.Name);
    }

    /// <summary>The contact was removed (by another command) after the caller looked it up.</summary>
    [Fact]
    public void Rename_RemovedContact_ThrowsNoSuchContact()
    {
        using var bookStore = Open();
        var book = bookStore.Contacts;
        var bob = book.Add(_bob.Account, "Bob", null, T0);
        book.Remove(bob);

        var renamed = Record.Exception(() => book.Rename(bob, "Robert"));
        var verified = Record.Exception(() => book.MarkVerified(bob, T0));

        Assert.Equal(StoreError.NoSuchContact, Assert.IsType<StoreException>(renamed).Error);
        Assert.Equal(StoreError.NoSuchContact, Assert.IsType<StoreException>(verified).Error);
        Assert.Empty(book.All);
    }

    [Theory]
    [InlineData("Bob")]
    [InlineData("bob")]
    [InlineData("  BOB ")]
    public void Resolve_NameInAnyCase_FindsTheContact(string typed)
    {
        using var bookStore = Open();
        var bob = bookStore.Contacts.Add(_bob.Account, "Bob", null, T0);
        bookStore.Contacts.Add(_carol.Account, "Carol", null, T0);

        Assert.Equal(bob, bookStore.Contacts.Resolve(typed));
    }

    [Fact]
    public void Resolve_FullIdInAnyCase_FindsTheContact()
    {
        using var bookStore = Open();
        var bob = bookStore.Contacts.Add(_bob.Account, "Bob", null, T0);
        bookStore.Contacts.Add(_carol.Account, "Carol", null, T0);

        Assert.Equal(bob, bookStore.Contacts.Resolve(_bob.Account.Text));
        Assert.Equal(bob, bookStore.Contacts.Resolve(_bob.Account.Text.ToUpperInvariant()));
    }

    [Fact]
    public void Resolve_UniqueIdPrefix_FindsTheContactFromFourCharacters()
    {
        using var bookStore = Open();
        var book = bookStore.Contacts;
        var (first, second) = TwinAccounts();
        var one = book.Add(first, "One", null, T0);
        var two = book.Add(second, "Two", null, T0);
        var shared = SharedPrefixLength(first.Text, second.Text);
        Assert.InRange(shared, 4, AccountId.TextLength - 1);

        Assert.Equal(one, book.Resolve(first.Text[..(shared + 1)]));
        Assert.Equal(two, book.Resolve(second.Text[..(shared + 1)]));
        var bob = book.Add(_bob.Account, "Bob", null, T0);
        var unique = Enumerable.Range(4, 48).First(n => book.All.Count(c => c.Account.StartsWith(_bob.Account.Text[..n], StringComparison.Ordinal)) == 1);
        Assert.Equal(bob, book.Resolve(_bob.Account.Text[..unique]));
    }

    [Fact]
    public void Resolve_AmbiguousIdPrefix_ThrowsNoSuchContactSayingToTypeMore()
    {
        using var bookStore = Open();
        var book = bookStore.Contacts;
        var (first, second) = TwinAccounts();
        book.Add(first, "One", null, T0);
        book.Add(second, "Two", null, T0);
        var prefix = first.Text[..SharedPrefixLength(first.Text, second.Text)];

        var error = Assert.Throws<StoreException>(() => book.Resolve(prefix));

        Assert.Equal(StoreError.NoSuchContact, error.Error);
        Assert.Contains("matches 2 contacts", error.Message, StringComparison.Ordinal);
        Assert.Contains("type more of the ID", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Dave")]
    [InlineData("")]
    [InlineData("Bo")]
    [InlineData("Bob (2)")]
    public void Resolve_NoSuchNameOrId_ThrowsNoSuchContact(string typed)
    {
        using var bookStore = Open();
        bookStore.Contacts.Add(_bob.Account, "Bob", null, T0);

        var error = Assert.Throws<StoreException>(() => bookStore.Contacts.Resolve(typed));

        Assert.Equal(StoreError.NoSuchContact, error.Error);
        Assert.Contains("contacts list", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_IdPrefixShorterThanFour_ThrowsNoSuchContact()
    {
        using var bookStore = Open();
        bookStore.Contacts.Add(_bob.Account, "Bob", null, T0);

        Assert.Equal(StoreError.NoSuchContact, Assert.Throws<StoreException>(() => bookStore.Contacts.Resolve(_bob.Account.Text[..3])).Error);
    }

    [Fact]
    public void Remove_ContactWithMessages_DeletesBothAndReturnsTheCount()
    {
        using (var bookStore = Open())
        {
            var bob = bookStore.Contacts.Pin(_bob.Certificate(), "Bob", BobAddress, T0);
            var carol = bookStore.Contacts.Add(_carol.Account, "Carol", null, T0);
            for (var i = 0; i < 3; i++)
            {
                bookStore.Messages.Add(bob, MessageLog.NewId(), outgoing: true, $"to Bob {i}", T0.AddSeconds(i), null, MessageState.Sent);
            }

            bookStore.Messages.Add(carol, MessageLog.NewId(), outgoing: true, "to Carol", T0, null, MessageState.Sent);

            Assert.Equal(3, bookStore.Contacts.Remove(bob));

            Assert.Null(bookStore.Contacts.Find(_bob.Account));
            Assert.Null(bookStore.Contacts.FindByEndpoint(BobAddress));
            Assert.Equal(StoreError.NoSuchContact, Assert.Throws<StoreException>(() => bookStore.Contacts.Resolve("Bob")).Error);
            Assert.Equal(StoreError.NoSuchContact, Assert.Throws<StoreException>(() => bookStore.Messages.History(bob, 10)).Error);
            Assert.Equal(PinVerdict.New, bookStore.Contacts.Check(_bob.Certificate(), null, null).Verdict);
            Assert.Equal(1, bookStore.Messages.Count(carol));
        }

        using var reopenedStore = Open();
        Assert.Equal([_carol.Account.Text], reopenedStore.Contacts.All.Select(c => c.Account));
        var bobAgain = reopenedStore.Contacts.Add(_bob.Account, "Bob", null, T0.AddDays(1));
        Assert.Equal(0, reopenedStore.Messages.Count(bobAgain));
        Assert.Empty(reopenedStore.Messages.History(bobAgain, 10));
    }

    [Fact]
    public void Remove_ContactWithoutMessages_ReturnsZero()
    {
        using var bookStore = Open();
        var bob = bookStore.Contacts.Add(_bob.Account, "Bob", null, T0);

        Assert.Equal(0, bookStore.Contacts.Remove(bob));
        Assert.Empty(bookStore.Contacts.All);
    }

    [Fact]
    public void Pin_DisplayNameTakenInAnyCase_NamesItBob2ThenBob3()
    {
        using var dave = Peer.Create();
        using var bookStore = Open();
        var book = bookStore.Contacts;

        var bob = book.Pin(_bob.Certificate(), "Bob", null, T0);
        var carol = book.Pin(_carol.Certificate(), "bob", null, T0);
        var third = book.Pin(dave.Certificate(), "Bob", null, T0);
        var bobAgain = book.Pin(_bob.Certificate(), "Bob", null, T0.AddHours(1));

        Assert.Equal(("Bob", "bob (2)", "Bob (3)", "Bob"), (bob.Name, carol.Name, third.Name, bobAgain.Name));
        Assert.Equal("bob", carol.DisplayName);
        Assert.False(carol.Named);

        // What a peer calls itself is shown, never used to find it: its ID finds it.
        Assert.Contains("calls themself", Assert.Throws<StoreException>(() => book.Resolve("BOB (2)")).Message, StringComparison.Ordinal);
        Assert.Equal(carol, book.Resolve(_carol.Account.Text));
    }

    /// <summary>
    /// A name the store makes up for a peer follows the rule it enforces on names people type, and
    /// finds the peer again: also when the display name (64 bytes at most in the handshake) or, for
    /// a display name that cannot be a name, the start of the ID it falls back to is already taken.
    /// </summary>
    [Theory]
    [InlineData("Bob")]
    [InlineData("Ottoline Vexbury of the Seventeen Hills, and the Further Marshes")]
    [InlineData("")]
    [InlineData("Bob\u202E")]
    public void Pin_NameTaken_GivesAValidNameThatResolves(string displayName)
    {
        using var dave = Peer.Create();
        using var bookStore = Open();
        var book = bookStore.Contacts;
        book.Pin(_bob.Certificate(), displayName, null, T0);
        book.Rename(book.Add(_carol.Account, null, null, T0), dave.Account.Text[..8]);

        var pinned = book.Pin(dave.Certificate(), displayName, null, T0);

        Assert.True(ContactBook.IsValidName(pinned.Name), $"'{pinned.Name}' ({System.Text.Encoding.UTF8.GetByteCount(pinned.Name)} bytes) breaks the rule: {ContactBook.NameRule}");
        Assert.NotEqual(pinned.Account, Record.Exception(() => book.Resolve(pinned.Name)) is null ? book.Resolve(pinned.Name).Account : null);
        Assert.Equal(pinned, book.Resolve(pinned.Account));
    }

    [Fact]
    public void MarkVerified_ThenReopen_KeepsTheTime()
    {
        var verifiedAt = T0.AddDays(2).AddMilliseconds(7);
        using (var bookStore = Open())
        {
            var bob = bookStore.Contacts.Pin(_bob.Certificate(), "Bob", BobAddress, T0);
            Assert.Null(bob.VerifiedAt);

            Assert.Equal(verifiedAt, bookStore.Contacts.MarkVerified(bob, verifiedAt).VerifiedAt);
        }

        using var reopenedStore = Open();
        var reopened = reopenedStore.Contacts.Find(_bob.Account)!;
        Assert.Equal(verifiedAt, reopened.VerifiedAt);
        Assert.Equal(verifiedAt, reopenedStore.Contacts.Pin(_bob.Certificate(), "Bob", BobAddress, T0.AddDays(3)).VerifiedAt);
    }

    private LocalStore Open() => LocalStore.Open(_home.Path, _dataKey, _self, TimeProvider.System);

    /// <summary>Two accounts whose IDs share their first 6 characters (the first 30 bits of the key), so 4 to 6 characters match both.</summary>
    private static (AccountId First, AccountId Second) TwinAccounts()
    {
        var first = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        var second = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        first.AsSpan(0, 4).CopyTo(second);
        second[4] = (byte)(first[4] ^ 0xFF);
        return (AccountId.FromPublicKey(first), AccountId.FromPublicKey(second));
    }

    private static int SharedPrefixLength(string a, string b) => a.AsSpan().CommonPrefixLength(b);
}
