using System.Text;
using SecureChat.Testing;

namespace SecureChat.Storage.Tests;

/// <summary>
/// What a thief of the data directory reads: no message text, no contact name, address or account,
/// in any file of it (the database, its write-ahead log before a checkpoint, the shared memory
/// index, the search index snapshot, whatever else is there), in UTF-8 or UTF-16.
/// </summary>
public sealed class SecretsAtRestTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2025, 5, 1, 9, 0, 0, TimeSpan.Zero);

    private static readonly string[] MessageMarkers = ["xylophonequartz", "Überraschung", "привет"];

    /// <summary>The markers as the search index keeps them: case and accents folded.</summary>
    private static readonly string[] FoldedMarkers = ["uberraschung", "uberr"];
    private static readonly string[] ContactMarkers = ["Zebediah Quarrington", "Ottoline Vexbury", "Ptolemy", "hideout.example:7000"];

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
    public void Files_WhileOpenAndAfterDispose_HoldNoTextNamesOrAccounts()
    {
        var secrets = MessageMarkers.Concat(FoldedMarkers).Concat(ContactMarkers).Concat([_bob.Account.Text, _carol.Account.Text])
            .SelectMany(s => new[] { Encoding.UTF8.GetBytes(s), Encoding.Unicode.GetBytes(s) })
            .Concat([_bob.Account.PublicKey.ToArray(), _carol.Account.PublicKey.ToArray()])
            .ToList();

        using (var store = _home.Open())
        {
            var bob = store.Contacts.Add(_bob.Account, "Zebediah Quarrington", "hideout.example:7000", T0);
            var carol = store.Contacts.Pin(_carol.Certificate(), "Ottoline Vexbury", null, T0);
            carol = store.Contacts.Rename(carol, "Ptolemy");
            foreach (var (marker, i) in MessageMarkers.Select((m, i) => (m, i)))
            {
                store.Messages.Add(bob, MessageLog.NewId(), outgoing: true, $"the word is {marker}", T0.AddSeconds(i), null, MessageState.Sent);
                store.Messages.Add(carol, MessageLog.NewId(), outgoing: false, $"{marker}!", T0.AddSeconds(i), T0.AddSeconds(i + 1), MessageState.Received);
            }

            Assert.Equal(2, store.Messages.Search("uberraschung", null, 10).Count);
            Assert.True(new FileInfo(_home.DatabasePath + "-wal").Length > 0, "The write-ahead log holds the new pages until a checkpoint.");
            AssertNoFileHolds(secrets);
        }

        Assert.True(File.Exists(_home.DatabasePath));
        AssertNoFileHolds(secrets);
    }

    /// <summary>The scan itself: a marker planted in clear is found in either encoding, so the test above cannot pass by reading nothing.</summary>
    [Theory]
    [InlineData("utf-8")]
    [InlineData("utf-16")]
    public void AssertNoFileHolds_MarkerPlantedInClear_Fails(string encoding)
    {
        Directory.CreateDirectory(_home.Path);
        File.WriteAllText(_home.File("plain.txt"), "a xylophonequartz here", Encoding.GetEncoding(encoding));
        byte[][] secrets = [Encoding.UTF8.GetBytes("xylophonequartz"), Encoding.Unicode.GetBytes("xylophonequartz")];

        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => AssertNoFileHolds(secrets));
    }

    private void AssertNoFileHolds(IReadOnlyList<byte[]> secrets)
    {
        var files = Directory.GetFiles(_home.Path, "*", SearchOption.AllDirectories);
        Assert.NotEmpty(files);
        Assert.Empty(DataFiles.Holding(files, secrets));
    }
}
