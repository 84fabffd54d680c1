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

    /// <summary>The data directory's locks this home holds (<see cref="HomeLock"/>), let go after the store is closed.</summary>
    private readonly List<HomeLock> _locks = [];

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

    /// <summary>How long a node waits for a CLI verb that holds the store (it may be asking for a passphrase).</summary>
    private static readonly TimeSpan StorePatience = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Opens the data directory for a node (<c>run</c>, <c>listen</c>, <c>connect</c>): refused while
    /// another node holds it; while a CLI verb has the store open, waits for it to finish, so that
    /// the node reads what the verb wrote (<see cref="HomeLock"/>). <paramref name="busy"/> is the
    /// sentence when another node holds the directory; by default the one <c>securechat run</c> says.
    /// </summary>
    public static NodeHome OpenForNode(string directory, TextWriter announcements, string? busy = null)
    {
        var node = HomeLock.TryTake(directory, HomeLock.NodeFile)
            ?? throw new UsageException(busy ?? $"A node already runs for {directory}: stop it first, or use another --home.");
        try
        {
            var store = HomeLock.Take(directory, HomeLock.StoreFile, StorePatience, TimeProvider.System,
                    () => announcements.WriteLine($"* waiting for another securechat command using {directory} to finish"))
                ?? throw new UsageException($"Another securechat command kept {directory} open for {StorePatience.TotalMinutes:0} minutes (waiting for a passphrase?): the node did not start.");
            try
            {
                var home = OpenOrCreate(directory, announcements);
                home._locks.Add(store);
                home._locks.Add(node);
                return home;
            }
            catch
            {
                store.Dispose();
                throw;
            }
        }
        catch
        {
            node.Dispose();
            throw;
        }
    }

    /// <summary>Opens the store of a data directory whose store lock <paramref name="held"/> the caller took; the home keeps it.</summary>
    public static NodeHome Open(string directory, HomeLock held)
    {
        try
        {
            var home = Open(directory);
            home._locks.Add(held);
            return home;
        }
        catch
        {
            held.Dispose();
            throw;
        }
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
        foreach (var held in _locks)
        {
            held.Dispose();
        }
    }
}
