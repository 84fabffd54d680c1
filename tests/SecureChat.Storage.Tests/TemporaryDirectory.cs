namespace SecureChat.Storage.Tests;

/// <summary>
/// A fresh data directory, deleted with everything in it on dispose. <see cref="Path"/> does not
/// exist yet, so the code under test creates it (and its mode can be checked).
/// </summary>
internal sealed class TemporaryDirectory : IDisposable
{
    private readonly DirectoryInfo _parent = Directory.CreateTempSubdirectory("securechat-storage-");

    public TemporaryDirectory()
    {
        Path = System.IO.Path.Combine(_parent.FullName, "home");
    }

    public string Path { get; }

    public string Parent => _parent.FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => _parent.Delete(recursive: true);
}
