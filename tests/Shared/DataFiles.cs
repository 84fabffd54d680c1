namespace SecureChat.Testing;

/// <summary>Reading a data directory's files as they are on disk, while SQLite may hold them open.</summary>
internal static class DataFiles
{
    /// <summary>Reads a file SQLite may hold open, without locking it against SQLite.</summary>
    public static byte[] ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>Every file that holds one of <paramref name="secrets"/>, as "NAME holds HEX" (none: the list is empty).</summary>
    public static List<string> Holding(IEnumerable<string> files, IReadOnlyList<byte[]> secrets, Func<string, byte[]>? read = null) =>
        [.. from file in files
            let contents = (read ?? ReadShared)(file)
            from secret in secrets
            where contents.AsSpan().IndexOf(secret) >= 0
            select $"{Path.GetFileName(file)} holds {Convert.ToHexString(secret)}"];
}
