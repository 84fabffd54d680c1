using System.Diagnostics;
using System.Text;

namespace SecureChat.NetSim.Tests;

/// <summary>
/// A third-party program that a router of the simulated internet runs (miniupnpd), started with
/// <c>ip netns exec</c> in the foreground, its output kept for failure messages. Disposing kills it.
/// </summary>
internal sealed class Daemon : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();

    private Daemon(string ns, Process process)
    {
        Namespace = ns;
        _process = process;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Namespace { get; }

    /// <summary>Everything it printed so far.</summary>
    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public static Daemon Start(string ns, IEnumerable<string> command)
    {
        var start = new ProcessStartInfo("ip")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])["netns", "exec", ns, .. command])
        {
            start.ArgumentList.Add(arg);
        }

        return new Daemon(ns, Process.Start(start) ?? throw new InvalidOperationException($"{string.Join(' ', command)} did not start."));
    }

    public void Dispose()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(TimeSpan.FromSeconds(10));
        }
        catch (InvalidOperationException)
        {
            // It had ended already.
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            _log.AppendLine(line);
        }
    }
}
