using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;

namespace SecureChat.Bench.Dht;

/// <summary>
/// A fresh DHT node in a child process that joins the swarm and times gets: SecureChat's (this
/// program in <c>--role looker</c>, see <see cref="SecureChatLooker"/>) or libtorrent-rasterbar's
/// (lt_get.py under Debian's /usr/bin/python3). Both speak one protocol: one JSON object per line on
/// standard input, one JSON line per command on standard output (the first, unasked, says the node
/// started); their standard error is this process's.
/// </summary>
internal sealed class LookerProcess : IAsyncDisposable
{
    /// <summary>Debian's interpreter: python3-libtorrent is not in other Pythons (pyenv's, say).</summary>
    public const string Python = "/usr/bin/python3";

    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(15);
    private readonly Process _process;

    private LookerProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }

    public static LookerProcess StartSecureChat(IPAddress bind, IEnumerable<IPEndPoint> bootstrap)
    {
        var host = Environment.ProcessPath ?? throw new InvalidOperationException("The path of this process is unknown.");
        var start = Info(host);
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            start.ArgumentList.Add(typeof(LookerProcess).Assembly.Location);
        }

        start.ArgumentList.Add("--role");
        start.ArgumentList.Add("looker");
        return Start("securechat", start, bind, bootstrap);
    }

    public static LookerProcess StartLibtorrent(IPAddress bind, IEnumerable<IPEndPoint> bootstrap)
    {
        var start = Info(Python);
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "lt_get.py"));
        return Start("libtorrent", start, bind, bootstrap);
    }

    /// <summary>True when Debian's Python can import libtorrent; else says why on <paramref name="log"/>.</summary>
    public static async Task<bool> LibtorrentAvailableAsync(TextWriter log)
    {
        var start = new ProcessStartInfo(Python) { UseShellExecute = false, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("import libtorrent");
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"{Python} did not start.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            await log.WriteLineAsync($"dht: {Python} cannot be run ({ex.Message}); the baseline needs Debian's python3 with python3-libtorrent (scripts/install-deps --tests installs it).");
            return false;
        }

        using (process)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var error = await process.StandardError.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            if (process.ExitCode != 0)
            {
                await log.WriteLineAsync($"dht: {Python} cannot import libtorrent: install Debian's python3-libtorrent (apt-get install python3-libtorrent, or scripts/install-deps --tests). {error.Trim()}");
                return false;
            }
        }

        return true;
    }

    /// <summary>Waits for the line that says the node started.</summary>
    public Task<JsonObject> StartedAsync() => ReadAsync(TimeSpan.FromSeconds(30));

    /// <summary>Sends a command (its "timeout", seconds as a double, bounds the wait, with some slack) and returns the reply.</summary>
    public async Task<JsonObject> CallAsync(JsonObject command)
    {
        ArgumentNullException.ThrowIfNull(command);
        var seconds = command["timeout"] is JsonValue value && value.TryGetValue(out double given) ? given : 30;
        await _process.StandardInput.WriteLineAsync(command.ToJsonString());
        await _process.StandardInput.FlushAsync();
        return await ReadAsync(TimeSpan.FromSeconds(seconds) + Slack);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                await _process.StandardInput.WriteLineAsync(new JsonObject { ["op"] = "quit" }.ToJsonString());
                _process.StandardInput.Close();
                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try
                {
                    await _process.WaitForExitAsync(grace.Token);
                }
                catch (OperationCanceledException)
                {
                    _process.Kill(entireProcessTree: true);
                    await _process.WaitForExitAsync();
                }
            }
        }
        catch (IOException)
        {
            // The process ended as we told it to.
        }
        finally
        {
            _process.Dispose();
        }
    }

    private static ProcessStartInfo Info(string program) => new(program)
    {
        RedirectStandardInput = true,
        RedirectStandardOutput = true,
        UseShellExecute = false,
    };

    private static LookerProcess Start(string name, ProcessStartInfo start, IPAddress bind, IEnumerable<IPEndPoint> bootstrap)
    {
        start.ArgumentList.Add("--bind");
        start.ArgumentList.Add(bind.ToString());
        foreach (var node in bootstrap)
        {
            start.ArgumentList.Add("--bootstrap");
            start.ArgumentList.Add(node.ToString());
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"The {name} looker did not start.");
        return new LookerProcess(name, process);
    }

    private async Task<JsonObject> ReadAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var line = await _process.StandardOutput.ReadLineAsync(cancel.Token)
            ?? throw new InvalidOperationException($"The {Name} looker ended (exit code {(_process.HasExited ? _process.ExitCode.ToString(CultureInfo.InvariantCulture) : "none yet")}).");
        return JsonNode.Parse(line)?.AsObject() ?? throw new InvalidOperationException($"The {Name} looker said '{line}'.");
    }
}
