using System.Net;
using System.Net.Sockets;
using SecureChat.Crypto;
using SecureChat.Protocol.Identity;
using SecureChat.Storage;

namespace SecureChat.Bench.Capacity;

/// <summary>
/// A node's data directory in a fresh temporary folder: an identity without a passphrase (as
/// <c>securechat init --no-passphrase</c> makes it) and contacts written through the store's own
/// API. Disposing deletes the folder.
/// </summary>
internal sealed class BenchHome : IDisposable
{
    private BenchHome(string path, AccountId account)
    {
        Path = path;
        Account = account;
    }

    public string Path { get; }

    /// <summary>The node's own account.</summary>
    public AccountId Account { get; }

    /// <summary>
    /// Where the data directories go: /dev/shm (a tmpfs) where there is one, so the store's fsyncs
    /// (one per contact written, three per connection accepted) do not set the pace of the run.
    /// Resident memory does not depend on it: SQLite reads its files rather than mapping them
    /// (only its small WAL index is mapped, wherever it lies).
    /// </summary>
    public static string Root { get; } = Directory.Exists("/dev/shm") ? "/dev/shm" : System.IO.Path.GetTempPath();

    public static BenchHome Create(string label)
    {
        var path = Directory.CreateDirectory(
            System.IO.Path.Combine(Root, $"securechat-capacity-{label}-{Environment.ProcessId}"),
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute).FullName;
        try
        {
            var (identity, dataKey) = IdentityFile.Create(path, "bench", [], protect: false, Argon2idParameters.Default, DateTimeOffset.UtcNow);
            using (identity)
            using (dataKey)
            {
                return new BenchHome(path, identity.Account);
            }
        }
        catch
        {
            Directory.Delete(path, recursive: true);
            throw;
        }
    }

    /// <summary>Adds each account as a contact (named <c>peer-NNNN</c>), with its endpoint when one is given.</summary>
    public void AddContacts(IReadOnlyList<(AccountId Account, string? Endpoint)> contacts)
    {
        var (identity, dataKey) = IdentityFile.Unlock(Path, []);
        using (identity)
        using (dataKey)
        using (var store = LocalStore.Open(Path, dataKey, identity.Account, TimeProvider.System))
        {
            for (var i = 0; i < contacts.Count; i++)
            {
                store.Contacts.Add(contacts[i].Account, $"peer-{i:D4}", contacts[i].Endpoint, DateTimeOffset.UtcNow);
            }
        }
    }

    /// <summary>New accounts, as if each were someone met elsewhere; only their public IDs are kept.</summary>
    public static List<AccountId> StrangerAccounts(int count)
    {
        var accounts = new List<AccountId>(count);
        for (var i = 0; i < count; i++)
        {
            using var stranger = LocalIdentity.Create("stranger", DateTimeOffset.UtcNow);
            accounts.Add(stranger.Account);
        }

        return accounts;
    }

    /// <summary>
    /// <paramref name="count"/> different <c>127.0.0.1:PORT</c> endpoints where nobody listens
    /// right now (each port was bound and let go), so dialing them is refused at once, as dialing
    /// a contact whose node is down is.
    /// </summary>
    public static List<string> DeadEndpoints(int count)
    {
        var ports = new HashSet<int>();
        for (var attempt = 0; ports.Count < count && attempt < count * 10; attempt++)
        {
            using var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            ports.Add(((IPEndPoint)probe.LocalEndpoint).Port);
            probe.Stop();
        }

        if (ports.Count < count)
        {
            throw new InvalidOperationException($"Found only {ports.Count} free loopback ports of the {count} wanted.");
        }

        return [.. ports.Select(port => $"127.0.0.1:{port}")];
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException ex)
        {
            Console.Error.WriteLine($"  could not delete {Path}: {ex.Message}");
        }
    }
}
