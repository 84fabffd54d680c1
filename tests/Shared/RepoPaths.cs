namespace SecureChat.Testing;

/// <summary>Locates the repository root and the shared folder beside it (../shared).</summary>
internal static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string Shared => Path.GetFullPath(Path.Combine(Root, "..", "shared"));

    public static string SharedFile(params string[] parts) =>
        Path.Combine([Shared, .. parts]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SecureChat.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("SecureChat.slnx was not found above " + AppContext.BaseDirectory);
    }
}
