using System.Security.Cryptography;
using SecureChat.Crypto;
using SecureChat.Protocol.Identity;
using SecureChat.Storage;

namespace SecureChat.Cli;

/// <summary>An unlocked data directory: this node's identity and its store (contacts, messages).</summary>
internal sealed class NodeHome : IDisposable
{
    /// <summary>
    /// The CLI is a host, and hosts hand the system clock down: every time a verb stamps (a
    /// contact added, a backup written) comes from here, so no code below reads the wall clock.
    /// </summary>
    private static readonly TimeProvider HostClock = TimeProvider.System;

    private readonly SecretBytes _dataKey;

    private NodeHome(string directory, LocalIdentity identity, SecretBytes dataKey)
    {
        Directory = directory;
        Identity = identity;
        _dataKey = dataKey;
        Store = LocalStore.Open(directory, dataKey, identity.Account, Time);
    }

    public string Directory { get; }

    public LocalIdentity Identity { get; }

    public LocalStore Store { get; }

    /// <summary>The clock of this process, for the times the verbs stamp.</summary>
    public TimeProvider Time => HostClock;

    public ContactBook Contacts => Store.Contacts;

    public SecretBytes DataKey => _dataKey;

    /// <summary>Unlocks the identity in <paramref name="directory"/>, creating one first if there is none.</summary>
    public static NodeHome OpenOrCreate(string directory, TextWriter announcements)
    {
        if (!IdentityFile.Exists(directory))
        {
            var created = Create(directory, DefaultName(), protect: true);
            announcements.WriteLine($"* created a new identity in {directory}");
            return created;
        }

        return Open(directory);
    }

    public static NodeHome Open(string directory)
    {
        byte[] passphrase = IdentityFile.ReadProtection(directory) == KeyProtection.Passphrase
            ? PassphraseSource.ReadExisting(directory)
            : [];
        try
        {
            var (identity, dataKey) = IdentityFile.Unlock(directory, passphrase);
            return new NodeHome(directory, identity, dataKey);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(passphrase);
        }
    }

    public static NodeHome Create(string directory, string displayName, bool protect)
    {
        if (IdentityFile.Exists(directory))
        {
            throw new StoreException(StoreError.AlreadyInitialized, $"An identity already exists in {directory}; it was left as it is. Use another --home for a second identity.");
        }

        byte[] passphrase = protect ? PassphraseSource.ReadNew() : [];
        try
        {
            var (identity, dataKey) = IdentityFile.Create(directory, displayName, passphrase, protect, Argon2idParameters.Default, HostClock.GetUtcNow());
            return new NodeHome(directory, identity, dataKey);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(passphrase);
        }
    }

    /// <summary>The name people see when none was chosen: the login name, if it is a valid display name.</summary>
    public static string DefaultName()
    {
        var name = Environment.UserName;
        return Protocol.Channel.HandshakePayload.IsValidDisplayName(name) && name.Length > 0 ? name : "anonymous";
    }

    public void Dispose()
    {
        Store.Dispose();
        Identity.Dispose();
        _dataKey.Dispose();
    }
}
