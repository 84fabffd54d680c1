using SecureChat.Crypto;
using SecureChat.Protocol.Identity;
using SecureChat.Storage.Backup;

namespace SecureChat.Storage.Tests;

/// <summary>
/// A node to back up: an identity (cheap Argon2id costs) and an open store holding two contacts,
/// one met (certificate, endpoint, verified) and one added by ID, and conversations with both.
/// Every message text holds <see cref="Marker"/>, which must never appear in a backup file.
/// </summary>
internal sealed class BackupTestNode : IDisposable
{
    public const string Marker = "quokkazanzibar";
    public static readonly byte[] NodePassphrase = "node passphrase, long enough"u8.ToArray();
    public static readonly byte[] BackupPassphrase = "backup passphrase, another one"u8.ToArray();
    public static readonly DateTimeOffset T0 = new(2025, 6, 1, 8, 0, 0, TimeSpan.Zero);

    private readonly TemporaryDirectory _directory = new();
    private readonly LocalIdentity _identity;
    private readonly SecretBytes _dataKey;

    public BackupTestNode(bool protect = true)
    {
        (_identity, _dataKey) = IdentityFile.Create(_directory.Path, "Alice", protect ? NodePassphrase : [], protect, Argon2idParameters.Minimum, T0);
        Store = LocalStore.Open(_directory.Path, _dataKey, _identity.Account, TimeProvider.System);
        using var bob = LocalIdentity.Create("Bob", T0);
        using var carol = LocalIdentity.Create("Carol", T0);
        var bobContact = Store.Contacts.Pin(bob.Certificate, "Bob", "192.0.2.7:7311", T0.AddMinutes(1));
        Store.Contacts.MarkVerified(bobContact, T0.AddMinutes(2));
        var carolContact = Store.Contacts.Add(carol.Account, "Carol from work", null, T0.AddMinutes(3));
        for (var i = 0; i < 12; i++)
        {
            var sent = T0.AddMinutes(10 + i);
            Store.Messages.Add(bobContact, MessageLog.NewId(), i % 2 == 0, $"{Marker} to and from Bob, number {i}", sent, i % 2 == 0 ? null : sent.AddSeconds(1), i % 2 == 0 ? MessageState.Delivered : MessageState.Received);
        }

        Store.Messages.Add(carolContact, MessageLog.NewId(), true, $"{Marker}: lunch on Friday?", T0.AddHours(1), null, MessageState.Queued);
    }

    public string Path => _directory.Path;

    public AccountId Account => _identity.Account;

    public LocalStore Store { get; }

    /// <summary>A fresh directory path beside the node's (not created).</summary>
    public string NewDirectory(string name) => System.IO.Path.Combine(_directory.Parent, name);

    /// <summary>A backup of the node with small chunks (so there are many) and cheap Argon2id costs.</summary>
    public byte[] Export(int chunkSize = 512, byte[]? passphrase = null)
    {
        using var output = new MemoryStream();
        NodeBackup.Export(Path, Store, passphrase ?? BackupPassphrase, Argon2idParameters.Minimum, T0.AddDays(1), output, chunkSize);
        return output.ToArray();
    }

    /// <summary>Everything a person sees of the contacts, one line each, in order.</summary>
    public static List<string> Describe(LocalStore store) =>
        [.. store.Contacts.All.Select(c =>
            $"{c.Id}|{c.Account}|{c.Name}|{c.DisplayName}|{c.Certificate}|{c.Notes}|{c.FirstSeen:O}|{c.LastSeen:O}|{c.VerifiedAt:O}|{string.Join(",", c.Endpoints)}")];

    /// <summary>Every conversation, whole, in order.</summary>
    public static List<StoredMessage> History(LocalStore store) =>
        [.. store.Contacts.All.SelectMany(c => store.Messages.History(c, 1000))];

    public void Dispose()
    {
        Store.Dispose();
        _dataKey.Dispose();
        _identity.Dispose();
        _directory.Dispose();
    }
}
