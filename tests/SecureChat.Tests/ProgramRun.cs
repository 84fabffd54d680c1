using System.Diagnostics;
using SecureChat.Testing;

namespace SecureChat.Tests;

/// <summary>
/// Runs one verb of the built program with exactly the SecureChat variables given (the node,
/// new and backup passphrases; <see cref="ChatProcess"/> can set only the first) and stdin at its
/// end, waits for it and both streams, and checks that no stack trace was printed.
/// </summary>
internal static class ProgramRun
{
    public const string NewPassphraseVariable = "SECURECHAT_NEW_PASSPHRASE";
    public const string BackupPassphraseVariable = "SECURECHAT_BACKUP_PASSPHRASE";


    /// <summary>Runs with <c>SECURECHAT_PASSPHRASE</c> set to <paramref name="passphrase"/> (none when null).</summary>
    public static Task<FinishedRun> RunAsync(string? passphrase, params string[] args) =>
        RunAsync(passphrase is null ? [] : new Dictionary<string, string> { [ChatProcess.PassphraseVariable] = passphrase }, args);

    /// <summary>
    /// How every test starts the built program: <c>dotnet securechat.dll ARGS</c> with redirected,
    /// UTF-8 streams, no SecureChat variable inherited from the test's own environment, and exactly
    /// <paramref name="variables"/> set.
    /// </summary>
    public static ProcessStartInfo StartInfo(IReadOnlyDictionary<string, string> variables, IEnumerable<string> args)
    {
        var start = ChildProcess.Redirected(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet", [Path.Combine(AppContext.BaseDirectory, "securechat.dll"), .. args]);
        foreach (var (name, value) in variables)
        {
            start.Environment[name] = value;
        }

        return start;
    }

    public static async Task<FinishedRun> RunAsync(IReadOnlyDictionary<string, string> variables, params string[] args)
    {
        await using var process = ChildProcess.Start($"securechat {string.Join(' ', args)}", StartInfo(variables, args));
        await process.CloseInputAsync();
        var code = await process.WaitForExitAsync(ChatProcess.Timeout);
        process.AssertNoStackTrace();
        return new FinishedRun(code, process.Stdout, process.Stderr, $"--- securechat {string.Join(' ', args)} exited {code} ---\n{process.Transcript}");
    }

    /// <summary>The one line on stderr: "securechat: " and one sentence. Stdout must be empty.</summary>
    public static string SingleErrorSentence(FinishedRun run)
    {
        var lines = run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected exactly one line on stderr\n{run.Transcript}");
        Assert.StartsWith("securechat: ", lines[0], StringComparison.Ordinal);
        Assert.True(lines[0].Length > "securechat: ".Length + 10 && lines[0].EndsWith('.'), $"not a sentence: {lines[0]}");
        Assert.True(run.Stdout.Count == 0, $"an error also printed on stdout\n{run.Transcript}");
        return lines[0];
    }
}
