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

    /// <summary>
    /// Seeds are valid inputs: each must go all the way through its target (a handshake that
    /// completes, a message that decrypts, an item that is stored). One that no longer does — fixed
    /// keys or a format changed under the harness — would leave AFL++ fuzzing only the first check.
    /// </summary>
    [Theory]
    [MemberData(nameof(Targets))]
    public void CommittedSeed_RunThroughItsTarget_IsAccepted(string name)
    {
        var target = FuzzTargets.Find(name)!;
        foreach (var (seed, _) in target.Seeds())
        {
            var path = Path.Combine(CorpusRoot, name, seed);
            Assert.True(File.Exists(path), $"The seed {name}/{seed} is not committed: run `dotnet SecureChat.Fuzz.dll seed fuzz/corpus`.");
            var bytes = File.ReadAllBytes(path);
            Assert.True(bytes.Length <= 4096, $"The seed {name}/{seed} is {bytes.Length} bytes; AFL++ wants small seeds.");
            Assert.True(target.Run(bytes), $"The seed {name}/{seed} is rejected by its target.");
        }
    }

    [Fact]
    public void HandshakeSeed_WithOneByteFlipped_IsRejected()
    {
        // The accepting path is not a given: a tampered handshake must fail where the real one passes.
        var target = FuzzTargets.Find("handshake")!;
        var seed = File.ReadAllBytes(Path.Combine(CorpusRoot, "handshake", "ResponderXX"));
        Assert.True(target.Run(seed));
        seed[60] ^= 1;
        Assert.False(target.Run(seed));
    }

    [Fact]
    public void CorpusFolders_EachNameATarget()
    {
        var folders = Directory.GetDirectories(CorpusRoot).Select(Path.GetFileName).Order();
        Assert.Equal(FuzzTargets.All.Select(t => t.Name).Order(), folders);
    }
}
