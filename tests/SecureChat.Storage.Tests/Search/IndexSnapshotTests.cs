using System.Text;
using SecureChat.Crypto;
using SecureChat.Protocol.Identity;

namespace SecureChat.Storage.Tests.Search;

/// <summary>The sealed search snapshot: a cache that makes unlock fast and never changes an answer.</summary>
public sealed class IndexSnapshotTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly TemporaryDirectory _home = new();
    private readonly SecretBytes _dataKey = SecretBytes.Random(SecretBox.KeySize);
    private readonly LocalIdentity _self = LocalIdentity.Create("me", T0);
    private readonly LocalIdentity _bob = LocalIdentity.Create("bob", T0);
    private readonly LocalIdentity _carol = LocalIdentity.Create("carol", T0);

    private string SnapshotPath => Path.Combine(_home.Path, LocalStore.SnapshotFileName);

    public void Dispose()
    {
        _self.Dispose();
        _bob.Dispose();
        _carol.Dispose();
        _dataKey.Dispose();
        _home.Dispose();
    }

    [Fact]
    public void Dispose_AfterSearching_WritesASealedSnapshotWithoutPlaintextWords()
    {
        using (var store = Open())
        {
            var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
            Add(store, bob, "xylophonequartz Überraschung привет", 0);
            Assert.Single(store.Messages.Search("xylo", null, 10));
        }

        var snapshot = File.ReadAllBytes(SnapshotPath);
        foreach (var word in new[] { "xylophonequartz", "uberraschung", "привет", "xylo" })
        {
            Assert.True(snapshot.AsSpan().IndexOf(Encoding.UTF8.GetBytes(word)) < 0, $"the snapshot holds '{word}'");
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(SnapshotPath));
    }

    [Fact]
    public void Search_AfterReopeningWithASnapshotAndNewMessages_FindsOldAndNew()
    {
        using (var store = Open())
        {
            var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
            Add(store, bob, "old harbour", 0);
            store.Messages.BuildIndex();
        }

        using (var store = Open())
        {
            // Added before the index is loaded: the snapshot is older than the database.
            Add(store, store.Contacts.Resolve("Bob"), "new harbour", 1);
        }

        using var reopened = Open();

        Assert.Equal(["new harbour", "old harbour"], reopened.Messages.Search("harb", null, 10).Select(m => m.Text));
    }

    [Fact]
    public void Search_SnapshotDamagedOrFromAnotherKey_IsRebuiltAndAnswersCorrectly()
    {
        using (var store = Open())
        {
            var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
            Add(store, bob, "lighthouse keeper", 0);
            store.Messages.BuildIndex();
        }

        var bytes = File.ReadAllBytes(SnapshotPath);
        bytes[^5] ^= 0x01;
        File.WriteAllBytes(SnapshotPath, bytes);

        using (var reopened = Open())
        {
            Assert.Equal("lighthouse keeper", Assert.Single(reopened.Messages.Search("keeper", null, 10)).Text);
        }

        File.WriteAllBytes(SnapshotPath, SecretBox.Seal(new byte[32], "SecureChat search snapshot v2"u8, [1, 2, 3]));
        using var again = Open();
        Assert.Single(again.Messages.Search("lighthouse", null, 10));
    }

    [Fact]
    public void Search_ContactRemovedAfterTheSnapshot_IsNotFoundAfterReopening()
    {
        using (var store = Open())
        {
            var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
            Add(store, bob, "confidential plans", 0);
            store.Messages.BuildIndex();
        }

        using (var store = Open())
        {
            store.Contacts.Remove(store.Contacts.Resolve("Bob"));
            var carol = store.Contacts.Add(_carol.Account, "Carol", null, T0);
            Add(store, carol, "holiday pictures", 1);
        }

        using var reopened = Open();

        Assert.Empty(reopened.Messages.Search("confidential", null, 10));
        Assert.Equal("holiday pictures", Assert.Single(reopened.Messages.Search("holiday", null, 10)).Text);
    }

    private LocalStore Open() => LocalStore.Open(_home.Path, _dataKey, _self.Account, TimeProvider.System);

    private static void Add(LocalStore store, Contact contact, string text, int minute) =>
        store.Messages.Add(contact, MessageLog.NewId(), outgoing: false, text, T0.AddMinutes(minute), T0.AddMinutes(minute), MessageState.Received);
}
