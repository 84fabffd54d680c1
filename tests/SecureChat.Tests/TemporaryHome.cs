namespace SecureChat.Tests;

/// <summary>
/// A fresh data directory for one node, deleted with everything in it on dispose. The directory
/// itself does not exist yet, so the program creates it (and its permissions can be checked).
/// </summary>
internal sealed class TemporaryHome : IDisposable
{
    private readonly DirectoryInfo _parent;

    public TemporaryHome()
        : this(Directory.CreateTempSubdirectory("securechat-e2e-"))
    {
    }

    /// <summary>A home inside <paramref name="parent"/> (say, on a small file system of the test's own), which is deleted with it.</summary>
    public TemporaryHome(DirectoryInfo parent)
    {
        _parent = parent;
        Path = System.IO.Path.Combine(_parent.FullName, "home");
    }

    public string Path { get; }

    public string FilePath(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => _parent.Delete(recursive: true);
}
