namespace SecureChat.Tests;

/// <summary>
/// A fresh data directory for one node, deleted with everything in it on dispose. The directory
/// itself does not exist yet, so the program creates it (and its permissions can be checked).
/// </summary>
internal sealed class TemporaryHome : IDisposable
{
    private readonly DirectoryInfo _parent = Directory.CreateTempSubdirectory("securechat-e2e-");

    public TemporaryHome()
    {
        Path = System.IO.Path.Combine(_parent.FullName, "home");
    }

    public string Path { get; }

    public string FilePath(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => _parent.Delete(recursive: true);
}
