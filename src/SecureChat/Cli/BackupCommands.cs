using System.Globalization;
using System.Security.Cryptography;
using SecureChat.Crypto;
using SecureChat.Storage;
using SecureChat.Storage.Backup;

namespace SecureChat.Cli;

/// <summary>
/// <c>securechat export FILE</c> and <c>securechat import FILE</c>: an encrypted backup of the
/// identity, contacts and messages, under a backup passphrase read from
/// <c>SECURECHAT_BACKUP_PASSPHRASE</c> or the terminal.
/// </summary>
internal static class BackupCommands
{
    public const string PassphraseVariable = "SECURECHAT_BACKUP_PASSPHRASE";

    public static int Export(string directory, string file, bool force)
    {
        var path = Path.GetFullPath(file);
        if (Directory.Exists(path))
        {
            throw new UsageException($"{path} is a directory: name the backup file to write.");
        }

        if (!force && File.Exists(path))
        {
            throw new UsageException($"{path} already exists: choose another file, or add --force to replace it.");
        }

        // Unlocking proves that the person owns the node; the backup passphrase is asked after.
        // A running node holds the store lock: the export then reads beside it (SQLite gives it
        // one consistent snapshot); otherwise it holds the lock, and a node started meanwhile waits.
        using var node = HomeLock.TryTake(directory, HomeLock.StoreFile) is { } held ? NodeHome.Open(directory, held) : NodeHome.Open(directory);
        var passphrase = ReadPassphrase(confirm: true, path);
        try
        {
            NodeBackup.ExportToFile(path, force, directory, node.Store, passphrase, Argon2idParameters.Default, node.Time.GetUtcNow());
        }
        finally
        {
            CryptographicOperations.ZeroMemory(passphrase);
        }

        var (contacts, messages) = Count(node);
        Console.WriteLine($"Wrote an encrypted backup of {node.Identity.Account} ({Plural(contacts, "contact")}, {Plural(messages, "message")}) to {path}.");
        Console.WriteLine("Keep the backup passphrase: without it the backup cannot be restored.");
        return ExitCodes.Ok;
    }

    public static int Import(string directory, string file)
    {
        var path = Path.GetFullPath(file);
        if (!File.Exists(path))
        {
            throw new UsageException($"There is no file {path}: name the backup that `securechat export` wrote.");
        }

        // Before asking anything: a directory that holds a node is never touched.
        NodeBackup.EnsureRestorableInto(directory);
        BackupSummary summary;
        var passphrase = ReadPassphrase(confirm: false, path);
        try
        {
            using var input = File.OpenRead(path);
            summary = NodeBackup.Restore(input, passphrase, directory);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(passphrase);
        }

        var made = summary.CreatedAt.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
        Console.WriteLine($"Restored {summary.Account} from a backup made {made} UTC into {directory}.");

        // The restored node keeps the passphrase it had: check that it unlocks, when it can be asked.
        var protectedNode = IdentityFile.ReadProtection(directory) == KeyProtection.Passphrase;
        if (protectedNode && string.IsNullOrEmpty(Environment.GetEnvironmentVariable(PassphraseSource.EnvironmentVariable)) && Console.IsInputRedirected)
        {
            Console.WriteLine($"Its passphrase is the one the node had when the backup was made; it was not checked (no {PassphraseSource.EnvironmentVariable} and no terminal): `securechat contacts list` checks it.");
            return ExitCodes.Ok;
        }

        try
        {
            using var node = NodeHome.Open(directory);
            var (contacts, messages) = Count(node);
            Console.WriteLine($"Restored {Plural(contacts, "contact")} and {Plural(messages, "message")}.");
            return ExitCodes.Ok;
        }
        catch (StoreException ex) when (ex.Error == StoreError.WrongPassphrase)
        {
            throw new StoreException(
                StoreError.WrongPassphrase,
                $"The backup was restored into {directory}, but the passphrase given does not unlock it: the node keeps the passphrase it had when the backup was made.",
                ex);
        }
    }

    private static (int Contacts, long Messages) Count(NodeHome node)
    {
        var contacts = node.Contacts.All;
        return (contacts.Count, contacts.Sum(c => node.Store.Messages.Count(c)));
    }

    private static string Plural(long n, string noun) => $"{n} {noun}{(n == 1 ? string.Empty : "s")}";

    /// <summary>The backup passphrase: the environment variable, else the terminal (twice for a new backup).</summary>
    private static byte[] ReadPassphrase(bool confirm, string path) => PassphraseSource.Read(
        PassphraseVariable,
        confirm ? "Backup passphrase (it can be the same as the node's passphrase): " : $"Backup passphrase for {path}: ",
        confirm ? "Repeat the backup passphrase: " : null,
        $"A backup passphrase is needed and there is no terminal to ask on: set {PassphraseVariable}.");
}
