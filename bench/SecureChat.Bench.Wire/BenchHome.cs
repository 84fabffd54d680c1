using Microsoft.Extensions.Logging.Abstractions;
using SecureChat.Crypto;
using SecureChat.Net;
using SecureChat.Node;
using SecureChat.Protocol.Identity;
using SecureChat.Storage;

namespace SecureChat.Bench.Wire;

/// <summary>
/// A node as the daemon runs it — an identity file, a store in its data directory (SQLite, WAL,
/// synchronous=FULL), a <see cref="ChatNode"/> listening on loopback — in a directory of its own.
/// </summary>
internal sealed class BenchHome : IAsyncDisposable
{
    private static readonly NodeOptions Options = new()
    {
        ListenHost = "127.0.0.1",
        ListenPort = 0,
        MinRedialDelay = TimeSpan.FromMilliseconds(50),
        MaxRedialDelay = TimeSpan.FromMilliseconds(500),
        Channel = new ChannelOptions { CloseTimeout = TimeSpan.FromSeconds(1) },
        // A run sends more than a day's quota of a contact (5,000 texts) within a minute; the
        // quota guards a person against a flooding contact and is not what the figures measure.
        ContactQuota = new QuotaLimit(10_000_000, 1L << 40),
    };

    private readonly SecretBytes _dataKey;
    private readonly bool _owned;

    private BenchHome(string directory, LocalIdentity identity, SecretBytes dataKey, bool owned, Stages? stages = null)
    {
        Directory = directory;
        Identity = identity;
        _dataKey = dataKey;
        _owned = owned;
        Store = LocalStore.Open(directory, dataKey, identity.Account, TimeProvider.System);
        stages?.Mark("store opened");
        Node = ChatNode.Start(identity, Store, Options, NullLogger.Instance);
        stages?.Mark("node started");
    }

    public string Directory { get; }

    public LocalIdentity Identity { get; }

    public LocalStore Store { get; }

    public ChatNode Node { get; }

    public int Port => Node.ListenEndPoint?.Port ?? throw new InvalidOperationException("The node does not listen.");

    public string Endpoint => $"127.0.0.1:{Port}";

    /// <summary>A new identity in a new temporary directory, deleted at dispose.</summary>
    public static BenchHome Create(string name) =>
        CreateIn(System.IO.Directory.CreateTempSubdirectory("securechat-bench-").FullName, name, owned: true);

    /// <summary>A new identity in <paramref name="directory"/>, which stays unless <paramref name="owned"/>.</summary>
    public static BenchHome CreateIn(string directory, string name, bool owned = false)
    {
        var (identity, dataKey) = IdentityFile.Create(directory, name, [], protect: false, Argon2idParameters.Default, DateTimeOffset.UtcNow);
        return new BenchHome(directory, identity, dataKey, owned);
    }

    /// <summary>Starts from an existing data directory (an unprotected identity), which stays.</summary>
    public static BenchHome Open(string directory, Stages stages)
    {
        var (identity, dataKey) = IdentityFile.Unlock(directory, []);
        stages.Mark("identity unlocked");
        return new BenchHome(directory, identity, dataKey, owned: false, stages);
    }

    /// <summary>
    /// Waits until the outbox is empty: every message queued so far was acknowledged by its
    /// receiver. Looks every <paramref name="pollMilliseconds"/> (a count over the outbox index: a
    /// cost of its own when a long burst is polled every millisecond).
    /// </summary>
    public async Task DrainAsync(TimeSpan limit, int pollMilliseconds = 1)
    {
        using var timeout = new CancellationTokenSource(limit);
        while (Store.Outbox.Count() > 0)
        {
            await Task.Delay(pollMilliseconds, timeout.Token).ConfigureAwait(false);
        }
    }

    /// <summary>Waits until the contact's connection is up.</summary>
    public async Task WaitOnlineAsync(Contact contact, TimeSpan limit)
    {
        using var timeout = new CancellationTokenSource(limit);
        while (!Node.IsOnline(contact))
        {
            await Task.Delay(1, timeout.Token).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Node.DisposeAsync().ConfigureAwait(false);
        Store.Dispose();
        Identity.Dispose();
        _dataKey.Dispose();
        if (_owned)
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }
}
