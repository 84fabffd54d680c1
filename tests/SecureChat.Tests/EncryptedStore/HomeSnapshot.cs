using SecureChat.Testing;

namespace SecureChat.Tests.EncryptedStore;

/// <summary>One file of a data directory: its path inside it, its bytes and its Unix mode.</summary>
internal sealed record HomeFile(string RelativePath, byte[] Content, UnixFileMode Mode);

/// <summary>
/// Every file under a data directory (recursively) as it was at one moment, with the modes of the
/// directory and its subdirectories: what "byte-for-byte unchanged" is checked against.
/// </summary>
internal sealed class HomeSnapshot
{
    private HomeSnapshot(string root, IReadOnlyList<HomeFile> files, IReadOnlyList<(string RelativePath, UnixFileMode Mode)> directories)
    {
        Root = root;
        Files = files;
        Directories = directories;
    }

    public string Root { get; }

    public IReadOnlyList<HomeFile> Files { get; }

    /// <summary>The directory itself (as ".") and every directory below it.</summary>
    public IReadOnlyList<(string RelativePath, UnixFileMode Mode)> Directories { get; }

    /// <summary>
    /// Reads everything under <paramref name="root"/>. Files are opened sharing everything, so a
    /// running node that holds the database and its WAL open is read as it is, not disturbed.
    /// </summary>
    public static HomeSnapshot Take(string root)
    {
        var files = new List<HomeFile>();
        foreach (var path in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            // The one-writer lock files (HomeLock) hold no bytes, only the kernel's lock: a verb
            // creates them before it knows the passphrase, and a running node's cannot be opened.
            if (Path.GetFileName(path) is Storage.HomeLock.NodeFile or Storage.HomeLock.StoreFile)
            {
                continue;
            }

            files.Add(new HomeFile(Path.GetRelativePath(root, path), DataFiles.ReadShared(path), File.GetUnixFileMode(path)));
        }

        List<(string, UnixFileMode)> directories = [(".", File.GetUnixFileMode(root))];
        directories.AddRange(Directory.EnumerateDirectories(root, "*", SearchOption.AllDirectories)
            .Order(StringComparer.Ordinal)
            .Select(d => (Path.GetRelativePath(root, d), File.GetUnixFileMode(d))));
        return new HomeSnapshot(root, files, directories);
    }

    public HomeFile? Find(string relativePath) => Files.SingleOrDefault(f => f.RelativePath == relativePath);

    /// <summary>Writes this snapshot as a new data directory (a copy of the node, made while it is stopped).</summary>
    public void WriteTo(string root)
    {
        foreach (var (relativePath, mode) in Directories)
        {
            var directory = Path.Combine(root, relativePath);
            Directory.CreateDirectory(directory);
            File.SetUnixFileMode(directory, mode);
        }

        foreach (var file in Files)
        {
            var path = Path.Combine(root, file.RelativePath);
            File.WriteAllBytes(path, file.Content);
            File.SetUnixFileMode(path, file.Mode);
        }
    }

    /// <summary>Asserts that <paramref name="after"/> has the same files, bytes and modes as <paramref name="before"/>.</summary>
    public static void AssertUnchanged(HomeSnapshot before, HomeSnapshot after, string what)
    {
        Assert.True(
            before.Files.Select(f => f.RelativePath).SequenceEqual(after.Files.Select(f => f.RelativePath)),
            $"{what} changed the set of files in {before.Root}: [{Names(before)}] became [{Names(after)}]");
        Assert.True(before.Directories.SequenceEqual(after.Directories), $"{what} changed the directories or their modes in {before.Root}");
        foreach (var (old, now) in before.Files.Zip(after.Files))
        {
            Assert.True(old.Content.AsSpan().SequenceEqual(now.Content), $"{what} changed the bytes of {old.RelativePath}");
            Assert.True(old.Mode == now.Mode, $"{what} changed the mode of {old.RelativePath} from {old.Mode} to {now.Mode}");
        }
    }

    private static string Names(HomeSnapshot snapshot) => string.Join(", ", snapshot.Files.Select(f => f.RelativePath));
}
