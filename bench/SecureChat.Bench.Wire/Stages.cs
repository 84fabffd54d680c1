using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Text;

namespace SecureChat.Bench.Wire;

/// <summary>
/// The stages of a process's start for the log: for each, the time since the process began, and
/// how many methods the JIT compiled meanwhile and how long it took over them (all threads), which
/// tells the precompiled code's reach from what the machine's load adds; and at the end the
/// process's CPU time, which other processes on a loaded machine do not inflate as they do the
/// wall clock.
/// </summary>
internal sealed class Stages
{
    private readonly StringBuilder _text = new();
    private readonly long _start = Stopwatch.GetTimestamp();
    private long _methods = JitInfo.GetCompiledMethodCount();
    private TimeSpan _jit = JitInfo.GetCompilationTime();

    /// <summary>Milliseconds since this was made.</summary>
    public double Elapsed => Stopwatch.GetElapsedTime(_start).TotalMilliseconds;

    /// <summary>Marks the end of a stage; returns the milliseconds since this was made.</summary>
    public double Mark(string stage)
    {
        var elapsed = Elapsed;
        var methods = JitInfo.GetCompiledMethodCount();
        var jit = JitInfo.GetCompilationTime();
        _text.Append(CultureInfo.InvariantCulture, $"{(_text.Length == 0 ? "" : ", ")}{stage} {elapsed:F0} ms (JIT {methods - _methods} in {(jit - _jit).TotalMilliseconds:F0} ms)");
        _methods = methods;
        _jit = jit;
        return elapsed;
    }

    /// <summary>The CPU time (user and system, all threads) the process has used, in milliseconds.</summary>
    public static double CpuMilliseconds => Environment.CpuUsage.TotalTime.TotalMilliseconds;

    public override string ToString() => _text.ToString();
}
