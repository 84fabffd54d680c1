using BenchmarkDotNet.Loggers;

namespace SecureChat.Bench.Micro;

/// <summary>BenchmarkDotNet's log, sent to standard error: standard output carries only FIGURE lines.</summary>
internal sealed class StandardErrorLogger : ILogger
{
    public string Id => nameof(StandardErrorLogger);

    public int Priority => 0;

    public void Write(LogKind logKind, string text) => Console.Error.Write(text);

    public void WriteLine() => Console.Error.WriteLine();

    public void WriteLine(LogKind logKind, string text) => Console.Error.WriteLine(text);

    public void Flush() => Console.Error.Flush();
}
