using SecureChat.Testing;

namespace SecureChat.Fuzz.Tests;

/// <summary>
/// The committed corpus (fuzz/corpus/&lt;target&gt;/) and the harness stay valid in the normal suite:
/// every file goes through its target exactly as AFL++ would feed it, and a target that throws —
/// a decoder breaking its contract, or a harness that no longer matches its seeds — fails here.
/// </summary>
public sealed class FuzzCorpusTests
{
    private static string CorpusRoot => Path.Combine(RepoPaths.Root, "fuzz", "corpus");

    public static TheoryData<string> Targets => [.. FuzzTargets.All.Select(t => t.Name)];

    [Theory]
    [MemberData(nameof(Targets))]
    public void CorpusFile_RunThroughItsTarget_DoesNotThrow(string name)
    {
        var target = FuzzTargets.Find(name)!;
        var files = Directory.GetFiles(Path.Combine(CorpusRoot, name));
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var exception = Record.Exception(() => target.Run(File.ReadAllBytes(file)));
            Assert.True(exception is null, $"{name}/{Path.GetFileName(file)}: {exception}");
        }
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void Seeds_FromTodaysEncoders_AreCommittedAndSmall(string name)
    {
        var target = FuzzTargets.Find(name)!;
        foreach (var (seed, bytes) in target.Seeds())
        {
            var path = Path.Combine(CorpusRoot, name, seed);
            Assert.True(File.Exists(path), $"The seed {name}/{seed} is not committed: run `dotnet SecureChat.Fuzz.dll seed fuzz/corpus`.");
            Assert.True(bytes.Length <= 4096, $"The seed {name}/{seed} is {bytes.Length} bytes; AFL++ wants small seeds.");
            target.Run(bytes);
        }
    }

    [Fact]
    public void CorpusFolders_EachNameATarget()
    {
        var folders = Directory.GetDirectories(CorpusRoot).Select(Path.GetFileName).Order();
        Assert.Equal(FuzzTargets.All.Select(t => t.Name).Order(), folders);
    }
}
