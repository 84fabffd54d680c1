using System.Text;
using SecureChat.Storage;
using static SecureChat.Tests.SecureChatCli;

namespace SecureChat.Tests;

/// <summary>
/// After a real chat between a passphrase-protected home and an unattended one, nothing on disk or
/// on screen (logs included) holds a private key, names are sealed, and permissions are owner-only.
/// </summary>
public sealed class SecretsAtRestTests : IClassFixture<SecretsAtRestTests.ChattedHomes>
{
    private readonly ChattedHomes _homes;

    public SecretsAtRestTests(ChattedHomes homes)
    {
        _homes = homes;
    }

    [Fact]
    public void FilesAndOutput_AfterChat_ContainNoPrivateKey()
    {
        var keys = PrivateKeys(_homes.Protected, ChattedHomes.Passphrase, "protected")
            .Concat(PrivateKeys(_homes.Unattended, string.Empty, "unattended"))
            .ToList();

        var places = new List<(string Where, byte[] Content)>();
        foreach (var home in new[] { _homes.Protected, _homes.Unattended })
        {
            foreach (var file in Directory.EnumerateFiles(home.Path, "*", SearchOption.AllDirectories))
            {
                places.Add((file, File.ReadAllBytes(file)));
            }
        }

        // identity.json and the database (with its WAL files while open; none are left after a clean
        // exit), and the two lock files of the one-writer rule, which stay empty (the lock is the kernel's).
        Assert.All(places, p => Assert.Matches(@"^(identity\.json|securechat\.db(-wal|-shm)?|(node|store)\.lock)$", Path.GetFileName(p.Where)));
        Assert.All(places.Where(p => p.Where.EndsWith(".lock", StringComparison.Ordinal)), p => Assert.Empty(p.Content));
        Assert.Equal(2, places.Count(p => Path.GetFileName(p.Where) == LocalStore.FileName));
        places.AddRange(_homes.Transcripts.Select(t => ("output of " + t.Label, Encoding.UTF8.GetBytes(t.Text))));
        Assert.Contains(_homes.Transcripts, t => t.Text.Contains("dbug:", StringComparison.Ordinal) || t.Text.Contains("info:", StringComparison.Ordinal));

        foreach (var (what, key) in keys)
        {
            Assert.Equal(32, key.Length);
            Assert.Contains(key, k => k != 0);
            foreach (var form in Encodings(key))
            {
                foreach (var (where, content) in places)
                {
                    Assert.False(content.AsSpan().IndexOf(form) >= 0, $"{where} contains the {what}");
                }
            }
        }
    }

    [Fact]
    public void Database_AfterChat_HidesThePeersName()
    {
        var protectedPeers = File.ReadAllBytes(_homes.Protected.FilePath(LocalStore.FileName));
        var unattendedPeers = File.ReadAllBytes(_homes.Unattended.FilePath(LocalStore.FileName));

        AssertAbsent(unattendedPeers, ChattedHomes.ProtectedName, "the unattended side's database");
        AssertAbsent(protectedPeers, ChattedHomes.UnattendedName, "the protected side's database");
        AssertAbsent(File.ReadAllBytes(_homes.Protected.FilePath(IdentityFile.FileName)), ChattedHomes.ProtectedName, "its own identity.json");
        AssertAbsent(File.ReadAllBytes(_homes.Unattended.FilePath(IdentityFile.FileName)), ChattedHomes.UnattendedName, "its own identity.json");
    }

    [Fact]
    public void Home_AfterChat_IsReadableByItsOwnerOnly()
    {
        const UnixFileMode OwnerFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        const UnixFileMode OwnerDirectory = OwnerFile | UnixFileMode.UserExecute;
        foreach (var home in new[] { _homes.Protected, _homes.Unattended })
        {
            Assert.Equal(OwnerDirectory, File.GetUnixFileMode(home.Path));
            Assert.Equal(OwnerFile, File.GetUnixFileMode(home.FilePath(IdentityFile.FileName)));
            Assert.Equal(OwnerFile, File.GetUnixFileMode(home.FilePath(LocalStore.FileName)));
        }
    }

    /// <summary>The home's three private keys, unlocked with the project's own public API.</summary>
    private static List<(string What, byte[] Key)> PrivateKeys(TemporaryHome home, string passphrase, string owner)
    {
        var (identity, dataKey) = IdentityFile.Unlock(home.Path, Encoding.UTF8.GetBytes(passphrase));
        using (identity)
        using (dataKey)
        {
            return
            [
                ($"{owner} account key", identity.AccountPrivateKey.ToArray()),
                ($"{owner} device agreement key", identity.DeviceAgreementPrivateKey.ToArray()),
                ($"{owner} device signing key", identity.DeviceSigningPrivateKey.ToArray()),
            ];
        }
    }

    /// <summary>The ways a key could be written down: raw, hex, base64 (also as JSON escapes it).</summary>
    private static IEnumerable<byte[]> Encodings(byte[] key)
    {
        yield return key;
        var base64 = Convert.ToBase64String(key);
        foreach (var text in new[] { Convert.ToHexStringLower(key), Convert.ToHexString(key), base64, base64.Replace("+", "\\u002B", StringComparison.Ordinal), base64.TrimEnd('=') })
        {
            yield return Encoding.ASCII.GetBytes(text);
        }
    }

    private static void AssertAbsent(byte[] content, string name, string where) =>
        Assert.False(content.AsSpan().IndexOf(Encoding.UTF8.GetBytes(name)) >= 0, $"{where} holds '{name}' in plaintext");

    /// <summary>Two homes that have chatted, with everything the program printed on the way.</summary>
    public sealed class ChattedHomes : IAsyncLifetime
    {
        public const string Passphrase = "a passphrase nobody guesses";
        public const string ProtectedName = "Quintessa Marlowe";
        public const string UnattendedName = "Barnaby Okonkwo";

        internal TemporaryHome Protected { get; } = new();

        internal TemporaryHome Unattended { get; } = new();

        internal List<(string Label, string Text)> Transcripts { get; } = [];

        public async Task InitializeAsync()
        {
            var runs = await Task.WhenAll(
                RunAsync(Passphrase, "--home", Protected.Path, "--verbose", "init", "--name", ProtectedName),
                RunAsync(null, "--home", Unattended.Path, "--verbose", "init", "--name", UnattendedName, "--no-passphrase"));
            Assert.All(runs, r => Assert.True(r.ExitCode == 0, r.Transcript));
            Transcripts.AddRange(runs.Select(r => ("init", r.Transcript)));

            var (listener, port) = await ListenAsync(Protected, "listener (protected)", passphrase: Passphrase, extra: "--verbose");
            await using (listener)
            {
                await using var connector = Connect(Unattended, "connector (unattended)", Address(port), extra: "--verbose");
                await connector.WaitForMatchAsync(SafetyNumberLine(), ChatProcess.Timeout);
                await connector.SendLineAsync("the secret is safe");
                await listener.WaitForLineAsync(Received(UnattendedName, "the secret is safe"), ChatProcess.Timeout);
                await listener.SendLineAsync("so it is");
                await connector.WaitForLineAsync(Received(ProtectedName, "so it is"), ChatProcess.Timeout);
                await connector.ExpectExitAsync(0);
                await listener.ExpectExitAsync(0);
                Transcripts.Add(("listen --verbose", listener.Transcript));
                Transcripts.Add(("connect --verbose", connector.Transcript));
                listener.AssertNoStackTrace();
                connector.AssertNoStackTrace();
            }
        }

        public Task DisposeAsync()
        {
            Protected.Dispose();
            Unattended.Dispose();
            return Task.CompletedTask;
        }
    }
}
