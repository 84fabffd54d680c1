using System.Net;
using System.Net.Sockets;
using SecureChat.Testing;
using static SecureChat.Tests.SecureChatCli;

namespace SecureChat.Tests;

/// <summary>
/// Every failure ends the program with its documented exit code and one sentence on stderr that
/// starts with "securechat: ", never a stack trace (<see cref="SecureChatCli.RunAsync"/> checks that).
/// </summary>
public sealed class CommandErrorTests : IClassFixture<CommandErrorTests.ProtectedHome>
{
    private const string Passphrase = "correct horse battery staple";

    private readonly ProtectedHome _protected;

    public CommandErrorTests(ProtectedHome protectedHome)
    {
        _protected = protectedHome;
    }

    [Fact]
    public async Task Connect_NothingListening_ExitsOneSayingRefused()
    {
        using var home = new TemporaryHome();
        await InitAsync(home, "Lonely");
        // A port nobody listens on: the dial must be refused.
        var port = LoopbackPort.Unused();

        var run = await RunAsync(null, "--home", home.Path, "connect", Address(port));

        Assert.True(run.ExitCode == 1, run.Transcript);
        var error = SingleErrorLine(run);
        Assert.Contains("refused", error, StringComparison.Ordinal);
        Assert.Contains(Address(port), error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not-an-address")]
    [InlineData("127.0.0.1:99999")]
    [InlineData("127.0.0.1:")]
    [InlineData("tooshort@127.0.0.1:7311")]
    public async Task Connect_MalformedAddress_ExitsTwoAndCreatesNothing(string address)
    {
        using var home = new TemporaryHome();

        var run = await RunAsync(Passphrase, "--home", home.Path, "connect", address);

        Assert.True(run.ExitCode == 2, run.Transcript);
        SingleErrorLine(run);
        Assert.False(Directory.Exists(home.Path), "a usage error created the home");
    }

    [Fact]
    public async Task Listen_PortAlreadyHeld_ExitsOneSayingInUse()
    {
        using var home = new TemporaryHome();
        await InitAsync(home, "Late");
        var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        try
        {
            var port = ((IPEndPoint)holder.LocalEndpoint).Port;

            var run = await RunAsync(null, "--home", home.Path, "listen", "--host", Loopback, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));

            Assert.True(run.ExitCode == 1, run.Transcript);
            Assert.Contains("already in use", SingleErrorLine(run), StringComparison.Ordinal);
        }
        finally
        {
            holder.Dispose();
        }
    }

    [Theory]
    [InlineData("listen")]
    [InlineData("connect")]
    public async Task Verb_WrongPassphrase_ExitsThreeAndLeavesIdentityUnchanged(string verb)
    {
        var before = File.ReadAllBytes(_protected.Home.FilePath("identity.json"));

        var run = await RunAsync("not the passphrase", ["--home", _protected.Home.Path, .. VerbArguments(verb)]);

        Assert.True(run.ExitCode == 3, run.Transcript);
        Assert.Contains("passphrase is wrong", SingleErrorLine(run), StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(_protected.Home.FilePath("identity.json")));
        Assert.DoesNotContain(run.Stdout, l => l.StartsWith("* listening", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("listen")]
    [InlineData("connect")]
    public async Task Verb_NoPassphraseAvailable_ExitsThreeNamingTheVariable(string verb)
    {
        var before = File.ReadAllBytes(_protected.Home.FilePath("identity.json"));

        var run = await RunAsync(null, ["--home", _protected.Home.Path, .. VerbArguments(verb)]);

        Assert.True(run.ExitCode == 3, run.Transcript);
        Assert.Contains(ChatProcess.PassphraseVariable, SingleErrorLine(run), StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(_protected.Home.FilePath("identity.json")));
    }

    [Theory]
    [InlineData("listen")]
    [InlineData("connect")]
    public async Task Verb_NoIdentityAndNoPassphrase_ExitsThreeAndCreatesNothing(string verb)
    {
        using var home = new TemporaryHome();

        var run = await RunAsync(null, ["--home", home.Path, .. VerbArguments(verb)]);

        Assert.True(run.ExitCode == 3, run.Transcript);
        Assert.Contains(ChatProcess.PassphraseVariable, SingleErrorLine(run), StringComparison.Ordinal);
        Assert.False(File.Exists(home.FilePath("identity.json")));
    }

    [Fact]
    public async Task Init_BadArgument_ExitsTwo()
    {
        using var home = new TemporaryHome();

        var run = await RunAsync(null, "--home", home.Path, "init", "--no-passphrase", "--bogus");

        Assert.True(run.ExitCode == 2, run.Transcript);
        Assert.StartsWith("securechat: ", run.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(home.Path));
    }

    /// <summary>The verb's arguments; connect dials a port nothing listens on, so only an unlock failure can give exit 3.</summary>
    private static string[] VerbArguments(string verb) => verb == "listen"
        ? ["listen", "--host", Loopback, "--port", "0"]
        : ["connect", Address(LoopbackPort.Unused())];

    private static string SingleErrorLine(FinishedRun run)
    {
        var lines = run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line on stderr\n{run.Transcript}");
        Assert.StartsWith("securechat: ", lines[0], StringComparison.Ordinal);
        return lines[0];
    }

    /// <summary>One passphrase-protected home shared by this class's tests (Argon2id is slow on purpose).</summary>
    public sealed class ProtectedHome : IAsyncLifetime
    {
        internal TemporaryHome Home { get; } = new();

        public async Task InitializeAsync() => await InitAsync(Home, "Guarded", Passphrase);

        public Task DisposeAsync()
        {
            Home.Dispose();
            return Task.CompletedTask;
        }
    }
}
