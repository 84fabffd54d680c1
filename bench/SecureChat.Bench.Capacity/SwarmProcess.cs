using System.Diagnostics;
using System.Threading.Channels;
using SecureChat.Protocol.Identity;

namespace SecureChat.Bench.Capacity;

/// <summary>
/// This program started again in its <c>--client N</c> role (<see cref="PeerSwarm"/>): the peers
/// that dial the node, in a process of their own. Its stderr is passed on to ours; disposing ends
/// it (quit, then kill).
/// </summary>
internal sealed class SwarmProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly Task _readingStdout;
    private readonly Task _readingStderr;

    private SwarmProcess(Process process, TextWriter log)
    {
        _process = process;
        _readingStdout = ReadStdoutAsync();
        _readingStderr = ReadStderrAsync(log);
    }

    /// <summary>The peers' accounts, to be made the node's contacts.</summary>
    public List<AccountId> Accounts { get; } = [];

    /// <summary>Starts the swarm and returns once its peers have their identities.</summary>
    public static async Task<SwarmProcess> StartAsync(int count, TextWriter log, CancellationToken cancellationToken)
    {
        var self = Path.Combine(AppContext.BaseDirectory, "SecureChat.Bench.Capacity.dll");
        var process = Process.Start(NodeProcess.DotnetStart([self, "--client", count.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            ?? throw new InvalidOperationException("dotnet did not start.");
        var swarm = new SwarmProcess(process, log);
        try
        {
            for (var line = await swarm.NextLineAsync(TimeSpan.FromSeconds(60), cancellationToken); line != "ready"; line = await swarm.NextLineAsync(TimeSpan.FromSeconds(60), cancellationToken))
            {
                if (!line.StartsWith("account ", StringComparison.Ordinal) || !AccountId.TryParse(line["account ".Length..], out var account))
                {
                    throw new InvalidOperationException($"The swarm said '{line}' instead of an account.");
                }

                swarm.Accounts.Add(account);
            }

            return swarm;
        }
        catch
        {
            await swarm.DisposeAsync();
            throw;
        }
    }

    /// <summary>Sends a command and returns the answer's words after its first (the answer must start with <paramref name="answer"/>).</summary>
    public async Task<string[]> AskAsync(string command, string answer, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await _process.StandardInput.WriteLineAsync(command.AsMemory(), cancellationToken);
        await _process.StandardInput.FlushAsync(cancellationToken);
        var line = await NextLineAsync(timeout, cancellationToken);
        var words = line.Split(' ');
        return words[0] == answer ? words[1..] : throw new InvalidOperationException($"The swarm answered '{line}' to '{command}'.");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                try
                {
                    await _process.StandardInput.WriteLineAsync("quit");
                    _process.StandardInput.Close();
                }
                catch (IOException)
                {
                    // It is going already.
                }

                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try
                {
                    await _process.WaitForExitAsync(grace.Token);
                }
                catch (OperationCanceledException)
                {
                    _process.Kill(entireProcessTree: true);
                }
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(timeout.Token);
            await Task.WhenAll(_readingStdout, _readingStderr).WaitAsync(timeout.Token);
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception)
        {
            Console.Error.WriteLine($"  client: could not be stopped cleanly ({ex.Message})");
        }
        finally
        {
            _process.Dispose();
        }
    }

    private async Task<string> NextLineAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            return await _lines.Reader.ReadAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new InvalidOperationException($"The swarm said nothing for {timeout.TotalSeconds:0} s.");
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException($"The swarm ended ({(_process.HasExited ? $"exit {_process.ExitCode}" : "its output closed")}).");
        }
    }

    private async Task ReadStdoutAsync()
    {
        while (await _process.StandardOutput.ReadLineAsync() is { } line)
        {
            _lines.Writer.TryWrite(line);
        }

        _lines.Writer.TryComplete();
    }

    private async Task ReadStderrAsync(TextWriter log)
    {
        while (await _process.StandardError.ReadLineAsync() is { } line)
        {
            log.WriteLine(line);
        }
    }
}
