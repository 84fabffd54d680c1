using System.Text.RegularExpressions;
using SecureChat.Testing;

namespace SecureChat.Tests;

/// <summary>What <c>securechat init</c> printed about the identity it created.</summary>
internal sealed record CreatedIdentity(string Name, string Id, string Fingerprint);

/// <summary>A finished run of the program.</summary>
internal sealed record FinishedRun(int ExitCode, IReadOnlyList<string> Stdout, string Stderr, string Transcript);

/// <summary>Runs the program's verbs and reads what it prints, for the end-to-end tests.</summary>
internal static partial class SecureChatCli
{
    public const string Loopback = "127.0.0.1";

    /// <summary>The z-base-32 alphabet of IDs.</summary>
    public const string ZBase32Alphabet = "ybndrfg8ejkmcpqxot1uwisza345h769";

    /// <summary>Runs one verb with stdin already at its end and waits for it to exit.</summary>
    public static Task<FinishedRun> RunAsync(string? passphrase, params string[] args) => ProgramRun.RunAsync(passphrase, args);

    /// <summary>
    /// <c>securechat init --name NAME</c>: protected by <paramref name="passphrase"/>, or with
    /// <c>--no-passphrase</c> when it is null (the fast kind, for tests about something else).
    /// </summary>
    public static async Task<CreatedIdentity> InitAsync(TemporaryHome home, string name, string? passphrase = null)
    {
        var run = passphrase is null
            ? await RunAsync(null, "--home", home.Path, "init", "--name", name, "--no-passphrase")
            : await RunAsync(passphrase, "--home", home.Path, "init", "--name", name);
        Assert.True(run.ExitCode == 0, run.Transcript);
        if (passphrase is null)
        {
            Assert.StartsWith("warning: the private keys are stored without a passphrase", run.Stderr, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal(string.Empty, run.Stderr);
        }

        Assert.Equal($"Created an identity for '{name}' in {home.Path}", run.Stdout[0]);
        var id = IdLine().Match(run.Stdout[1]);
        var fingerprint = FingerprintLine().Match(run.Stdout[2]);
        Assert.True(id.Success && fingerprint.Success, run.Transcript);
        return new CreatedIdentity(name, id.Groups["id"].Value, fingerprint.Groups["fp"].Value);
    }

    /// <summary>
    /// Starts <c>listen --open-door</c> (the paper's classroom: everyone who connects is a contact
    /// at once) on a free loopback port (or <paramref name="port"/>) and returns it once it listens.
    /// </summary>
    public static Task<(ChildProcess Process, int Port)> ListenAsync(TemporaryHome home, string label, int port = 0, string? passphrase = null, params string[] extra) =>
        StartListenerAsync(home, label, port, passphrase, extra, ["--open-door"]);

    /// <summary>Starts <c>listen</c> with its door closed (the default): strangers who connect are requests until <c>/accept</c>.</summary>
    public static Task<(ChildProcess Process, int Port)> ListenClosedAsync(TemporaryHome home, string label) =>
        StartListenerAsync(home, label, 0, null, [], []);

    private static async Task<(ChildProcess Process, int Port)> StartListenerAsync(TemporaryHome home, string label, int port, string? passphrase, string[] extra, string[] door)
    {
        var process = ChatProcess.Start(label, passphrase, ["--home", home.Path, .. extra, "listen", .. door, "--host", Loopback, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        try
        {
            var listening = await process.WaitForMatchAsync(ListeningLine(), ChatProcess.Timeout);
            return (process, int.Parse(listening.Groups["port"].Value, System.Globalization.CultureInfo.InvariantCulture));
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts <c>connect ADDRESS</c> (not waiting for anything).</summary>
    public static ChildProcess Connect(TemporaryHome home, string label, string address, string? passphrase = null, params string[] extra) =>
        ChatProcess.Start(label, passphrase, ["--home", home.Path, .. extra, "connect", address]);

    public static string Address(int port) => $"{Loopback}:{port}";

    /// <summary>A received chat line from <paramref name="name"/> saying exactly <paramref name="text"/>.</summary>
    public static Func<string, bool> Received(string name, string text) =>
        line => TimestampPrefix().IsMatch(line) && line[11..] == $"{name}: {text}";

    /// <summary><c>* connected: NAME (FP) at|from ...</c>.</summary>
    public static Func<string, bool> Connected(CreatedIdentity peer, string where) =>
        line => line.StartsWith($"* connected: {peer.Name} ({peer.Fingerprint}) {where}", StringComparison.Ordinal);

    [GeneratedRegex(@"^ID:          (?<id>[a-z0-9]{52})$")]
    private static partial Regex IdLine();

    [GeneratedRegex(@"^Fingerprint: (?<fp>[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})$")]
    private static partial Regex FingerprintLine();

    [GeneratedRegex(@"^\* listening on 127\.0\.0\.1:(?<port>\d+) as (?<name>.+) \((?<fp>[a-z0-9-]+)\)$")]
    public static partial Regex ListeningLine();

    [GeneratedRegex(@"^\* new contact, key pinned; safety number (?<number>(?:\d{5} ){11}\d{5}) ")]
    public static partial Regex SafetyNumberLine();

    [GeneratedRegex(@"^\[\d\d:\d\d:\d\d\] ")]
    private static partial Regex TimestampPrefix();
}
