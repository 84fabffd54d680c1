using System.Globalization;
using System.Text.RegularExpressions;
using SecureChat.Testing;

namespace SecureChat.Tests.Node;

/// <summary>
/// One <c>securechat run</c> process: a loopback listen port (any, <see cref="AnyPort"/>, as the node
/// reports it; or a given one, so that a restarted node is found where it was), any free API port,
/// and a client for its API built from the lines it printed and the <c>api.json</c> it wrote.
/// Disposing kills the process if it still runs.
/// </summary>
internal sealed partial class RunningNode : IAsyncDisposable
{
    private RunningNode(ChildProcess process, string id, int listenPort, NodeApi api, WebUiLink? ui)
    {
        Process = process;
        Id = id;
        ListenPort = listenPort;
        Api = api;
        Ui = ui;
    }

    /// <summary>Listen on any free port: the node binds port 0 and prints the port it got.</summary>
    public const int AnyPort = 0;

    public ChildProcess Process { get; }

    /// <summary>The node's ID, as its first line printed it.</summary>
    public string Id { get; }

    public int ListenPort { get; }

    public string ListenAddress => SecureChatCli.Address(ListenPort);

    public NodeApi Api { get; }

    /// <summary>The web UI's address and token as the node printed them; null when started without it.</summary>
    public WebUiLink? Ui { get; }

    /// <summary>
    /// Starts <c>securechat --home HOME run --listen 127.0.0.1:PORT --api-port 0 --no-ui</c> (PORT
    /// <see cref="AnyPort"/>: the node picks one, and <see cref="ListenPort"/> is the one it printed) with the
    /// given discovery flags (default <c>--no-dht --no-lan</c>)
    /// (with <c>--verbose</c>: debug logs on stderr, for the transcript of a failure) and returns
    /// once it has printed both of its lines; checks that <c>api.json</c> names the printed URL
    /// and this process. With <paramref name="ui"/> it leaves out <c>--no-ui</c> and also waits
    /// for the <c>ui http://127.0.0.1:PORT/#token=TOKEN</c> line.
    /// </summary>
    public static async Task<RunningNode> StartAsync(TemporaryHome home, string label, int listenPort, bool verbose = false, string[]? discovery = null, bool ui = false)
    {
        // Without discovery flags a node stays off the DHT and the LAN: tests reach loopback only.
        string[] args = ["--home", home.Path, "run", "--listen", SecureChatCli.Address(listenPort), "--api-port", "0", .. ui ? Array.Empty<string>() : ["--no-ui"], .. discovery ?? ["--no-dht", "--no-lan"]];
        var process = ChatProcess.Start(label, null, verbose ? [.. args, "--verbose"] : args);
        try
        {
            var node = await process.WaitForMatchAsync(NodeLine(), ChatProcess.Timeout);
            var listening = node.Groups["listen"].Value;
            var port = listenPort == AnyPort && listening.StartsWith(SecureChatCli.Loopback + ":", StringComparison.Ordinal)
                ? int.Parse(listening[(SecureChatCli.Loopback.Length + 1)..], CultureInfo.InvariantCulture)
                : listenPort;
            Assert.True(port != AnyPort && listening == SecureChatCli.Address(port), $"{label} is listening on {listening}, not on 127.0.0.1:{(listenPort == AnyPort ? "a port of its own" : listenPort)}.");
            // With the UI the node prints its link, token included; without it, where the token is.
            WebUiLink? link = null;
            string url;
            if (ui)
            {
                var line = await process.WaitForMatchAsync(UiLine(), ChatProcess.Timeout);
                link = new WebUiLink(new Uri(line.Groups["url"].Value), line.Groups["token"].Value);
                url = line.Groups["url"].Value;
            }
            else
            {
                var api = await process.WaitForMatchAsync(ApiLine(), ChatProcess.Timeout);
                Assert.Equal($"(token in {home.FilePath(ApiFileJson.FileName)})", api.Groups["rest"].Value);
                url = api.Groups["url"].Value;
            }

            // The file is written before the lines are printed.
            var file = ApiFileJson.Read(home);
            Assert.Equal(url, file.Url);
            Assert.Equal(process.ProcessId, file.ProcessId);
            if (link is not null)
            {
                // The link's token is a one-time token of its own, never the API's bearer token.
                Assert.NotEqual(file.Token, link.Token);
            }

            return new RunningNode(process, node.Groups["id"].Value, port, new NodeApi(new Uri(file.Url), file.Token), link);
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    /// <summary>SIGTERM, as a service manager stops the node; returns its exit code once it has ended.</summary>
    public async Task<int> TerminateAsync()
    {
        await Process.TerminateAsync();
        return await Process.WaitForExitAsync(ChatProcess.Timeout);
    }

    /// <summary>
    /// SIGTERM, and the clean stop that must follow: exit 0, "stopping" as the last line, and
    /// api.json removed. Returns how long the stop took.
    /// </summary>
    public async Task<TimeSpan> StopAsync(TemporaryHome home)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var code = await TerminateAsync();
        var took = clock.Elapsed;
        var apiFile = File.Exists(home.FilePath(ApiFileJson.FileName)) ? "left behind" : "removed";
        Assert.True(code == 0, string.Create(CultureInfo.InvariantCulture, $"{this} exited {code} {took.TotalSeconds:F1} s after SIGTERM, api.json {apiFile}\n{Process.Transcript}"));
        Assert.Equal("stopping", Process.Stdout[^1]);
        Assert.True(apiFile == "removed", $"api.json outlived {this}");
        return took;
    }

    /// <summary>SIGKILL: the node gets no chance to close anything.</summary>
    public Task KillAsync() => Process.KillAsync();

    public async ValueTask DisposeAsync()
    {
        Api.Dispose();
        await Process.DisposeAsync();
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"node {Id[..8]} on {ListenAddress} (pid {Process.ProcessId})");

    [GeneratedRegex(@"^node (?<id>[a-z0-9]{52}) \((?<fp>[a-z0-9]{4}(?:-[a-z0-9]{4}){3})\) listening on (?<listen>\S+)$")]
    private static partial Regex NodeLine();

    [GeneratedRegex(@"^api (?<url>http://127\.0\.0\.1:\d+/) (?<rest>.+)$")]
    private static partial Regex ApiLine();

    [GeneratedRegex(@"^ui (?<url>http://127\.0\.0\.1:\d+/)#token=(?<token>[A-Za-z0-9_-]+)$")]
    private static partial Regex UiLine();
}

/// <summary>
/// The line <c>ui http://127.0.0.1:PORT/#token=TOKEN</c> a node prints for its web UI: the page's
/// address and the one-time token that opens one session, once (in the fragment, so it never
/// reaches a server log).
/// </summary>
internal sealed record WebUiLink(Uri BaseUrl, string Token)
{
    /// <summary>The address to open in a browser: the base URL with <c>#token=TOKEN</c>.</summary>
    public Uri LoginUrl => new(BaseUrl, "#token=" + Token);

    /// <summary>The token of a link <c>http://127.0.0.1:PORT/#token=TOKEN</c>.</summary>
    public static string TokenOf(Uri link) =>
        link.Fragment.StartsWith("#token=", StringComparison.Ordinal) ? link.Fragment["#token=".Length..] : throw new Xunit.Sdk.XunitException($"{link} carries no #token=.");
}
