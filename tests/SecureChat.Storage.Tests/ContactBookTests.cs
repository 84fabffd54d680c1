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

    private LocalStore Open() => LocalStore.Open(_home.Path, _dataKey, _self, TimeProvider.System);

    /// <summary>A peer's account key, and its first device's keys.</summary>
    private sealed class Peer : IDisposable
    {
        private readonly SecretBytes _accountKey;
        private readonly byte[] _agreementKey = RandomKey();
        private readonly byte[] _signingKey = RandomKey();

        private Peer(SecretBytes accountKey, byte[] accountPublic)
        {
            _accountKey = accountKey;
            Account = AccountId.FromPublicKey(accountPublic);
        }

        public AccountId Account { get; }

        public static Peer Create()
        {
            var accountPublic = new byte[Ed25519.PublicKeySize];
            return new Peer(Ed25519.GenerateKeyPair(accountPublic), accountPublic);
        }

        public DeviceCertificate Certificate(DateTimeOffset? issuedAt = null) =>
            DeviceCertificate.Issue(_accountKey.Span, _agreementKey, _signingKey, issuedAt ?? T0);

        /// <summary>The same account key vouching for another device (a reinstall, or a thief of the account key).</summary>
        public DeviceCertificate CertificateForNewDevice() =>
            DeviceCertificate.Issue(_accountKey.Span, RandomKey(), RandomKey(), T0.AddDays(1));

        public void Dispose() => _accountKey.Dispose();

        private static byte[] RandomKey()
        {
            var publicKey = new byte[X25519.KeySize];
            Span<byte> privateKey = stackalloc byte[X25519.KeySize];
            X25519.GenerateKeyPair(privateKey, publicKey);
            return publicKey;
        }
    }
}
