using System.Text;
using SecureChat.Crypto;
using SecureChat.Protocol.Identity;

namespace SecureChat.Storage.Tests;

/// <summary>
/// <c>peers.sealed</c>, the pins of versions before the database (docs/protocol.md A.4): moved into
/// the contacts table at the first open, then deleted; a file that does not open is refused and kept.
/// </summary>
public sealed class LegacyPinsTests : IDisposable
{
    private const string FileName = "peers.sealed";
    private static readonly DateTimeOffset T0 = new(2025, 5, 1, 9, 0, 0, TimeSpan.Zero);

    private readonly StoreHome _home = new();
    private readonly Peer _bob = Peer.Create();
    private readonly Peer _carol = Peer.Create();

    public LegacyPinsTests()
    {
        DataDirectory.EnsureExists(_home.Path);
    }

    public void Dispose()
    {
        _bob.Dispose();
        _carol.Dispose();
        _home.Dispose();
    }

    [Fact]
    public void Open_LegacyPeersFile_ImportsEveryPinAndDeletesTheFile()
    {
        var bobCertificate = _bob.Certificate();
        var carolCertificate = _carol.Certificate();
        WriteLegacyPins(_home.DataKey.Span, _home.Self, $$"""
            [
              {"account":"{{_bob.Account}}","certificate":"{{Convert.ToBase64String(bobCertificate.Encoded)}}","displayName":"Bob","firstSeen":"2025-05-01T09:00:00+00:00","lastSeen":"2025-05-02T10:30:00+02:00","endpoints":["bob.example:7000","10.0.0.2:7000"]},
              {"account":"{{_carol.Account}}","certificate":"{{Convert.ToBase64String(carolCertificate.Encoded)}}","displayName":"Carol","firstSeen":"2025-05-03T09:00:00+00:00","lastSeen":"2025-05-03T09:00:00+00:00","endpoints":[]}
            ]
            """);

        using (var store = _home.Open())
        {
            Assert.False(File.Exists(_home.File(FileName)));
            Assert.Equal(PinVerdict.Known, store.Contacts.Check(bobCertificate, "bob.example:7000", null).Verdict);
            Assert.Equal(PinVerdict.DeviceKeyChanged, store.Contacts.Check(_bob.CertificateForNewDevice(), null, null).Verdict);
        }

        using var reopened = _home.Open();
        var bob = reopened.Contacts.Resolve("Bob");
        var carol = reopened.Contacts.Resolve("Carol");
        Assert.Equal([_bob.Account.Text, _carol.Account.Text], reopened.Contacts.All.Select(c => c.Account));
        Assert.Equal(bobCertificate, bob.DecodeCertificate());
        Assert.Equal(carolCertificate, carol.DecodeCertificate());
        Assert.Equal(("Bob", T0, new DateTimeOffset(2025, 5, 2, 10, 30, 0, TimeSpan.FromHours(2))), (bob.DisplayName, bob.FirstSeen, bob.LastSeen));
        Assert.Equal(["bob.example:7000", "10.0.0.2:7000"], bob.Endpoints);
        Assert.Empty(carol.Endpoints);
        Assert.Null(bob.VerifiedAt);
    }

    [Fact]
    public void Open_LegacyPinsWithOneDisplayName_NamesThemApart()
    {
        WriteLegacyPins(_home.DataKey.Span, _home.Self, $$"""
            [
              {"account":"{{_bob.Account}}","certificate":"{{Convert.ToBase64String(_bob.Certificate().Encoded)}}","displayName":"Sam","firstSeen":"2025-05-01T09:00:00+00:00","lastSeen":"2025-05-01T09:00:00+00:00","endpoints":[]},
              {"account":"{{_carol.Account}}","certificate":"{{Convert.ToBase64String(_carol.Certificate().Encoded)}}","displayName":"Sam","firstSeen":"2025-05-02T09:00:00+00:00","lastSeen":"2025-05-02T09:00:00+00:00","endpoints":[]}
            ]
            """);

        using var store = _home.Open();

        Assert.Equal(["Sam", "Sam (2)"], store.Contacts.All.Select(c => c.Name));
    }

    [Fact]
    public void Open_LegacyPeersFileUnderAnotherKey_ThrowsCorruptAndKeepsTheFile()
    {
        using var otherKey = SecretBytes.Random(SecretBox.KeySize);
        var written = WriteLegacyPins(otherKey.Span, _home.Self, "[]");

        var error = Assert.Throws<StoreException>(() => _home.Open());

        Assert.Equal(StoreError.Corrupt, error.Error);
        Assert.Contains(FileName, error.Message, StringComparison.Ordinal);
        Assert.Equal(written, File.ReadAllBytes(_home.File(FileName)));
    }

    [Fact]
    public void Open_LegacyPeersFileOfAnotherIdentity_ThrowsCorruptAndKeepsTheFile()
    {
        var written = WriteLegacyPins(_home.DataKey.Span, _bob.Account, "[]");

        var error = Assert.Throws<StoreException>(() => _home.Open());

        Assert.Equal(StoreError.Corrupt, error.Error);
        Assert.Equal(written, File.ReadAllBytes(_home.File(FileName)));
    }

    /// <summary>Authentic, but not a pin list (a bug of the version that wrote it): refused like damage, not a crash.</summary>
    [Theory]
    [InlineData("not json")]
    [InlineData("{\"account\":1}")]
    [InlineData("[{\"account\":\"not an id\"}]")]
    public void Open_LegacyPeersFileNotAPinList_ThrowsCorruptAndKeepsTheFile(string plaintext)
    {
        var written = WriteLegacyPins(_home.DataKey.Span, _home.Self, plaintext);

        var error = Record.Exception(() => _home.Open().Dispose());

        Assert.Equal(StoreError.Corrupt, Assert.IsType<StoreException>(error).Error);
        Assert.Equal(written, File.ReadAllBytes(_home.File(FileName)));
    }

    /// <summary>Seals a pin list as the file store did: <c>SecretBox.Seal(dataKey, "SecureChat peers v1" || self public key, JSON)</c>.</summary>
    private byte[] WriteLegacyPins(ReadOnlySpan<byte> dataKey, AccountId self, string json)
    {
        var sealedPins = SecretBox.Seal(dataKey, [.. "SecureChat peers v1"u8, .. self.PublicKey], Encoding.UTF8.GetBytes(json));
        File.WriteAllBytes(_home.File(FileName), sealedPins);
        return sealedPins;
    }
}
