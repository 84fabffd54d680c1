using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using SecureChat.Testing;
using Xunit.Sdk;

namespace SecureChat.NetSim.Tests;

/// <summary>
/// One real <c>securechat</c> program on a host of the simulated internet: its home directory (in
/// the test machine's file system, deleted on dispose), the offline verbs run on it, and
/// <c>securechat run</c> started inside the host's namespace with <c>ip netns exec</c>. The node's
/// local API listens on its namespace's loopback; the test reaches it through sockets opened in
/// that namespace (<see cref="NamespaceSockets"/>). Disposing kills the node (SIGKILL) if it runs.
/// </summary>
internal sealed partial class SimNode : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly DirectoryInfo _home;
    private ChildProcess? _process;
    private HttpClient? _api;

    private SimNode(SimHost host, string name, DirectoryInfo home, string id)
    {
        Host = host;
        Name = name;
        _home = home;
        Id = id;
    }

    public SimHost Host { get; }

    public string Name { get; }

    /// <summary>The account's ID, as <c>init</c> printed it.</summary>
    public string Id { get; }

    /// <summary>Both streams of the running node so far, for a failure message or the matrix.</summary>
    public string Transcript => _process?.Transcript ?? "(not started)";

    private string HomePath => Path.Combine(_home.FullName, "home");

    /// <summary><c>securechat init --name NAME --no-passphrase</c> in a fresh home (offline: no network is touched).</summary>
    public static async Task<SimNode> CreateAsync(SimHost host, string name)
    {
        var home = Directory.CreateTempSubdirectory("securechat-netsim-");
        try
        {
            var init = await RunVerbAsync(Path.Combine(home.FullName, "home"), "init", "--name", name, "--no-passphrase");
            var id = IdLine().Match(init);
            return id.Success ? new SimNode(host, name, home, id.Groups["id"].Value) : throw new XunitException($"init printed no ID:\n{init}");
        }
        catch
        {
            home.Delete(recursive: true);
            throw;
        }
    }

    /// <summary><c>contacts add ID --name NAME</c> with no address: the node must find the contact through the DHT.</summary>
    public Task AddByIdAsync(SimNode contact) => RunVerbAsync(HomePath, "contacts", "add", contact.Id, "--name", contact.Name);

    /// <summary><c>contacts add ID --name NAME --endpoint HOST:PORT</c>: the node dials the contact there.</summary>
    public Task AddAtAsync(SimNode contact, string endpoint) => RunVerbAsync(HomePath, "contacts", "add", contact.Id, "--name", contact.Name, "--endpoint", endpoint);

    /// <summary>
    /// Starts <c>securechat run</c> in the host's namespace, listening on every address at
    /// <paramref name="listenPort"/> (by default <c>[::]</c>, IPv4 and IPv6 on one socket, as
    /// <c>run</c> does; <paramref name="listenHost"/> picks another) with its DHT node on
    /// <paramref name="dhtPort"/>, joining
    /// through <paramref name="bootstrap"/> (none: it is a bootstrap node itself), without LAN
    /// beacons, with any further <paramref name="options"/> of <c>run</c>; returns once the node has
    /// printed its lines and written <c>api.json</c>.
    /// </summary>
    public async Task StartAsync(int listenPort, int dhtPort, IEnumerable<IPEndPoint> bootstrap, IEnumerable<string>? options = null, string listenHost = "[::]")
    {
        string[] args =
        [
            Path.Combine(AppContext.BaseDirectory, "securechat.dll"), "--home", HomePath, "run",
            "--listen", string.Create(CultureInfo.InvariantCulture, $"{listenHost}:{listenPort}"), "--api-port", "0", "--no-ui", "--no-lan",
            "--dht-port", dhtPort.ToString(CultureInfo.InvariantCulture), .. bootstrap.SelectMany(b => new[] { "--bootstrap", b.ToString() }), .. options ?? [], "--verbose",
        ];
        var start = StartInfo(["netns", "exec", Host.Namespace, Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet", .. args]);
        _process = ChildProcess.Start($"{Name} on {Host.Name}", start);
        await _process.WaitForLineAsync(line => line.StartsWith("node ", StringComparison.Ordinal) && line.Contains(" listening on ", StringComparison.Ordinal), ChildProcess.Timeout);
        await _process.WaitForLineAsync(line => line.StartsWith("api http://127.0.0.1:", StringComparison.Ordinal), ChildProcess.Timeout);
        using var file = JsonDocument.Parse(await File.ReadAllBytesAsync(Path.Combine(HomePath, "api.json")));
        var url = new Uri(file.RootElement.GetProperty("url").GetString()!);
        var token = file.RootElement.GetProperty("token").GetString()!;
        var ns = Host.Namespace;
        var handler = new SocketsHttpHandler
        {
            // The API is on 127.0.0.1 of the node's namespace: the connection must start there.
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = NamespaceSockets.Tcp(ns, AddressFamily.InterNetwork);
                try
                {
                    await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, context.DnsEndPoint.Port), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        _api = new HttpClient(handler) { BaseAddress = url, Timeout = ChildProcess.Timeout };
        _api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    /// <summary>POST /api/contacts/{contact}/messages: queues a text and returns its message ID.</summary>
    public async Task<string> SendAsync(SimNode contact, string text)
    {
        using var response = await Api.PostAsJsonAsync($"api/contacts/{Uri.EscapeDataString(contact.Name)}/messages", new { text }, Json);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{Name}: sending answered {(int)response.StatusCode}: {body}");
        using var message = JsonDocument.Parse(body);
        return message.RootElement.GetProperty("id").GetString()!;
    }

    /// <summary>Whether the node holds the message <paramref name="id"/> (GET /api/messages/{id} answers 200).</summary>
    public async Task<bool> HasMessageAsync(string id)
    {
        using var response = await Api.GetAsync($"api/messages/{Uri.EscapeDataString(id)}");
        return response.StatusCode == HttpStatusCode.OK;
    }

    /// <summary>The addresses the node keeps for <paramref name="contact"/> (GET /api/contacts/{contact}: <c>endpoints</c>).</summary>
    public async Task<string> EndpointsOfAsync(SimNode contact)
    {
        using var response = await Api.GetAsync($"api/contacts/{Uri.EscapeDataString(contact.Name)}");
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return $"(HTTP {(int)response.StatusCode})";
        }

        using var view = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return string.Join(' ', view.RootElement.GetProperty("endpoints").EnumerateArray().Select(e => e.GetString()));
    }

    /// <summary>GET /api/status, parsed: the node's state, its reachability among it.</summary>
    public async Task<JsonDocument> StatusAsync()
    {
        using var response = await Api.GetAsync("api/status");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{Name}: /api/status answered {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body);
    }

    /// <summary>How many messages with <paramref name="text"/> the node holds from <paramref name="contact"/> (GET /api/contacts/{contact}/messages).</summary>
    public async Task<int> CountReceivedAsync(SimNode contact, string text)
    {
        using var response = await Api.GetAsync($"api/contacts/{Uri.EscapeDataString(contact.Name)}/messages?limit=100");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{Name}: the conversation with {contact.Name} answered {(int)response.StatusCode}: {body}");
        using var page = JsonDocument.Parse(body);
        return page.RootElement.EnumerateArray().Count(m => m.GetProperty("direction").GetString() == "in" && m.GetProperty("text").GetString() == text);
    }

    /// <summary>
    /// How the node is connected to <paramref name="contact"/>, as its local API says: the
    /// contact view's <c>connection</c> (its <c>sentence</c>, else its <c>kind</c>, else as it is)
    /// where the node gives one, else null.
    /// </summary>
    public async Task<string?> ConnectionOfAsync(SimNode contact)
    {
        using var response = await Api.GetAsync($"api/contacts/{Uri.EscapeDataString(contact.Name)}");
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return null;
        }

        using var view = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return view.RootElement.TryGetProperty("connection", out var connection) ? Describe(connection) : null;
    }

    /// <summary>The node's own reachability sentence (GET /api/status: <c>reachability.sentence</c>), or null where the node gives none.</summary>
    public async Task<string?> ReachabilitySentenceAsync()
    {
        using var response = await Api.GetAsync("api/status");
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return null;
        }

        using var status = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return status.RootElement.TryGetProperty("reachability", out var reachability) ? Describe(reachability) : null;
    }

    /// <summary>The node's log lines (stderr) without the web host's lines about each API request, the last <paramref name="keep"/> of them.</summary>
    public string NodeLog(int keep)
    {
        var lines = Transcript.Split('\n').Where(l => !l.Contains(" Microsoft.", StringComparison.Ordinal)).ToList();
        return string.Join('\n', lines.Skip(Math.Max(0, lines.Count - keep)));
    }

    private static string? Describe(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.String => element.GetString(),
        JsonValueKind.Object when element.TryGetProperty("sentence", out var sentence) && sentence.ValueKind == JsonValueKind.String => sentence.GetString(),
        JsonValueKind.Object when element.TryGetProperty("kind", out var kind) && kind.ValueKind == JsonValueKind.String => kind.GetString(),
        _ => element.GetRawText(),
    };

    public async ValueTask DisposeAsync()
    {
        _api?.Dispose();
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }

        _home.Delete(recursive: true);
    }

    private HttpClient Api => _api ?? throw new InvalidOperationException($"{Name} is not running.");

    /// <summary>Runs one offline verb of the program on <paramref name="home"/> and returns its stdout; fails on any exit but 0.</summary>
    private static async Task<string> RunVerbAsync(string home, params string[] verb)
    {
        string[] args = [Path.Combine(AppContext.BaseDirectory, "securechat.dll"), "--home", home, .. verb];
        await using var process = ChildProcess.Start("securechat " + string.Join(' ', verb), StartInfo(args, program: Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet"));
        await process.CloseInputAsync();
        var code = await process.WaitForExitAsync(ChildProcess.Timeout);
        Assert.True(code == 0, $"securechat {string.Join(' ', verb)} exited {code}:\n{process.Transcript}");
        return string.Join('\n', process.Stdout);
    }

    private static ProcessStartInfo StartInfo(IEnumerable<string> args, string program = "ip") => ChildProcess.Redirected(program, args);

    [GeneratedRegex(@"^ID:          (?<id>[a-z0-9]{52})$", RegexOptions.Multiline)]
    private static partial Regex IdLine();
}
