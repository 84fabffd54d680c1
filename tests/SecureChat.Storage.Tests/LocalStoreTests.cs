using SecureChat.Crypto;

namespace SecureChat.Storage.Tests;

/// <summary>
/// Opening <c>securechat.db</c>: a new one is created owner-only, in WAL mode, migrated to the
/// current schema once; one it cannot use (a newer schema, not SQLite, another data key) is refused
/// with a <see cref="StoreException"/> that says why, and is left as it was.
/// </summary>
public sealed class LocalStoreTests : IDisposable
{
    /// <summary>The schema this SecureChat writes: the first migration.</summary>
    private const long SchemaVersion = 4;

    private static readonly DateTimeOffset T0 = new(2025, 5, 1, 9, 0, 0, TimeSpan.Zero);

    private readonly StoreHome _home = new();
    private readonly Peer _bob = Peer.Create();

    public void Dispose()
    {
        _bob.Dispose();
        _home.Dispose();
    }

    [Fact]
    public void Open_NewDirectory_CreatesTheCurrentSchemaInWalMode()
    {
        using (_home.Open())
        {
        }

        Assert.Equal(SchemaVersion, _home.Scalar<long>("PRAGMA user_version"));
        Assert.Equal("wal", _home.Scalar<string>("PRAGMA journal_mode"));
        Assert.Equal(["contacts", "invites", "messages", "receipts", "sessions"], _home.Column<string>("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%' ORDER BY name"));
    }

    [Fact]
    public void Open_Again_KeepsTheDataAndTheSchemaVersion()
    {
        string messageId;
        using (var store = _home.Open())
        {
            var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
            messageId = MessageLog.NewId();
            store.Messages.Add(bob, messageId, outgoing: true, "kept", T0, null, MessageState.Sent);
        }

        var schemaBefore = _home.Column<string>("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name");
        using (_home.Open())
        {
        }

        using var reopened = _home.Open();
        var history = reopened.Messages.History(reopened.Contacts.Resolve("Bob"), 10);
        Assert.Equal((messageId, "kept"), (Assert.Single(history).MessageId, history[0].Text));
        Assert.Equal(SchemaVersion, _home.Scalar<long>("PRAGMA user_version"));
        Assert.Equal(schemaBefore, _home.Column<string>("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name"));
    }

    [Fact]
    public void Open_NewerSchema_ThrowsUnreadableSayingToUpdateAndLeavesTheFile()
    {
        using (_home.Open())
        {
        }

        _home.Execute($"PRAGMA user_version = {SchemaVersion + 1}");
        var before = File.ReadAllBytes(_home.DatabasePath);

        var error = Assert.Throws<StoreException>(() => _home.Open());

        Assert.Equal(StoreError.Unreadable, error.Error);
        Assert.Contains("update SecureChat", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(_home.DatabasePath));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Open_NotASqliteFile_ThrowsCorruptAndLeavesTheFile(bool withSqliteHeader)
    {
        Directory.CreateDirectory(_home.Path);
        var garbage = System.Security.Cryptography.RandomNumberGenerator.GetBytes(8192);
        if (withSqliteHeader)
        {
            "SQLite format 3\0"u8.CopyTo(garbage);
        }

        File.WriteAllBytes(_home.DatabasePath, garbage);

        var error = Assert.Throws<StoreException>(() => _home.Open());

        Assert.Equal(StoreError.Corrupt, error.Error);
        Assert.Contains(_home.DatabasePath, error.Message, StringComparison.Ordinal);
        Assert.Equal(garbage, File.ReadAllBytes(_home.DatabasePath));
    }

    [Fact]
    public void Open_SqliteDatabaseWithoutTheTables_ThrowsCorrupt()
    {
        using (_home.Open())
        {
        }

        _home.Execute("DROP TABLE messages; DROP TABLE contacts;");

        Assert.Equal(StoreError.Corrupt, Assert.Throws<StoreException>(() => _home.Open()).Error);
    }

    [Fact]
    public void Open_NewDatabase_IsReadableByItsOwnerOnly()
    {
        const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var store = _home.Open())
        {
            store.Contacts.Add(_bob.Account, "Bob", null, T0);

            Assert.Equal(OwnerOnly, File.GetUnixFileMode(_home.DatabasePath));
            Assert.Equal(OwnerOnly, File.GetUnixFileMode(_home.DatabasePath + "-wal"));
            Assert.Equal(OwnerOnly, File.GetUnixFileMode(_home.DatabasePath + "-shm"));
        }

        Assert.Equal(OwnerOnly, File.GetUnixFileMode(_home.DatabasePath));
        Assert.False(File.Exists(_home.DatabasePath + ".tmp"));
    }

    [Fact]
    public void Open_AnotherDataKey_ThrowsTampered()
    {
        using (var store = _home.Open())
        {
            store.Contacts.Add(_bob.Account, "Bob", null, T0);
        }

        using var otherKey = SecretBytes.Random(SecretBox.KeySize);
        var error = Assert.Throws<StoreException>(() => _home.Open(otherKey));

        Assert.Equal(StoreError.Tampered, error.Error);
        using var rightKey = _home.Open();
        Assert.Equal("Bob", Assert.Single(rightKey.Contacts.All).Name);
    }

    [Fact]
    public void Add_SameAccountUnderTwoDataKeys_StoresUnrelatedLookups()
    {
        using var other = new StoreHome();
        using var sameKeyHome = new StoreHome();
        byte[] LookupOfBob(StoreHome home, SecretBytes dataKey)
        {
            using (var store = home.Open(dataKey))
            {
                store.Contacts.Add(_bob.Account, "Bob", null, T0);
            }

            return home.Scalar<byte[]>("SELECT lookup FROM contacts");
        }

        var mine = LookupOfBob(_home, _home.DataKey);
        var theirs = LookupOfBob(other, other.DataKey);
        var mineAgain = LookupOfBob(sameKeyHome, _home.DataKey);

        Assert.Equal(16, mine.Length);
        Assert.NotEqual(mine, theirs);
        Assert.Equal(mine, mineAgain);
    }
}
