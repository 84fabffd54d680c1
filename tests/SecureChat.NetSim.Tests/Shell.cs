using System.Diagnostics;
using System.Text;

namespace SecureChat.NetSim.Tests;

/// <summary>
/// Runs the system tools that build the simulated internet (<c>ip</c>, <c>nft</c>, <c>sysctl</c>)
/// and waits for them. A tool that fails is an exception that names the command and what it
/// printed, so a world that could not be built says why instead of failing later in a test.
/// </summary>
internal static class Shell
{
    /// <summary>How long one tool may take: they do their work in milliseconds, even on a loaded machine.</summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>Runs <paramref name="program"/> with <paramref name="args"/>; throws when it exits with anything but 0.</summary>
    public static string Run(string program, IEnumerable<string> args, string? input = null)
    {
        var (code, output) = TryRun(program, args, input);
        if (code != 0)
        {
            throw new InvalidOperationException($"`{program} {string.Join(' ', args)}` exited {code}: {output.Trim()}");
        }

        return output;
    }

    /// <summary>Runs <paramref name="program"/> and returns its exit code and both streams (stdout first).</summary>
    public static (int Code, string Output) TryRun(string program, IEnumerable<string> args, string? input = null)
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

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return (127, $"{program} could not be started ({ex.Message})");
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (input is not null)
            {
                process.StandardInput.Write(input);
            }

            process.StandardInput.Close();
            if (!process.WaitForExit(Timeout))
            {
                process.Kill(entireProcessTree: true);
                return (-1, $"{program} did not finish within {Timeout.TotalSeconds} s");
            }

            process.WaitForExit();
            var output = new StringBuilder(stdout.GetAwaiter().GetResult()).Append(stderr.GetAwaiter().GetResult()).ToString();
            return (process.ExitCode, output);
        }
    }
}
