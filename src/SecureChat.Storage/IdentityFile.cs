using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using SecureChat.Crypto;
using SecureChat.Protocol.Identity;
using SecureChat.Protocol.Messages;

namespace SecureChat.Storage;

/// <summary>How the data key is kept: wrapped by a passphrase key, or (unattended nodes) in the clear.</summary>
public enum KeyProtection
{
    Passphrase,
    None,
}

/// <summary>
/// <c>identity.json</c>: this node's identity, with every private key sealed.
/// <para>
/// A random 32-byte data key seals the private keys and display name (XChaCha20-Poly1305, with the
/// account's public key in the associated data). The data key itself is wrapped under a key
/// derived from the passphrase with Argon2id, whose parameters and salt are stored beside it, so
/// changing the passphrase re-wraps one key and re-encrypts nothing. With
/// <see cref="KeyProtection.None"/> the data key is stored unwrapped: anyone who can read the
/// directory can use the identity.
/// </para>
/// </summary>
public sealed class IdentityFile
{
    public const string FileName = "identity.json";
    private const int Format = 1;
    private static ReadOnlySpan<byte> WrapLabel => "SecureChat data key v1"u8;
    private static ReadOnlySpan<byte> SealLabel => "SecureChat identity keys v2"u8;

    /// <summary>Sealed keys written before the display name was padded: the name's exact length shows in their size.</summary>
    private static ReadOnlySpan<byte> UnpaddedSealLabel => "SecureChat identity keys v1"u8;


    public static string PathIn(string directory) => Path.Combine(directory, FileName);

    public static bool Exists(string directory) => File.Exists(PathIn(directory));

    /// <summary>Reads the account ID without unlocking anything (it is public), checking the certificate.</summary>
    public static AccountId ReadAccount(string directory)
    {
        var record = Load(directory);
        var account = DeviceCertificate.TryDecode(DecodeBase64(record.Certificate))?.Account
            ?? throw Corrupt(directory, "its certificate does not verify");
        return account.Text == record.Account ? account : throw Corrupt(directory, "its account does not match its certificate");
    }

    /// <summary>Reads how the identity in <paramref name="directory"/> is protected, without unlocking it.</summary>
    public static KeyProtection ReadProtection(string directory) => Load(directory).Protection;

    /// <summary>Creates and stores a new identity. A null passphrase means <see cref="KeyProtection.None"/>.</summary>
    public static (LocalIdentity Identity, SecretBytes DataKey) Create(
        string directory, string displayName, ReadOnlySpan<byte> passphrase, bool protect, Argon2idParameters parameters, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        DataDirectory.EnsureExists(directory);
        if (Exists(directory))
        {
            throw new StoreException(StoreError.AlreadyInitialized, $"An identity already exists in {directory}.");
        }

        var identity = LocalIdentity.Create(displayName, now);
        var dataKey = SecretBytes.Random(SecretBox.KeySize);
        var record = new Record
        {
            Format = Format,
            Account = identity.Account.Text,
            Certificate = Convert.ToBase64String(identity.Certificate.Encoded),
            Protection = protect ? KeyProtection.Passphrase : KeyProtection.None,
            SealedKeys = Convert.ToBase64String(SealKeys(identity, dataKey.Span)),
        };
        WrapDataKey(record, dataKey.Span, passphrase, protect, parameters);
        Save(directory, record);
        return (identity, dataKey);
    }

    /// <summary>Unlocks the identity. Throws <see cref="StoreException"/> with a clear reason; never changes the file.</summary>
    public static (LocalIdentity Identity, SecretBytes DataKey) Unlock(string directory, ReadOnlySpan<byte> passphrase)
    {
        var record = Load(directory);
        var dataKey = UnwrapDataKey(record, passphrase);
        try
        {
            var certificate = DecodeBase64(record.Certificate);
            var account = DeviceCertificate.TryDecode(certificate)?.Account
                ?? throw Corrupt(directory, "its certificate does not verify");
            if (account.Text != record.Account)
            {
                throw Corrupt(directory, "its account does not match its certificate");
            }
            var sealedKeys = DecodeBase64(record.SealedKeys);
            var opened = SecretBox.TryOpen(dataKey.Span, SealAssociatedData(SealLabel, account), sealedKeys);
            var padded = opened is not null;
            using var keys = opened
                ?? SecretBox.TryOpen(dataKey.Span, SealAssociatedData(UnpaddedSealLabel, account), sealedKeys)
                ?? throw Corrupt(directory, "its sealed keys do not open under its data key");
            if (keys.Length < 96)
            {
                throw Corrupt(directory, "its sealed keys are too short");
            }

            var span = keys.Span;
            var nameLength = span.Length - 96;
            if (padded && !Padding.TryUnpad(span[96..], out nameLength))
            {
                throw Corrupt(directory, "its sealed display name is not padded as it should be");
            }

            var name = Encoding.UTF8.GetString(span.Slice(96, nameLength));
            return (LocalIdentity.TryRestore(name, span[..32], span[32..64], span[64..96], certificate)
                ?? throw Corrupt(directory, "its keys do not match its certificate"), dataKey);
        }
        catch
        {
            dataKey.Dispose();
            throw;
        }
    }

    /// <summary>Re-wraps the data key under a new passphrase (or none); the sealed keys are untouched.</summary>
    public static void ChangePassphrase(string directory, ReadOnlySpan<byte> oldPassphrase, ReadOnlySpan<byte> newPassphrase, bool protect, Argon2idParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var record = Load(directory);
        using var dataKey = UnwrapDataKey(record, oldPassphrase);
        record.Protection = protect ? KeyProtection.Passphrase : KeyProtection.None;
        WrapDataKey(record, dataKey.Span, newPassphrase, protect, parameters);
        Save(directory, record);
    }

    private static SecretBytes UnwrapDataKey(Record record, ReadOnlySpan<byte> passphrase)
    {
        if (record.Protection == KeyProtection.None)
        {
            var clear = DecodeBase64(record.DataKey);
            return clear.Length == SecretBox.KeySize ? SecretBytes.Adopt(clear) : throw Corrupt(null, "its data key has the wrong length");
        }

        var parameters = new Argon2idParameters(record.Argon2MemoryKiB, record.Argon2Passes);
        if (!parameters.IsWithinBounds)
        {
            throw Corrupt(null, "its Argon2id parameters are out of range");
        }

        var salt = DecodeBase64(record.Salt);
        if (salt.Length != PassphraseKdf.SaltSize)
        {
            throw Corrupt(null, "its salt has the wrong length");
        }

        using var wrappingKey = PassphraseKdf.DeriveKey(passphrase, salt, parameters);
        var dataKey = SecretBox.TryOpen(wrappingKey.Span, WrapLabel, DecodeBase64(record.WrappedDataKey))
            ?? throw new StoreException(StoreError.WrongPassphrase, "The passphrase is wrong: the identity could not be unlocked. Nothing was changed.");
        if (dataKey.Length != SecretBox.KeySize)
        {
            dataKey.Dispose();
            throw Corrupt(null, "its data key has the wrong length");
        }

        return dataKey;
    }

    private static void WrapDataKey(Record record, ReadOnlySpan<byte> dataKey, ReadOnlySpan<byte> passphrase, bool protect, Argon2idParameters parameters)
    {
        if (!protect)
        {
            record.DataKey = Convert.ToBase64String(dataKey);
            record.Salt = record.WrappedDataKey = null;
            record.Argon2MemoryKiB = record.Argon2Passes = 0;
            return;
        }

        var salt = System.Security.Cryptography.RandomNumberGenerator.GetBytes(PassphraseKdf.SaltSize);
        using var wrappingKey = PassphraseKdf.DeriveKey(passphrase, salt, parameters);
        record.DataKey = null;
        record.Salt = Convert.ToBase64String(salt);
        record.Argon2MemoryKiB = parameters.MemoryKiB;
        record.Argon2Passes = parameters.Passes;
        record.WrappedDataKey = Convert.ToBase64String(SecretBox.Seal(wrappingKey.Span, WrapLabel, dataKey));
    }

    /// <summary>The three private keys, then the display name padded to a size bucket (<see cref="Padding"/>), so the file's size does not tell the name's length.</summary>
    private static byte[] SealKeys(LocalIdentity identity, ReadOnlySpan<byte> dataKey)
    {
        var name = Padding.Pad(Encoding.UTF8.GetBytes(identity.DisplayName));
        var plain = new byte[96 + name.Length];
        try
        {
            identity.AccountPrivateKey.CopyTo(plain);
            identity.DeviceAgreementPrivateKey.CopyTo(plain.AsSpan(32));
            identity.DeviceSigningPrivateKey.CopyTo(plain.AsSpan(64));
            name.CopyTo(plain.AsSpan(96));
            return SecretBox.Seal(dataKey, SealAssociatedData(SealLabel, identity.Account), plain);
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(plain);
        }
    }

    private static byte[] SealAssociatedData(ReadOnlySpan<byte> label, AccountId account) => [.. label, .. account.PublicKey];

    private static Record Load(string directory)
    {
        var path = PathIn(directory);
        if (!File.Exists(path))
        {
            throw new StoreException(StoreError.NotInitialized, $"There is no identity in {directory} yet: run `securechat init` first.");
        }

        try
        {
            var record = JsonSerializer.Deserialize(File.ReadAllBytes(path), StoredJson.Default.Record);
            if (record is null || record.Format != Format)
            {
                throw Corrupt(directory, "its format is not one this version reads");
            }

            return record;
        }
        catch (JsonException ex)
        {
            throw new StoreException(StoreError.Corrupt, $"{path} is damaged (not valid JSON); restore it from a backup.", ex);
        }
        catch (IOException ex)
        {
            throw new StoreException(StoreError.Unreadable, $"{path} could not be read: {ex.Message}", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new StoreException(StoreError.Unreadable, $"{path} could not be read: permission denied.", ex);
        }
    }

    private static void Save(string directory, Record record) =>
        DataDirectory.WriteAtomically(PathIn(directory), JsonSerializer.SerializeToUtf8Bytes(record, StoredJson.Default.Record));

    private static byte[] DecodeBase64(string? text)
    {
        try
        {
            return Convert.FromBase64String(text ?? string.Empty);
        }
        catch (FormatException ex)
        {
            throw new StoreException(StoreError.Corrupt, "The identity file is damaged (a field is not base64); restore it from a backup.", ex);
        }
    }

    private static StoreException Corrupt(string? directory, string what) =>
        new(StoreError.Corrupt, $"The identity file{(directory is null ? string.Empty : " in " + directory)} is damaged: {what}. Restore it from a backup.");

    internal sealed class Record
    {
        public int Format { get; set; }

        public string Account { get; set; } = string.Empty;

        public string Certificate { get; set; } = string.Empty;

        [JsonConverter(typeof(JsonStringEnumConverter<KeyProtection>))]
        public KeyProtection Protection { get; set; }

        public int Argon2MemoryKiB { get; set; }

        public int Argon2Passes { get; set; }

        public string? Salt { get; set; }

        public string? WrappedDataKey { get; set; }

        public string? DataKey { get; set; }

        public string SealedKeys { get; set; } = string.Empty;
    }
}
