using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Xunit.Sdk;

namespace SecureChat.Testing;

/// <summary>
/// One child process of a test (a <c>securechat</c> node, a third-party peer) with its standard
/// streams redirected: typed lines go to its stdin, and every stdout and stderr line is kept, as
/// an event a test can wait for. Waiting is signalled by each new line (no polling), and every
/// wait has a timeout. Disposing kills the process (SIGKILL) if it is still running, so that no
/// test leaves one behind, whatever it failed on.
/// </summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    /// <summary>
    /// The longest any single step of a test waits for a child: long enough for a program to start
    /// (the .NET runtime's start-up) on a loaded two-core machine.
    /// </summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>The variables through which SecureChat reads settings from its environment.</summary>
    private static readonly string[] SecureChatVariables = ["SECURECHAT_PASSPHRASE", "SECURECHAT_HOME", "SECURECHAT_NEW_PASSPHRASE", "SECURECHAT_BACKUP_PASSPHRASE"];

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    private readonly Lock _gate = new();
    private readonly List<string> _stdout = [];
    private readonly List<string> _stderr = [];
    private readonly List<Waiter> _waiters = [];
    private readonly Process _process;
    private readonly string _label;
    private readonly Task _readingStdout;
    private readonly Task _readingStderr;
    private bool _stdoutEnded;
    private bool _stderrEnded;
    private bool _inputClosed;
    private bool _disposed;

    private ChildProcess(Process process, string label)
    {
        _process = process;
        _label = label;
        _readingStdout = ReadLinesAsync(process.StandardOutput, stderr: false);
        _readingStderr = ReadLinesAsync(process.StandardError, stderr: true);
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

    /// <summary>Everything written to stderr so far, one line after another.</summary>
    public string Stderr
    {
        get
        {
            lock (_gate)
            {
                return StderrUnlocked();
            }
        }
    }

    /// <summary>The end of a long transcript or log, for a failure message.</summary>
    public static string Tail(string text, int keep = 4000) => text.Length <= keep ? text : "…" + text[^keep..];

    /// <summary>Both streams, for failure messages.</summary>
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
    /// How a test starts a program it talks to: <paramref name="program"/> with
    /// <paramref name="args"/>, all three streams redirected as UTF-8 (no byte-order mark), no
    /// shell, and none of the SecureChat variables of the test's own environment (a passphrase or
    /// home set where the tests run must not reach the program; a test sets what it means to).
    /// </summary>
    public static ProcessStartInfo Redirected(string program, IEnumerable<string> args)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardInputEncoding = Utf8,
            StandardOutputEncoding = Utf8,
            StandardErrorEncoding = Utf8,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var name in SecureChatVariables)
        {
            start.Environment.Remove(name);
        }

        return start;
    }

    /// <summary>
    /// Starts <paramref name="start"/>, which must redirect all three standard streams;
    /// <paramref name="label"/> names the process in failure messages.
    /// </summary>
    public static ChildProcess Start(string label, ProcessStartInfo start)
    {
        ArgumentNullException.ThrowIfNull(start);
        if (!start.RedirectStandardInput || !start.RedirectStandardOutput || !start.RedirectStandardError || start.UseShellExecute)
        {
            throw new ArgumentException("A child process of a test has all three streams redirected and no shell.", nameof(start));
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"{start.FileName} did not start.");
        return new ChildProcess(process, label);
    }

    /// <summary>The first stdout line (seen so far or to come) that <paramref name="match"/> accepts.</summary>
    public Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout) =>
        WaitForAsync(stderr: false, match, timeout);

    /// <summary>The first stderr line (seen so far or to come) that <paramref name="match"/> accepts.</summary>
    public Task<string> WaitForErrorLineAsync(Func<string, bool> match, TimeSpan timeout) =>
        WaitForAsync(stderr: true, match, timeout);

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

    /// <summary>Kills the program with SIGKILL (as a crash or power loss would) and waits until it is gone.</summary>
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

    private async Task<string> WaitForAsync(bool stderr, Func<string, bool> match, TimeSpan timeout)
    {
        var stream = stderr ? "stderr" : "stdout";
        Waiter waiter;
        lock (_gate)
        {
            foreach (var line in stderr ? _stderr : _stdout)
            {
                if (match(line))
                {
                    return line;
                }
            }

            if (stderr ? _stderrEnded : _stdoutEnded)
            {
                throw new XunitException($"{_label} ended its {stream} without the expected line.\n{TranscriptUnlocked()}");
            }

            waiter = new Waiter(stderr, match, new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously));
            _waiters.Add(waiter);
        }

        try
        {
            return await waiter.Found.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new XunitException($"{_label} printed no expected line on {stream} within {timeout.TotalSeconds} s.\n{Transcript}");
        }
        finally
        {
            lock (_gate)
            {
                _waiters.Remove(waiter);
            }
        }
    }

    /// <summary>Keeps each line of one stream and completes the waits it satisfies; at the end, fails those left.</summary>
    private async Task ReadLinesAsync(StreamReader reader, bool stderr)
    {
        try
        {
            while (await reader.ReadLineAsync() is { } line)
            {
                lock (_gate)
                {
                    (stderr ? _stderr : _stdout).Add(line);
                    foreach (var waiter in _waiters.Where(w => w.Stderr == stderr && w.Match(line)).ToList())
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
                if (stderr)
                {
                    _stderrEnded = true;
                }
                else
                {
                    _stdoutEnded = true;
                }

                foreach (var waiter in _waiters.Where(w => w.Stderr == stderr).ToList())
                {
                    waiter.Found.TrySetException(new XunitException($"{_label} ended its {(stderr ? "stderr" : "stdout")} without the expected line.\n{TranscriptUnlocked()}"));
                    _waiters.Remove(waiter);
                }
            }
        }
    }

    private string StderrUnlocked() => string.Concat(_stderr.Select(line => line + "\n"));

    private string TranscriptUnlocked() =>
        $"--- {_label} stdout ---\n{string.Join('\n', _stdout)}\n--- {_label} stderr ---\n{StderrUnlocked()}";

    private sealed record Waiter(bool Stderr, Func<string, bool> Match, TaskCompletionSource<string> Found);
}
