using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Xunit.Sdk;

namespace SecureChat.Tests;

/// <summary>
/// One run of the built <c>securechat</c> program with its standard streams redirected: typed
/// lines go to its stdin, and every stdout line is kept so a test can wait for the one it expects.
/// Waiting is signalled by each new line (no polling), and every wait has a timeout. Disposing
/// kills the process if it is still running.
/// </summary>
internal sealed class ChatProcess : IAsyncDisposable
{
    /// <summary>The longest any single step of a test waits.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(25);

    public const string PassphraseVariable = "SECURECHAT_PASSPHRASE";


    private readonly Lock _gate = new();
    private readonly List<string> _stdout = [];
    private readonly StringBuilder _stderr = new();
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Found)> _waiters = [];
    private readonly Process _process;
    private readonly string _label;
    private readonly Task _readingStdout;
    private readonly Task _readingStderr;
    private bool _stdoutEnded;
    private bool _inputClosed;
    private bool _disposed;

    private ChatProcess(Process process, string label)
    {
        _process = process;
        _label = label;
        _readingStdout = ReadStdoutAsync(process.StandardOutput);
        _readingStderr = ReadStderrAsync(process.StandardError);
    }

    /// <summary>The operating system's ID of the process.</summary>
    public int ProcessId => _process.Id;

    /// <summary>The stdout lines so far.</summary>
    public IReadOnlyList<string> Stdout
    {
        get
        {
            lock (_gate)
            {
                return [.. _stdout];
            }
        }
    }

    /// <summary>Everything written to stderr so far.</summary>
    public string Stderr
    {
        get
        {
            lock (_gate)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>Both streams, for failure messages.</summary>
    /// <summary>The end of a long transcript or log, for a failure message.</summary>
    public static string Tail(string text, int keep = 4000) => text.Length <= keep ? text : "…" + text[^keep..];

    public string Transcript
    {
        get
        {
            lock (_gate)
            {
                return TranscriptUnlocked();
            }
        }
    }

    /// <summary>
    /// Starts <c>dotnet securechat.dll ARGS</c>. <paramref name="passphrase"/> becomes
    /// <c>SECURECHAT_PASSPHRASE</c>; null removes that variable from the child's environment.
    /// </summary>
    public static ChatProcess Start(string label, string? passphrase, params string[] args)
    {
        var start = ProgramRun.StartInfo(passphrase is null ? new Dictionary<string, string>() : new Dictionary<string, string> { [PassphraseVariable] = passphrase }, args);
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        return new ChatProcess(process, label);
    }

    /// <summary>The first stdout line (seen so far or to come) that <paramref name="match"/> accepts.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout)
    {
        TaskCompletionSource<string> found;
        lock (_gate)
        {
            foreach (var line in _stdout)
            {
                if (match(line))
                {
                    return line;
                }
            }

            if (_stdoutEnded)
            {
                throw new XunitException($"{_label} ended its output without the expected line.\n{TranscriptUnlocked()}");
            }

            found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((match, found));
        }

        try
        {
            return await found.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new XunitException($"{_label} printed no expected line within {timeout.TotalSeconds} s.\n{Transcript}");
        }
        finally
        {
            lock (_gate)
            {
                _waiters.RemoveAll(w => w.Found == found);
            }
        }
    }

    /// <summary>The first stdout line matching <paramref name="pattern"/>, with its groups.</summary>
    public async Task<Match> WaitForMatchAsync(Regex pattern, TimeSpan timeout) =>
        pattern.Match(await WaitForLineAsync(pattern.IsMatch, timeout));

    /// <summary>Types one line on the program's stdin.</summary>
    public async Task SendLineAsync(string line)
    {
        await _process.StandardInput.WriteAsync(line + "\n");
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>Ends the program's stdin (as Ctrl+D would).</summary>
    public async Task CloseInputAsync()
    {
        if (_inputClosed)
        {
            return;
        }

        _inputClosed = true;
        try
        {
            await _process.StandardInput.DisposeAsync();
        }
        catch (IOException) when (_process.HasExited)
        {
            // It ended first (an error exit): there is nobody left to tell.
        }
    }

    /// <summary>Sends SIGTERM, as a service manager stopping the program would.</summary>
    public async Task TerminateAsync()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync().WaitAsync(Timeout);
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>Waits for the program to exit and for its output to be read to the end; returns the exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
            await Task.WhenAll(_readingStdout, _readingStderr).WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new XunitException($"{_label} did not exit within {timeout.TotalSeconds} s.\n{Transcript}");
        }

        return _process.ExitCode;
    }

    /// <summary>Closes stdin, waits for the exit and asserts it is <paramref name="expected"/>.</summary>
    public async Task ExpectExitAsync(int expected)
    {
        await CloseInputAsync();
        var code = await WaitForExitAsync(Timeout);
        if (code != expected)
        {
            throw new XunitException($"{_label} exited with {code}, expected {expected}.\n{Transcript}");
        }
    }

    /// <summary>Asserts that neither stream shows an exception or a stack frame.</summary>
    public void AssertNoStackTrace()
    {
        var both = Transcript;
        Assert.False(both.Contains("   at ", StringComparison.Ordinal), $"a stack frame was printed\n{both}");
        Assert.False(both.Contains("Exception", StringComparison.Ordinal), $"an exception was printed\n{both}");
    }

    /// <summary>Kills the program (as a crash or power loss would) and waits until it is gone.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync().WaitAsync(Timeout);
        await Task.WhenAll(_readingStdout, _readingStderr).WaitAsync(Timeout);
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            await KillAsync();
        }
        finally
        {
            _process.Dispose();
        }
    }

    private async Task ReadStdoutAsync(StreamReader reader)
    {
        try
        {
            while (await reader.ReadLineAsync() is { } line)
            {
                lock (_gate)
                {
                    _stdout.Add(line);
                    foreach (var waiter in _waiters.Where(w => w.Match(line)).ToList())
                    {
                        waiter.Found.TrySetResult(line);
                        _waiters.Remove(waiter);
                    }
                }
            }
        }
        finally
        {
            lock (_gate)
            {
                _stdoutEnded = true;
                foreach (var waiter in _waiters)
                {
                    waiter.Found.TrySetException(new XunitException($"{_label} ended its output without the expected line.\n{TranscriptUnlocked()}"));
                }

                _waiters.Clear();
            }
        }
    }

    private async Task ReadStderrAsync(StreamReader reader)
    {
        var buffer = new char[4096];
        int read;
        while ((read = await reader.ReadAsync(buffer)) > 0)
        {
            lock (_gate)
            {
                _stderr.Append(buffer, 0, read);
            }
        }
    }

    private string TranscriptUnlocked() =>
        $"--- {_label} stdout ---\n{string.Join('\n', _stdout)}\n--- {_label} stderr ---\n{_stderr}";
}
