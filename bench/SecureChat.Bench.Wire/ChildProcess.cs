using System.Diagnostics;

namespace SecureChat.Bench.Wire;

/// <summary>
/// This bench program started again in another role (a sink, a peer node), so that both ends of a
/// figure are separate processes. It talks line by line on standard input and output; its
/// standard error is the parent's.
/// </summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private static readonly TimeSpan LineTimeout = TimeSpan.FromSeconds(120);
    private readonly Process _process;

    private ChildProcess(Process process) => _process = process;

    public int Id => _process.Id;

    /// <summary>Starts <c>--role ROLE ARGS…</c> of this program.</summary>
    public static ChildProcess Start(string role, params string[] args)
    {
        var host = Environment.ProcessPath ?? throw new InvalidOperationException("The path of this process is unknown.");
        var start = new ProcessStartInfo(host)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        // A profiler's diagnostic port (dotnet-trace on this process) would hold a child at its start.
        start.Environment.Remove("DOTNET_DiagnosticPorts");
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            start.ArgumentList.Add(typeof(ChildProcess).Assembly.Location);
        }

        start.ArgumentList.Add("--role");
        start.ArgumentList.Add(role);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return new ChildProcess(Process.Start(start) ?? throw new InvalidOperationException($"Could not start the {role} process."));
    }

    /// <summary>Reads lines until one that starts with <paramref name="word"/>; returns the words after it.</summary>
    public async Task<string[]> ExpectAsync(string word)
    {
        using var timeout = new CancellationTokenSource(LineTimeout);
        while (true)
        {
            var line = await _process.StandardOutput.ReadLineAsync(timeout.Token).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"The child process ended before it said '{word}' (exit code {ExitCodeText()}).");
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length > 0 && words[0] == word)
            {
                return words[1..];
            }
        }
    }

    public async Task SendAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line).ConfigureAwait(false);
        await _process.StandardInput.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>Says the command and returns the words of the answer line that starts with the same word.</summary>
    public async Task<string[]> AskAsync(string command)
    {
        await SendAsync(command).ConfigureAwait(false);
        return await ExpectAsync(command).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close();
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(grace.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            _process.Kill(entireProcessTree: true);
        }
        finally
        {
            _process.Dispose();
        }
    }

    private string ExitCodeText() => _process.HasExited ? _process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : "still running";
}
