using SecureChat.Testing;

namespace SecureChat.Tests;

/// <summary>
/// How a test starts the built <c>securechat</c> program as a <see cref="ChildProcess"/>:
/// <c>dotnet securechat.dll ARGS</c>, started as <see cref="ProgramRun.StartInfo"/> says (each
/// test gives its own <c>--home</c>).
/// </summary>
internal static class ChatProcess
{
    public const string PassphraseVariable = "SECURECHAT_PASSPHRASE";

    /// <summary>The longest any single step of a test of the program waits: the harness's.</summary>
    public static TimeSpan Timeout => ChildProcess.Timeout;

    /// <summary>
    /// Starts <c>dotnet securechat.dll ARGS</c>. <paramref name="passphrase"/> becomes
    /// <c>SECURECHAT_PASSPHRASE</c>; null removes that variable from the child's environment.
    /// </summary>
    public static ChildProcess Start(string label, string? passphrase, params string[] args) =>
        ChildProcess.Start(label, ProgramRun.StartInfo(passphrase is null ? new Dictionary<string, string>() : new Dictionary<string, string> { [PassphraseVariable] = passphrase }, args));
}
