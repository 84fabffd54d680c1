using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace SecureChat.Bench.Capacity;

/// <summary>One resident-memory reading of a node process, taken <see cref="Seconds"/> after it was ready.</summary>
/// <param name="Seconds">Since the node printed its UI line.</param>
/// <param name="ResidentMiB">VmRSS.</param>
/// <param name="ProcessorSeconds">User and system CPU time the process has used since it started.</param>
internal sealed record Sample(double Seconds, double ResidentMiB, double ProcessorSeconds);

/// <summary>
/// One <c>securechat --home HOME run --listen 127.0.0.1:0 --api-port 0 --no-dht --no-lan</c>
/// process (the built CLI next to this program, started by <c>dotnet</c> as the tests start it),
/// with its web UI on as by default. Ready once it has printed its <c>ui</c> line. Disposing kills
/// it if it still runs.
/// </summary>
internal sealed partial class NodeProcess : IAsyncDisposable
{
    private const int KeptLogLines = 40;

    private readonly Process _process;
    private readonly TaskCompletionSource<int> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Queue<string> _log = new();
    private readonly Lock _gate = new();
    private readonly Task _readingStdout;
    private readonly Task _readingStderr;
    private long _logLines;

    private NodeProcess(Process process, string label)
    {
        _process = process;
        Label = label;
        _readingStdout = ReadStdoutAsync();
        _readingStderr = ReadStderrAsync();
    }

    public string Label { get; }

    public int ProcessId => _process.Id;

    /// <summary>The TCP port the node accepts peers on, on 127.0.0.1.</summary>
    public int ListenPort => _listening.Task.IsCompletedSuccessfully ? _listening.Task.Result : throw new InvalidOperationException("The node has not said where it listens yet.");

    /// <summary>When the node printed its UI line.</summary>
    public Stopwatch SinceReady { get; } = new();

    /// <summary>How many lines the node has logged to stderr.</summary>
    public long LogLines => Interlocked.Read(ref _logLines);

    /// <summary>The CLI this program runs unless told otherwise: the copy the project reference put beside it.</summary>
    public static string BuiltCli => Path.Combine(AppContext.BaseDirectory, "securechat.dll");

    /// <summary>
    /// Starts a node on <paramref name="home"/> and returns once it is ready (or throws with its
    /// last log lines): <see cref="BenchSettings.Cli"/> if set (a <c>.dll</c> is run by <c>dotnet</c>,
    /// anything else as a program, such as a native build), else <see cref="BuiltCli"/>.
    /// </summary>
    public static async Task<NodeProcess> StartAsync(string home, string label, BenchSettings settings, CancellationToken cancellationToken)
    {
        var cli = settings.Cli ?? BuiltCli;
        if (!File.Exists(cli))
        {
            throw new FileNotFoundException($"The SecureChat CLI is not at {cli}: build this project (dotnet build bench/SecureChat.Bench.Capacity -c Release).");
        }

        string[] run = ["--home", home, "run", "--listen", "127.0.0.1:0", "--api-port", "0", "--no-dht", "--no-lan"];
        var start = cli.EndsWith(".dll", StringComparison.Ordinal) ? DotnetStart([cli, .. run]) : StartInfo(cli, run);
        start.Environment.Remove("SECURECHAT_PASSPHRASE");
        start.Environment.Remove("SECURECHAT_HOME");
        foreach (var (name, value) in settings.NodeEnvironment)
        {
            start.Environment[name] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"{start.FileName} did not start.");
        var node = new NodeProcess(process, label);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            var exited = process.WaitForExitAsync(timeout.Token);
            var first = await Task.WhenAny(node._ready.Task, exited);
            if (first != node._ready.Task)
            {
                cancellationToken.ThrowIfCancellationRequested();

                // Its last words may still be in the pipes.
                await Task.WhenAny(Task.WhenAll(node._readingStdout, node._readingStderr), Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None));
                throw new InvalidOperationException($"{label} did not become ready ({(process.HasExited ? $"exited {process.ExitCode}" : "timed out after 30 s")}):\n{node.RecentLog()}");
            }

            node.SinceReady.Start();
            return node;
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }
    }

    /// <summary><c>dotnet ARGS</c> with every stream redirected: the host running this program if it is one, else the one on PATH.</summary>
    public static ProcessStartInfo DotnetStart(IEnumerable<string> args) =>
        StartInfo(Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet", args);

    /// <summary><paramref name="program"/> ARGS with every stream redirected.</summary>
    public static ProcessStartInfo StartInfo(string program, IEnumerable<string> args)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return start;
    }

    /// <summary>Reads the node's resident memory and CPU time now.</summary>
    public Sample Sample() => new(SinceReady.Elapsed.TotalSeconds, Stats.ResidentMiB(ProcessId), ProcessorSeconds());

    /// <summary>
    /// Samples once a second until <paramref name="until"/> after the node became ready (at least
    /// one sample), printing each to stderr; throws if the node exits meanwhile.
    /// </summary>
    public async Task<List<Sample>> SampleUntilAsync(TimeSpan until, TextWriter log, CancellationToken cancellationToken)
    {
        var samples = new List<Sample>();
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        do
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Label} exited ({_process.ExitCode}) while it was measured:\n{RecentLog()}");
            }

            var sample = Sample();
            samples.Add(sample);
            log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {Label} t={sample.Seconds,5:F1} s  rss {sample.ResidentMiB,6:F1} MiB  cpu {sample.ProcessorSeconds,6:F2} s  threads {Threads()}  fds {OpenFiles()}"));
        }
        while (SinceReady.Elapsed < until && await timer.WaitForNextTickAsync(cancellationToken));

        return samples;
    }

    /// <summary>User and system CPU seconds of the process so far, from /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s).</summary>
    public double ProcessorSeconds()
    {
        var stat = File.ReadAllText($"/proc/{ProcessId}/stat");

        // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return ticks / 100.0;
    }

    /// <summary>VmRSS split as /proc/PID/status does: anonymous (heaps, stacks, JIT code), file-backed (mapped binaries) and shared memory.</summary>
    public string ResidentParts()
    {
        var parts = File.ReadLines($"/proc/{ProcessId}/status")
            .Where(line => line.StartsWith("RssAnon:", StringComparison.Ordinal) || line.StartsWith("RssFile:", StringComparison.Ordinal) || line.StartsWith("RssShmem:", StringComparison.Ordinal))
            .Select(line => line.Split(':', 2))
            .Select(pair => string.Create(CultureInfo.InvariantCulture, $"{pair[0][3..].ToLowerInvariant()} {long.Parse(pair[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0:F1} MiB"));
        return string.Join(", ", parts);
    }

    public int Threads() => Directory.GetDirectories($"/proc/{ProcessId}/task").Length;

    public int OpenFiles() => Directory.GetFileSystemEntries($"/proc/{ProcessId}/fd").Length;

    /// <summary>The node's last log lines, for an error message.</summary>
    public string RecentLog()
    {
        lock (_gate)
        {
            return string.Join('\n', _log);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(timeout.Token);
            await Task.WhenAll(_readingStdout, _readingStderr).WaitAsync(timeout.Token);
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception)
        {
            Console.Error.WriteLine($"  {Label}: could not be stopped cleanly ({ex.Message})");
        }
        finally
        {
            _process.Dispose();
        }
    }

    private async Task ReadStdoutAsync()
    {
        while (await _process.StandardOutput.ReadLineAsync() is { } line)
        {
            Keep(line);
            if (NodeLine().Match(line) is { Success: true } node)
            {
                _listening.TrySetResult(int.Parse(node.Groups["port"].Value, CultureInfo.InvariantCulture));
            }
            else if (line.StartsWith("ui http://127.0.0.1:", StringComparison.Ordinal) && _listening.Task.IsCompleted)
            {
                _ready.TrySetResult();
            }
        }
    }

    private async Task ReadStderrAsync()
    {
        while (await _process.StandardError.ReadLineAsync() is { } line)
        {
            Interlocked.Increment(ref _logLines);
            Keep(line);
        }
    }

    private void Keep(string line)
    {
        lock (_gate)
        {
            _log.Enqueue(line);
            if (_log.Count > KeptLogLines)
            {
                _log.Dequeue();
            }
        }
    }

    [GeneratedRegex(@"^node [a-z0-9]{52} \([a-z0-9-]+\) listening on 127\.0\.0\.1:(?<port>\d+)$")]
    private static partial Regex NodeLine();
}
