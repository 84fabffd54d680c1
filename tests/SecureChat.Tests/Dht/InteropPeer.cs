using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SecureChat.Testing;

namespace SecureChat.Tests.Dht;

/// <summary>
/// A third-party Mainline DHT node in a child process: libtorrent-rasterbar through Debian's
/// python3-libtorrent (tests/interop/dht/lt_peer.py) or npm's bittorrent-dht
/// (tests/interop/dht/btdht_peer.mjs), driven with one JSON line per command (see the README there).
/// </summary>
internal sealed class InteropPeer : IAsyncDisposable
{
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(60);
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();
    private readonly SemaphoreSlim _turn = new(1, 1);

    private InteropPeer(string kind, Process process, IPEndPoint endPoint)
    {
        Kind = kind;
        _process = process;
        EndPoint = endPoint;
        _process.ErrorDataReceived += (_, e) =>
        {
            lock (_stderr)
            {
                _stderr.AppendLine(e.Data);
            }
        };
        _process.BeginErrorReadLine();
    }

    public string Kind { get; }

    public IPEndPoint EndPoint { get; }

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public static InteropPeer StartLibtorrent(IPAddress bind, IEnumerable<IPEndPoint> bootstrap) =>
        Start("libtorrent", "/usr/bin/python3", "lt_peer.py", bind, bootstrap);

    public static InteropPeer StartBittorrentDht(IPAddress bind, IEnumerable<IPEndPoint> bootstrap) =>
        Start("bittorrent-dht", "node", "btdht_peer.mjs", bind, bootstrap);

    /// <summary>Sends a command and returns its reply, which must say ok.</summary>
    public async Task<JsonObject> CallAsync(object command)
    {
        var reply = await TryCallAsync(command);
        Assert.True(reply["ok"]?.GetValue<bool>() == true, $"{Kind} at {EndPoint}: {JsonSerializer.Serialize(command)} → {reply.ToJsonString()}\n{Stderr}");
        return reply;
    }

    public async Task<JsonObject> TryCallAsync(object command)
    {
        await _turn.WaitAsync();
        try
        {
            await _process.StandardInput.WriteLineAsync(JsonSerializer.Serialize(command));
            await _process.StandardInput.FlushAsync();
            var line = await _process.StandardOutput.ReadLineAsync().WaitAsync(ReplyTimeout)
                ?? throw new InvalidOperationException($"{Kind} at {EndPoint} exited: {Stderr}");
            return JsonNode.Parse(line)!.AsObject();
        }
        finally
        {
            _turn.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
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
        finally
        {
            _process.Dispose();
            _turn.Dispose();
        }
    }

    /// <summary>
    /// A port free for both UDP and TCP on the address (libtorrent binds both). The third-party
    /// peer scripts take their port as an argument and do not report one they chose, so this port
    /// is named before they start.
    /// </summary>
    public static int FreePort(IPAddress address)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            using var udp = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(address, 0));
            var port = ((IPEndPoint)udp.LocalEndPoint!).Port;
            using var tcp = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                tcp.Bind(new IPEndPoint(address, port));
                return port;
            }
            catch (SocketException)
            {
                // Taken for TCP: try another.
            }
        }

        throw new InvalidOperationException($"No port free for both UDP and TCP on {address}.");
    }

    private static InteropPeer Start(string kind, string program, string script, IPAddress bind, IEnumerable<IPEndPoint> bootstrap)
    {
        var directory = Path.Combine(RepoPaths.Root, "tests", "interop", "dht");
        var port = FreePort(bind);
        var start = new ProcessStartInfo(program)
        {
            WorkingDirectory = directory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(directory, script));
        foreach (var argument in new[] { "--bind", bind.ToString(), "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var node in bootstrap)
        {
            start.ArgumentList.Add("--bootstrap");
            start.ArgumentList.Add(node.ToString());
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start.");
        return new InteropPeer(kind, process, new IPEndPoint(bind, port));
    }
}
