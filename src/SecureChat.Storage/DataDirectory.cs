namespace SecureChat.Storage;

/// <summary>
/// Where a node keeps its keys and data: <c>--home DIR</c>, else <c>$SECURECHAT_HOME</c>, else
/// <c>$XDG_DATA_HOME/securechat</c>, else <c>~/.local/share/securechat</c>.
/// </summary>
public static class DataDirectory
{
    public const string EnvironmentVariable = "SECURECHAT_HOME";

    public static string Resolve(string? home)
    {
        if (!string.IsNullOrWhiteSpace(home))
        {
            return Path.GetFullPath(home);
        }

        var fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return Path.GetFullPath(fromEnvironment);
        }

        var xdg = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        if (!string.IsNullOrWhiteSpace(xdg) && Path.IsPathRooted(xdg))
        {
            return Path.Combine(xdg, "securechat");
        }

        // $HOME as given, even if it does not exist: never a path relative to the working directory.
        var userHome = Environment.GetEnvironmentVariable("HOME");
        if (string.IsNullOrWhiteSpace(userHome) || !Path.IsPathRooted(userHome))
        {
            userHome = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile, Environment.SpecialFolderOption.DoNotVerify);
        }

        if (string.IsNullOrWhiteSpace(userHome) || !Path.IsPathRooted(userHome))
        {
            throw new StoreException(StoreError.Unreadable, $"There is no home directory to keep data in: choose a data directory with --home DIR or ${EnvironmentVariable}.");
        }

        return Path.Combine(userHome, ".local", "share", "securechat");
    }

    /// <summary>Creates the directory readable by its owner only (0700).</summary>
    public static void EnsureExists(string path)
    {
        if (!Directory.Exists(path))
        {
            Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    /// <summary>
    /// Replaces <paramref name="path"/> with <paramref name="contents"/> atomically: a 0600 temporary
    /// file beside it is written, flushed to disk and renamed over the old one, so a crash leaves
    /// either the old file or the new one, never a torn one.
    /// </summary>
    public static void WriteAtomically(string path, ReadOnlySpan<byte> contents)
    {
        var temporary = path + ".tmp";

        // A leftover temporary file (or a planted link) would keep its own mode or redirect the write.
        File.Delete(temporary);
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        using (var stream = new FileStream(temporary, options))
        {
            stream.Write(contents);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
    }
}
