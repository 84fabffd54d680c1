namespace SecureChat.Storage.Tests;

/// <summary>Environment variables are process-wide: these tests run alone, never beside another test class.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EnvironmentCollection
{
    public const string Name = "Process environment";
}

/// <summary>Where the data lives: <c>--home</c>, else <c>$SECURECHAT_HOME</c>, else <c>$XDG_DATA_HOME/securechat</c>, else <c>~/.local/share/securechat</c>.</summary>
[Collection(EnvironmentCollection.Name)]
public sealed class DataDirectoryResolveTests : IDisposable
{
    private const string Xdg = "XDG_DATA_HOME";
    private const string Home = "HOME";

    private readonly Dictionary<string, string?> _saved = new()
    {
        [DataDirectory.EnvironmentVariable] = Environment.GetEnvironmentVariable(DataDirectory.EnvironmentVariable),
        [Xdg] = Environment.GetEnvironmentVariable(Xdg),
        [Home] = Environment.GetEnvironmentVariable(Home),
    };

    public void Dispose()
    {
        foreach (var (name, value) in _saved)
        {
            Environment.SetEnvironmentVariable(name, value);
        }
    }

    [Fact]
    public void Resolve_HomeOption_BeatsBothVariables()
    {
        Set("/srv/from-variable", "/srv/xdg");

        Assert.Equal("/srv/from-option", DataDirectory.Resolve("/srv/from-option"));
    }

    [Fact]
    public void Resolve_NoOption_VariableBeatsXdg()
    {
        Set("/srv/from-variable", "/srv/xdg");

        Assert.Equal("/srv/from-variable", DataDirectory.Resolve(null));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public void Resolve_BlankOption_FallsBackToTheVariable(string home)
    {
        Set("/srv/from-variable", "/srv/xdg");

        Assert.Equal("/srv/from-variable", DataDirectory.Resolve(home));
    }

    [Fact]
    public void Resolve_NoOptionNoVariable_UsesXdgDataHome()
    {
        Set(null, "/srv/xdg");

        Assert.Equal("/srv/xdg/securechat", DataDirectory.Resolve(null));
    }

    [Fact]
    public void Resolve_BlankVariable_UsesXdgDataHome()
    {
        Set("  ", "/srv/xdg");

        Assert.Equal("/srv/xdg/securechat", DataDirectory.Resolve(null));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("relative/xdg")] // the XDG Base Directory spec says relative paths are to be ignored
    public void Resolve_NoUsableXdg_UsesLocalShareInTheHomeDirectory(string? xdg)
    {
        using var home = new TemporaryDirectory();
        Set(null, xdg);
        Environment.SetEnvironmentVariable(Home, home.Parent);

        Assert.Equal(Path.Combine(home.Parent, ".local", "share", "securechat"), DataDirectory.Resolve(null));
    }

    [Fact]
    public void Resolve_HomeDirectoryThatDoesNotExist_NeverGivesAPathRelativeToTheWorkingDirectory()
    {
        // Service accounts often have HOME=/nonexistent. The keys must not land in whatever
        // directory the command happened to be started from.
        Set(null, null);
        Environment.SetEnvironmentVariable(Home, "/nonexistent/securechat-test-home");

        var resolved = Record.Exception(() => DataDirectory.Resolve(null)) is StoreException ? null : DataDirectory.Resolve(null);

        Assert.True(resolved is null || Path.IsPathRooted(resolved), $"Resolve gave the relative path '{resolved}'.");
    }

    [Fact]
    public void Resolve_RelativeOption_IsMadeAbsolute()
    {
        var resolved = DataDirectory.Resolve("some/dir/../home");

        Assert.True(Path.IsPathRooted(resolved));
        Assert.Equal(Path.Combine(Environment.CurrentDirectory, "some", "home"), resolved);
    }

    [Fact]
    public void Resolve_RelativeVariable_IsMadeAbsolute()
    {
        Set("relative-home", null);

        Assert.Equal(Path.Combine(Environment.CurrentDirectory, "relative-home"), DataDirectory.Resolve(null));
    }

    private static void Set(string? secureChatHome, string? xdgDataHome)
    {
        Environment.SetEnvironmentVariable(DataDirectory.EnvironmentVariable, secureChatHome);
        Environment.SetEnvironmentVariable(Xdg, xdgDataHome);
    }
}

/// <summary>Creating the directory and replacing files in it.</summary>
public sealed class DataDirectoryFileTests : IDisposable
{
    private readonly TemporaryDirectory _home = new();

    public void Dispose() => _home.Dispose();

    [Fact]
    public void EnsureExists_NewDirectory_IsOwnerOnly()
    {
        var nested = Path.Combine(_home.Path, "a", "b");

        DataDirectory.EnsureExists(nested);

        Assert.True(Directory.Exists(nested));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(nested));
    }

    [Fact]
    public void EnsureExists_ExistingDirectory_KeepsItsFiles()
    {
        DataDirectory.EnsureExists(_home.Path);
        File.WriteAllText(_home.File("keep"), "x");

        DataDirectory.EnsureExists(_home.Path);

        Assert.True(File.Exists(_home.File("keep")));
    }

    [Fact]
    public void WriteAtomically_NewFile_Is0600AndLeavesNoTemporaryFile()
    {
        DataDirectory.EnsureExists(_home.Path);
        var path = _home.File("data");

        DataDirectory.WriteAtomically(path, "first"u8);

        Assert.Equal("first"u8.ToArray(), File.ReadAllBytes(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Equal([path], Directory.GetFiles(_home.Path));
    }

    [Fact]
    public void WriteAtomically_ExistingFile_IsReplacedWholeAndLeavesNoTemporaryFile()
    {
        DataDirectory.EnsureExists(_home.Path);
        var path = _home.File("data");
        DataDirectory.WriteAtomically(path, new byte[4096]);

        DataDirectory.WriteAtomically(path, "short"u8);

        Assert.Equal("short"u8.ToArray(), File.ReadAllBytes(path));
        Assert.False(File.Exists(path + ".tmp"));
        Assert.Single(Directory.GetFiles(_home.Path));
    }

    [Fact]
    public void WriteAtomically_StaleTemporaryFileFromACrash_IsReplacedAndRemoved()
    {
        DataDirectory.EnsureExists(_home.Path);
        var path = _home.File("data");
        File.WriteAllText(path + ".tmp", "half a write from before a crash, longer than the new contents");

        DataDirectory.WriteAtomically(path, "new"u8);

        Assert.Equal("new"u8.ToArray(), File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(_home.Path));
    }
}
