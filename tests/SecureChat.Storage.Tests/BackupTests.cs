using System.Text;
using SecureChat.Crypto;
using SecureChat.Storage.Backup;

namespace SecureChat.Storage.Tests;

/// <summary>
/// Export and restore of a whole node: identity.json and a snapshot of the database, encrypted
/// under a backup passphrase. What is restored is what was exported; a refused restore writes nothing.
/// </summary>
public sealed class BackupTests : IDisposable
{
    private readonly BackupTestNode _node = new();

    public void Dispose() => _node.Dispose();

    [Fact]
    public void Restore_IntoANewDirectory_GivesTheSameIdentityContactsAndHistory()
    {
        var backup = _node.Export();
        var target = _node.NewDirectory("restored");

        var summary = NodeBackup.Restore(new MemoryStream(backup), BackupTestNode.BackupPassphrase, target);

        Assert.Equal(_node.Account, summary.Account);
        Assert.Equal(BackupTestNode.T0.AddDays(1), summary.CreatedAt);
        Assert.Equal(File.ReadAllBytes(IdentityFile.PathIn(_node.Path)), File.ReadAllBytes(IdentityFile.PathIn(target)));

        // The node's own passphrase unlocks the copy: the backup passphrase did not replace it.
        var (identity, dataKey) = IdentityFile.Unlock(target, BackupTestNode.NodePassphrase);
        using (identity)
        using (dataKey)
        using (var restored = LocalStore.Open(target, dataKey, identity.Account, TimeProvider.System))
        {
            Assert.Equal(_node.Account, identity.Account);
            Assert.Equal(2, restored.Contacts.All.Count);
            Assert.Equal(BackupTestNode.Describe(_node.Store), BackupTestNode.Describe(restored));
            Assert.Equal(13, BackupTestNode.History(restored).Count);
            Assert.Equal(BackupTestNode.History(_node.Store), BackupTestNode.History(restored));
        }
    }

    [Fact]
    public void Restore_UnattendedNode_RoundTripsAndItsClearDataKeyIsNotInTheFile()
    {
        using var unattended = new BackupTestNode(protect: false);
        var identityJson = File.ReadAllText(IdentityFile.PathIn(unattended.Path));
        var dataKey = System.Text.Json.Nodes.JsonNode.Parse(identityJson)!["dataKey"]!.GetValue<string>();
        var backup = unattended.Export();
        var target = unattended.NewDirectory("restored");

        NodeBackup.Restore(new MemoryStream(backup), BackupTestNode.BackupPassphrase, target);

        Assert.False(Contains(backup, Encoding.UTF8.GetBytes(dataKey)));
        Assert.False(Contains(backup, Convert.FromBase64String(dataKey)));
        Assert.Equal(KeyProtection.None, IdentityFile.ReadProtection(target));
        var (identity, key) = IdentityFile.Unlock(target, []);
        using (identity)
        using (key)
        using (var restored = LocalStore.Open(target, key, identity.Account, TimeProvider.System))
        {
            Assert.Equal(BackupTestNode.History(unattended.Store), BackupTestNode.History(restored));
        }
    }

    [Fact]
    public void Restore_WrongPassphrase_ThrowsWrongPassphraseAndWritesNothing()
    {
        var backup = _node.Export();
        var target = _node.NewDirectory("restored");

        var error = Assert.Throws<StoreException>(() => NodeBackup.Restore(new MemoryStream(backup), "backup passphrase, another on"u8, target));

        Assert.Equal(StoreError.WrongPassphrase, error.Error);
        Assert.False(Directory.Exists(target));
        Assert.Equal(StoreError.WrongPassphrase, Assert.Throws<StoreException>(() => NodeBackup.Restore(new MemoryStream(backup), [], target)).Error);
        Assert.False(Directory.Exists(target));
    }

    [Fact]
    public void Restore_TheNodePassphraseInsteadOfTheBackupOne_ThrowsWrongPassphrase()
    {
        var backup = _node.Export();

        var error = Assert.Throws<StoreException>(() => NodeBackup.Restore(new MemoryStream(backup), BackupTestNode.NodePassphrase, _node.NewDirectory("restored")));

        Assert.Equal(StoreError.WrongPassphrase, error.Error);
    }

    [Fact]
    public void Restore_IntoADirectoryWithAnIdentity_IsRefusedAndChangesNothing()
    {
        var backup = _node.Export();
        using var other = new BackupTestNode();
        other.Store.Dispose();
        var before = Snapshot(other.Path);

        var error = Assert.Throws<StoreException>(() => NodeBackup.Restore(new MemoryStream(backup), BackupTestNode.BackupPassphrase, other.Path));

        Assert.Equal(StoreError.AlreadyInitialized, error.Error);
        Assert.Contains("An identity already exists in", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot(other.Path));
    }

    [Fact]
    public void Restore_IntoADirectoryWithADatabaseButNoIdentity_IsRefusedAndChangesNothing()
    {
        var backup = _node.Export();
        var target = _node.NewDirectory("restored");
        Directory.CreateDirectory(target);
        File.WriteAllBytes(Path.Combine(target, LocalStore.FileName), [1, 2, 3]);
        var before = Snapshot(target);

        var error = Assert.Throws<StoreException>(() => NodeBackup.Restore(new MemoryStream(backup), BackupTestNode.BackupPassphrase, target));

        Assert.Equal(StoreError.AlreadyInitialized, error.Error);
        Assert.Equal(before, Snapshot(target));
    }

    [Fact]
    public void Restore_IntoAnExistingEmptyDirectory_Works()
    {
        var backup = _node.Export();
        var target = _node.NewDirectory("restored");
        Directory.CreateDirectory(target);

        NodeBackup.Restore(new MemoryStream(backup), BackupTestNode.BackupPassphrase, target);

        Assert.Equal(_node.Account, IdentityFile.ReadAccount(target));
    }

    [Fact]
    public void Restore_WritesOwnerOnlyFilesAndDirectoryAndNothingElse()
    {
        var target = _node.NewDirectory("restored");

        NodeBackup.Restore(new MemoryStream(_node.Export()), BackupTestNode.BackupPassphrase, target);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(target));
        Assert.Equal([IdentityFile.FileName, LocalStore.FileName], Directory.GetFiles(target).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.All(Directory.GetFiles(target), f => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(f)));
    }

    [Fact]
    public void Export_WhileWritesAreStillInTheWriteAheadLog_IncludesThem()
    {
        var bob = _node.Store.Contacts.All.Single(c => c.DisplayName == "Bob");
        var last = _node.Store.Messages.AddNew(bob, outgoing: true, "the very last word", MessageState.Sent);
        Assert.True(new FileInfo(Path.Combine(_node.Path, LocalStore.FileName + "-wal")).Length > 0);
        var target = _node.NewDirectory("restored");

        NodeBackup.Restore(new MemoryStream(_node.Export()), BackupTestNode.BackupPassphrase, target);

        var (identity, dataKey) = IdentityFile.Unlock(target, BackupTestNode.NodePassphrase);
        using (identity)
        using (dataKey)
        using (var restored = LocalStore.Open(target, dataKey, identity.Account, TimeProvider.System))
        {
            var history = restored.Messages.History(restored.Contacts.All.Single(c => c.DisplayName == "Bob"), 1);
            Assert.Equal(last, Assert.Single(history).MessageId);
            Assert.Equal("the very last word", history[0].Text);
        }
    }

    [Fact]
    public void Export_FileShowsNoMessageNameOrAccount()
    {
        var backup = _node.Export(chunkSize: BackupHeader.DefaultChunkSize);

        Assert.False(Contains(backup, Encoding.UTF8.GetBytes(BackupTestNode.Marker)));
        Assert.False(Contains(backup, Encoding.Unicode.GetBytes(BackupTestNode.Marker)));
        Assert.False(Contains(backup, Encoding.UTF8.GetBytes(_node.Account.Text)));
        Assert.False(Contains(backup, "Carol from work"u8.ToArray()));
        Assert.False(Contains(backup, "SQLite format 3"u8.ToArray()));
        Assert.False(Contains(backup, "sealedKeys"u8.ToArray()));
    }

    [Fact]
    public void Export_Twice_UsesAFreshSaltAndGivesOtherBytes()
    {
        var first = _node.Export();
        var second = _node.Export();

        Assert.Equal(BackupHeaderStatus.Ok, BackupHeader.TryDecode(first, out var a));
        Assert.Equal(BackupHeaderStatus.Ok, BackupHeader.TryDecode(second, out var b));
        Assert.NotEqual(a!.Salt, b!.Salt);
        Assert.NotEqual(a.KeyCheck, b.KeyCheck);
        Assert.Equal(first.Length, second.Length);
        Assert.NotEqual(first, second);
    }

    [Fact]
    public void Export_Layout_IsAHeaderThenFullChunksThenOneShorterChunk()
    {
        const int chunkSize = 512;
        var backup = _node.Export(chunkSize);

        Assert.Equal(BackupHeaderStatus.Ok, BackupHeader.TryDecode(backup, out var header));
        Assert.Equal(Argon2idParameters.Minimum, header!.Kdf);
        Assert.Equal(chunkSize, header.ChunkSize);
        var body = backup.Length - BackupHeader.Size;
        var fullChunks = body / (chunkSize + SecretBox.Overhead);
        var last = body % (chunkSize + SecretBox.Overhead);
        Assert.True(fullChunks > 10, $"{fullChunks} chunks");
        Assert.InRange(last, SecretBox.Overhead, chunkSize + SecretBox.Overhead - 1);
    }

    [Fact]
    public void Header_Encode_IsTheDocumentedLayout()
    {
        var header = new BackupHeader(Argon2idParameters.Default, [.. Enumerable.Range(0, 16).Select(i => (byte)i)], BackupHeader.DefaultChunkSize, [.. Enumerable.Range(16, 16).Select(i => (byte)i)]);

        var bytes = header.Encode();

        // magic, version, 65536 KiB, 3 passes, salt, 1 MiB chunks, key check, SHA-256 digest (computed with Python's hashlib).
        Assert.Equal(
            "5343424b" + "01" + "00010000" + "00000003" + "000102030405060708090a0b0c0d0e0f" + "00100000" + "101112131415161718191a1b1c1d1e1f" + "9a8d464b456e44ce",
            Convert.ToHexStringLower(bytes));
        Assert.Equal(BackupHeaderStatus.Ok, BackupHeader.TryDecode(bytes, out var decoded));
        Assert.Equal(header.Kdf, decoded!.Kdf);
        Assert.Equal(header.Salt, decoded.Salt);
        Assert.Equal(header.ChunkSize, decoded.ChunkSize);
        Assert.Equal(header.KeyCheck, decoded.KeyCheck);
    }

    [Theory]
    [InlineData("", BackupHeaderStatus.Damaged)]
    [InlineData("53", BackupHeaderStatus.Damaged)]
    [InlineData("5343424b", BackupHeaderStatus.Damaged)]
    [InlineData("5343424b01", BackupHeaderStatus.Damaged)]
    [InlineData("5343424b02", BackupHeaderStatus.UnsupportedVersion)]
    [InlineData("89504e470d0a1a0a", BackupHeaderStatus.NotABackup)]
    [InlineData("53514c69746520666f726d6174203300", BackupHeaderStatus.NotABackup)]
    public void Header_TryDecode_ShortOrForeignInput_IsATypedRejection(string hex, BackupHeaderStatus expected)
    {
        Assert.Equal(expected, BackupHeader.TryDecode(Convert.FromHexString(hex), out var header));
        Assert.Null(header);
    }

    [Fact]
    public void Header_TryDecode_ValidDigestButCostsOutOfBounds_IsDamaged()
    {
        var bytes = new BackupHeader(Argon2idParameters.Minimum, new byte[16], 4096, new byte[16]).Encode();
        bytes[5] = 0x7f;
        System.Security.Cryptography.SHA256.HashData(bytes.AsSpan(0, 49))[..8].CopyTo(bytes, 49);

        Assert.Equal(BackupHeaderStatus.Damaged, BackupHeader.TryDecode(bytes, out _));
    }

    [Fact]
    public void Restore_NotABackup_ThrowsCorruptAndWritesNothing()
    {
        var target = _node.NewDirectory("restored");

        var error = Assert.Throws<StoreException>(() => NodeBackup.Restore(new MemoryStream(File.ReadAllBytes(IdentityFile.PathIn(_node.Path))), BackupTestNode.BackupPassphrase, target));

        Assert.Equal(StoreError.Corrupt, error.Error);
        Assert.Contains("not a SecureChat backup", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(target));
    }

    [Fact]
    public void ExportToFile_WritesOwnerOnlyAndRefusesToReplaceUnlessAsked()
    {
        var path = _node.NewDirectory("backup.scbk");
        File.WriteAllText(path, "precious");

        var error = Assert.Throws<StoreException>(() => NodeBackup.ExportToFile(path, false, _node.Path, _node.Store, BackupTestNode.BackupPassphrase, Argon2idParameters.Minimum, BackupTestNode.T0));
        Assert.Equal(StoreError.Conflict, error.Error);
        Assert.Equal("precious", File.ReadAllText(path));

        NodeBackup.ExportToFile(path, true, _node.Path, _node.Store, BackupTestNode.BackupPassphrase, Argon2idParameters.Minimum, BackupTestNode.T0);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Equal([Path.GetFileName(path), "home"], Directory.GetFileSystemEntries(Path.GetDirectoryName(path)!).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        using var input = File.OpenRead(path);
        Assert.Equal(_node.Account, NodeBackup.Restore(input, BackupTestNode.BackupPassphrase, _node.NewDirectory("restored")).Account);
    }

    internal static bool Contains(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle) >= 0;

    /// <summary>Every file in a directory with its bytes, to show that nothing changed.</summary>
    private static List<string> Snapshot(string directory) =>
        [.. Directory.GetFiles(directory).Order(StringComparer.Ordinal).Select(f => $"{Path.GetFileName(f)}:{Convert.ToHexString(File.ReadAllBytes(f))}")];
}
