using System.Text;
using System.Text.Json.Nodes;
using CsCheck;
using SecureChat.Crypto;
using SecureChat.Protocol.Identity;

namespace SecureChat.Storage.Tests;

/// <summary>
/// <c>identity.json</c>: keys sealed under a data key, the data key wrapped by an Argon2id key (or
/// stored clear without a passphrase); damage is a <see cref="StoreException"/>, never another type.
/// </summary>
public sealed class IdentityFileTests : IDisposable
{
    private const string DisplayName = "Zaphod Beeblebrox 42";
    private static readonly byte[] Passphrase = "correct horse battery staple"u8.ToArray();
    private static readonly DateTimeOffset Now = new(2025, 3, 14, 15, 9, 26, TimeSpan.Zero);

    private readonly TemporaryDirectory _home = new();

    public void Dispose() => _home.Dispose();

    [Fact]
    public void Unlock_AfterCreate_GivesTheSameAccountKeysAndName()
    {
        using var created = Create();

        using var unlocked = Unlock(Passphrase);

        Assert.Equal(created.Identity.Account, unlocked.Identity.Account);
        Assert.Equal(created.Identity.Certificate, unlocked.Identity.Certificate);
        Assert.Equal(DisplayName, unlocked.Identity.DisplayName);
        AssertSameKeys(created.Identity, unlocked.Identity);
        Assert.True(created.DataKey.Span.SequenceEqual(unlocked.DataKey.Span));
        Assert.Equal(KeyProtection.Passphrase, IdentityFile.ReadProtection(_home.Path));
    }

    [Fact]
    public void Unlock_WrongPassphrase_ThrowsWrongPassphraseAndLeavesTheFileAsItWas()
    {
        CreateAndDispose();
        var before = File.ReadAllBytes(IdentityFile.PathIn(_home.Path));

        var error = Assert.Throws<StoreException>(() => IdentityFile.Unlock(_home.Path, "correct horse battery stapler"u8));

        Assert.Equal(StoreError.WrongPassphrase, error.Error);
        Assert.Equal(before, File.ReadAllBytes(IdentityFile.PathIn(_home.Path)));
        Assert.False(File.Exists(IdentityFile.PathIn(_home.Path) + ".tmp"));
    }

    [Fact]
    public void Unlock_EmptyPassphraseForAProtectedIdentity_ThrowsWrongPassphrase()
    {
        CreateAndDispose();

        var error = Assert.Throws<StoreException>(() => IdentityFile.Unlock(_home.Path, []));

        Assert.Equal(StoreError.WrongPassphrase, error.Error);
    }

    [Fact]
    public void ChangePassphrase_NewPassphrase_OldFailsNewWorksSealedKeysUntouched()
    {
        using var created = Create();
        var before = ReadJson();
        var newPassphrase = "tr0ub4dor&3"u8.ToArray();

        IdentityFile.ChangePassphrase(_home.Path, Passphrase, newPassphrase, protect: true, Argon2idParameters.Minimum);

        var after = ReadJson();
        Assert.Equal((string?)before["sealedKeys"], (string?)after["sealedKeys"]);
        Assert.Equal((string?)before["certificate"], (string?)after["certificate"]);
        Assert.NotEqual((string?)before["salt"], (string?)after["salt"]);
        Assert.NotEqual((string?)before["wrappedDataKey"], (string?)after["wrappedDataKey"]);
        Assert.Equal(StoreError.WrongPassphrase, Assert.Throws<StoreException>(() => IdentityFile.Unlock(_home.Path, Passphrase)).Error);
        using var unlocked = Unlock(newPassphrase);
        AssertSameKeys(created.Identity, unlocked.Identity);
        Assert.True(created.DataKey.Span.SequenceEqual(unlocked.DataKey.Span));
    }

    [Fact]
    public void ChangePassphrase_WrongOldPassphrase_ThrowsWrongPassphraseAndLeavesTheFileAsItWas()
    {
        CreateAndDispose();
        var before = File.ReadAllBytes(IdentityFile.PathIn(_home.Path));

        var error = Assert.Throws<StoreException>(() =>
            IdentityFile.ChangePassphrase(_home.Path, "wrong"u8, "new"u8, protect: true, Argon2idParameters.Minimum));

        Assert.Equal(StoreError.WrongPassphrase, error.Error);
        Assert.Equal(before, File.ReadAllBytes(IdentityFile.PathIn(_home.Path)));
    }

    [Fact]
    public void ChangePassphrase_ToNoProtection_UnlocksWithoutAPassphrase()
    {
        using var created = Create();
        var sealedKeys = (string?)ReadJson()["sealedKeys"];

        IdentityFile.ChangePassphrase(_home.Path, Passphrase, [], protect: false, Argon2idParameters.Minimum);

        Assert.Equal(KeyProtection.None, IdentityFile.ReadProtection(_home.Path));
        Assert.Equal(sealedKeys, (string?)ReadJson()["sealedKeys"]);
        using var unlocked = Unlock([]);
        AssertSameKeys(created.Identity, unlocked.Identity);
    }

    [Fact]
    public void Create_WithoutPassphrase_UnlocksWithAnyPassphrase()
    {
        using var created = Create(protect: false);

        using var unlocked = Unlock([]);
        using var again = Unlock("ignored"u8);

        Assert.Equal(KeyProtection.None, IdentityFile.ReadProtection(_home.Path));
        Assert.Equal(DisplayName, unlocked.Identity.DisplayName);
        AssertSameKeys(created.Identity, unlocked.Identity);
        AssertSameKeys(created.Identity, again.Identity);
        var json = ReadJson();
        Assert.Null((string?)json["salt"]);
        Assert.Null((string?)json["wrappedDataKey"]);
        Assert.Equal(Convert.ToBase64String(created.DataKey.Span), (string?)json["dataKey"]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Create_File_HoldsNoPrivateKeyNorTheDisplayName(bool protect)
    {
        using var opened = Create(protect);
        var created = opened.Identity;
        var file = File.ReadAllBytes(IdentityFile.PathIn(_home.Path));
        var text = Encoding.UTF8.GetString(file);

        List<byte[]> secrets = [created.AccountPrivateKey.ToArray(), created.DeviceAgreementPrivateKey.ToArray(), created.DeviceSigningPrivateKey.ToArray()];
        if (protect)
        {
            secrets.Add(opened.DataKey.Span.ToArray());
        }

        foreach (var secret in secrets)
        {
            AssertNotContained(file, text, secret);
        }

        var name = Encoding.UTF8.GetBytes(DisplayName);
        AssertNotContained(file, text, name);
        Assert.DoesNotContain("Zaphod", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Beeblebrox", text, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Create_NewDirectory_IsOwnerOnlyAndTheFileIs0600()
    {
        CreateAndDispose();

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_home.Path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(IdentityFile.PathIn(_home.Path)));
        Assert.Equal([IdentityFile.FileName], Directory.GetFiles(_home.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void ChangePassphrase_RewrittenFile_Is0600()
    {
        CreateAndDispose();

        IdentityFile.ChangePassphrase(_home.Path, Passphrase, "new"u8, protect: true, Argon2idParameters.Minimum);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(IdentityFile.PathIn(_home.Path)));
        Assert.Equal([IdentityFile.FileName], Directory.GetFiles(_home.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Create_Twice_ThrowsAlreadyInitializedAndKeepsTheFirst()
    {
        CreateAndDispose();
        var before = File.ReadAllBytes(IdentityFile.PathIn(_home.Path));

        var error = Assert.Throws<StoreException>(() => IdentityFile.Create(_home.Path, "Second", Passphrase, true, Argon2idParameters.Minimum, Now));

        Assert.Equal(StoreError.AlreadyInitialized, error.Error);
        Assert.Equal(before, File.ReadAllBytes(IdentityFile.PathIn(_home.Path)));
    }

    [Theory]
    [InlineData("A")]
    [InlineData("A name of exactly sixty-three bytes, which is most of the limit")]
    public void Create_DisplayNamesOfDifferentLengths_SealedKeysOfOneSize(string name)
    {
        IdentityFile.Create(_home.Path, name, Passphrase, true, Argon2idParameters.Minimum, Now).Identity.Dispose();

        // 96 bytes of keys, the name padded to 64, the 40 bytes of nonce and tag.
        Assert.Equal(96 + 64 + 40, Convert.FromBase64String((string)ReadJson()["sealedKeys"]!).Length);
        using var unlocked = Unlock(Passphrase);
        Assert.Equal(name, unlocked.Identity.DisplayName);
    }

    [Fact]
    public void Unlock_FileFromBeforeNamePadding_OpensWithItsKeysAndName()
    {
        using var created = Create();

        // The sealed keys as version 1 wrote them: the bare name after the keys, under the v1 label.
        var identity = created.Identity;
        byte[] plain = [.. identity.AccountPrivateKey, .. identity.DeviceAgreementPrivateKey, .. identity.DeviceSigningPrivateKey, .. Encoding.UTF8.GetBytes(DisplayName)];
        var old = SecretBox.Seal(created.DataKey.Span, [.. "SecureChat identity keys v1"u8, .. identity.Account.PublicKey], plain);
        var json = ReadJson();
        json["sealedKeys"] = Convert.ToBase64String(old);
        WriteJson(json);

        using var unlocked = Unlock(Passphrase);
        Assert.Equal(DisplayName, unlocked.Identity.DisplayName);
        AssertSameKeys(identity, unlocked.Identity);
    }

    [Fact]
    public void ReadAccount_WithoutPassphrase_GivesTheAccount()
    {
        using var created = Create();

        Assert.Equal(created.Identity.Account, IdentityFile.ReadAccount(_home.Path));
        Assert.True(IdentityFile.Exists(_home.Path));
    }

    [Fact]
    public void UnlockAndReadAccount_NoIdentity_ThrowNotInitialized()
    {
        Assert.False(IdentityFile.Exists(_home.Path));
        Assert.Equal(StoreError.NotInitialized, Assert.Throws<StoreException>(() => IdentityFile.Unlock(_home.Path, Passphrase)).Error);
        Assert.Equal(StoreError.NotInitialized, Assert.Throws<StoreException>(() => IdentityFile.ReadAccount(_home.Path)).Error);
        Assert.Equal(StoreError.NotInitialized, Assert.Throws<StoreException>(() => IdentityFile.ReadProtection(_home.Path)).Error);
    }

    public static TheoryData<string> DamagedFiles { get; } =
    [
        string.Empty,
        "null",
        "[]",
        "{}",
        "\"identity\"",
        "{\"format\":1",
        "{\"format\":\"one\"}",
        "{\"format\":1e999}",
        new string('[', 10_000) + new string(']', 10_000),
    ];

    [Theory]
    [MemberData(nameof(DamagedFiles))]
    public void UnlockAndReadAccount_DamagedJson_ThrowCorrupt(string contents)
    {
        Directory.CreateDirectory(_home.Path);
        File.WriteAllText(IdentityFile.PathIn(_home.Path), contents);

        AssertCorrupt();
    }

    [Fact]
    public void UnlockAndReadAccount_TruncatedFile_ThrowCorrupt()
    {
        CreateAndDispose();
        var bytes = File.ReadAllBytes(IdentityFile.PathIn(_home.Path));
        File.WriteAllBytes(IdentityFile.PathIn(_home.Path), bytes[..(bytes.Length / 2)]);

        AssertCorrupt();
    }

    [Fact]
    public void UnlockAndReadAccount_NotUtf8_ThrowCorrupt()
    {
        Directory.CreateDirectory(_home.Path);
        File.WriteAllBytes(IdentityFile.PathIn(_home.Path), [0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x3A, 0x31, 0x7D]);

        AssertCorrupt();
    }

    public static TheoryData<string, string> DamagedFields { get; } = new()
    {
        { "format", "2" },
        { "format", "0" },
        { "format", "\"1\"" },
        { "protection", "\"Sometimes\"" },
        { "protection", "[]" },
        { "certificate", "\"not base64!\"" },
        { "certificate", "\"AAAA\"" },
        { "certificate", "null" },
        { "certificate", "17" },
        { "sealedKeys", "\"not base64!\"" },
        { "sealedKeys", "\"\"" },
        { "sealedKeys", "null" },
        { "salt", "\"not base64!\"" },
        { "salt", "\"AAAA\"" },
        { "salt", "null" },
        { "wrappedDataKey", "\"not base64!\"" },
        { "argon2MemoryKiB", "1024" },
        { "argon2MemoryKiB", "-8192" },
        { "argon2MemoryKiB", "99999999999" },
        { "argon2Passes", "0" },
        { "argon2Passes", "1000" },
        { "argon2Passes", "\"many\"" },
    };

    [Theory]
    [MemberData(nameof(DamagedFields))]
    public void Unlock_DamagedField_ThrowsCorrupt(string field, string json)
    {
        CreateAndDispose();
        var record = ReadJson();
        record[field] = JsonNode.Parse(json);
        WriteJson(record);

        var error = Assert.Throws<StoreException>(() => IdentityFile.Unlock(_home.Path, Passphrase));

        Assert.Equal(StoreError.Corrupt, error.Error);
    }

    [Fact]
    public void Unlock_TamperedSealedKeys_ThrowsCorrupt()
    {
        CreateAndDispose();
        var record = ReadJson();
        var sealedKeys = Convert.FromBase64String((string)record["sealedKeys"]!);
        sealedKeys[SecretBox.NonceSize + 3] ^= 0x01;
        record["sealedKeys"] = Convert.ToBase64String(sealedKeys);
        WriteJson(record);

        var error = Assert.Throws<StoreException>(() => IdentityFile.Unlock(_home.Path, Passphrase));

        Assert.Equal(StoreError.Corrupt, error.Error);
    }

    [Fact]
    public void Unlock_TamperedCertificate_ThrowsCorrupt()
    {
        CreateAndDispose();
        var record = ReadJson();
        var certificate = Convert.FromBase64String((string)record["certificate"]!);
        certificate[50] ^= 0x01;
        record["certificate"] = Convert.ToBase64String(certificate);
        WriteJson(record);

        Assert.Equal(StoreError.Corrupt, Assert.Throws<StoreException>(() => IdentityFile.Unlock(_home.Path, Passphrase)).Error);
        Assert.Equal(StoreError.Corrupt, Assert.Throws<StoreException>(() => IdentityFile.ReadAccount(_home.Path)).Error);
    }

    [Fact]
    public void Unlock_AnotherIdentitysValidCertificate_ThrowsCorrupt()
    {
        CreateAndDispose();
        using var other = LocalIdentity.Create("Mallory", Now);
        var record = ReadJson();
        record["certificate"] = Convert.ToBase64String(other.Certificate.Encoded);
        WriteJson(record);

        Assert.Equal(StoreError.Corrupt, Assert.Throws<StoreException>(() => IdentityFile.Unlock(_home.Path, Passphrase)).Error);
        Assert.Equal(StoreError.Corrupt, Assert.Throws<StoreException>(() => IdentityFile.ReadAccount(_home.Path)).Error);
    }

    [Fact]
    public void Unlock_SealedKeysOfAnotherIdentity_ThrowsCorrupt()
    {
        CreateAndDispose();
        using var otherHome = new TemporaryDirectory();
        new Opened(IdentityFile.Create(otherHome.Path, "Mallory", Passphrase, true, Argon2idParameters.Minimum, Now)).Dispose();
        var record = ReadJson();
        record["sealedKeys"] = (string?)JsonNode.Parse(File.ReadAllText(IdentityFile.PathIn(otherHome.Path)))!["sealedKeys"];
        WriteJson(record);

        Assert.Equal(StoreError.Corrupt, Assert.Throws<StoreException>(() => IdentityFile.Unlock(_home.Path, Passphrase)).Error);
    }

    [Fact]
    public void Unlock_DowngradedToNoProtectionWithAGuessedKey_ThrowsCorrupt()
    {
        CreateAndDispose();
        var record = ReadJson();
        record["protection"] = "None";
        record["dataKey"] = Convert.ToBase64String(new byte[SecretBox.KeySize]);
        WriteJson(record);

        Assert.Equal(StoreError.Corrupt, Assert.Throws<StoreException>(() => IdentityFile.Unlock(_home.Path, [])).Error);
    }

    [Theory]
    [InlineData("")]
    [InlineData("AAAA")]
    [InlineData("not base64!")]
    public void Unlock_NoProtectionWithABadDataKey_ThrowsCorrupt(string dataKey)
    {
        Create(protect: false).Dispose();
        var record = ReadJson();
        record["dataKey"] = dataKey;
        WriteJson(record);

        Assert.Equal(StoreError.Corrupt, Assert.Throws<StoreException>(() => IdentityFile.Unlock(_home.Path, [])).Error);
    }

    [Fact]
    public void ReadAccount_AccountFieldDisagreesWithCertificate_ThrowsCorrupt()
    {
        CreateAndDispose();
        var record = ReadJson();
        record["account"] = AccountId.FromPublicKey(new byte[32]).Text;
        WriteJson(record);

        Assert.Equal(StoreError.Corrupt, Assert.Throws<StoreException>(() => IdentityFile.ReadAccount(_home.Path)).Error);
    }

    [Fact]
    public void UnlockAndReadAccount_RandomByteChanges_ThrowOnlyStoreExceptions()
    {
        using var created = Create(protect: false);
        var path = IdentityFile.PathIn(_home.Path);
        var original = File.ReadAllBytes(path);

        Gen.Select(Gen.Int[0, original.Length - 1], Gen.Byte).Sample((offset, value) =>
        {
            var damaged = (byte[])original.Clone();
            damaged[offset] = value;
            File.WriteAllBytes(path, damaged);

            AssertUnlocksAsCreatedOrThrowsStoreException(created.Identity, []);
            try
            {
                Assert.Equal(created.Identity.Account, IdentityFile.ReadAccount(_home.Path));
            }
            catch (StoreException)
            {
            }
        }, iter: 300, threads: 1);
    }

    [Fact]
    public void Unlock_RandomByteChangesInAProtectedFile_ThrowOnlyStoreExceptions()
    {
        CreateAndDispose();
        var path = IdentityFile.PathIn(_home.Path);
        var original = File.ReadAllBytes(path);
        using var created = Unlock(Passphrase);

        Gen.Select(Gen.Int[0, original.Length - 1], Gen.Byte).Sample((offset, value) =>
        {
            var damaged = (byte[])original.Clone();
            damaged[offset] = value;
            File.WriteAllBytes(path, damaged);

            AssertUnlocksAsCreatedOrThrowsStoreException(created.Identity, Passphrase);
        }, iter: 100, threads: 1);
    }

    private void AssertUnlocksAsCreatedOrThrowsStoreException(LocalIdentity created, ReadOnlySpan<byte> passphrase)
    {
        try
        {
            using var unlocked = Unlock(passphrase);
            AssertSameKeys(created, unlocked.Identity);
        }
        catch (StoreException ex)
        {
            Assert.True(ex.Error is StoreError.Corrupt or StoreError.WrongPassphrase, ex.Error.ToString());
        }
    }

    private Opened Create(bool protect = true) =>
        new(IdentityFile.Create(_home.Path, DisplayName, protect ? Passphrase : [], protect, Argon2idParameters.Minimum, Now));

    private Opened Unlock(ReadOnlySpan<byte> passphrase) => new(IdentityFile.Unlock(_home.Path, passphrase));

    private void CreateAndDispose() => Create().Dispose();

    private JsonObject ReadJson() => JsonNode.Parse(File.ReadAllText(IdentityFile.PathIn(_home.Path)))!.AsObject();

    private void WriteJson(JsonObject record) => File.WriteAllText(IdentityFile.PathIn(_home.Path), record.ToJsonString());

    private void AssertCorrupt()
    {
        Assert.Equal(StoreError.Corrupt, Assert.Throws<StoreException>(() => IdentityFile.Unlock(_home.Path, Passphrase)).Error);
        Assert.Equal(StoreError.Corrupt, Assert.Throws<StoreException>(() => IdentityFile.ReadAccount(_home.Path)).Error);
    }

    private static void AssertSameKeys(LocalIdentity expected, LocalIdentity actual)
    {
        Assert.True(expected.AccountPrivateKey.SequenceEqual(actual.AccountPrivateKey));
        Assert.True(expected.DeviceAgreementPrivateKey.SequenceEqual(actual.DeviceAgreementPrivateKey));
        Assert.True(expected.DeviceSigningPrivateKey.SequenceEqual(actual.DeviceSigningPrivateKey));
    }

    /// <summary>Neither the raw bytes nor their hex or base64 spelling (at any of the three base64 alignments).</summary>
    private static void AssertNotContained(byte[] file, string text, byte[] secret)
    {
        Assert.Equal(-1, file.AsSpan().IndexOf(secret));
        Assert.DoesNotContain(Convert.ToHexString(secret), text, StringComparison.OrdinalIgnoreCase);
        for (var shift = 0; shift < 3; shift++)
        {
            var aligned = secret.AsSpan(shift, (secret.Length - shift) / 3 * 3);
            Assert.DoesNotContain(Convert.ToBase64String(aligned), text, StringComparison.Ordinal);
            Assert.DoesNotContain(Convert.ToBase64String(aligned).Replace('+', '-').Replace('/', '_'), text, StringComparison.Ordinal);
        }
    }

    /// <summary>An identity and its data key, both wiped on dispose.</summary>
    private sealed class Opened((LocalIdentity Identity, SecretBytes DataKey) pair) : IDisposable
    {
        public LocalIdentity Identity { get; } = pair.Identity;

        public SecretBytes DataKey { get; } = pair.DataKey;

        public void Dispose()
        {
            Identity.Dispose();
            DataKey.Dispose();
        }
    }
}
