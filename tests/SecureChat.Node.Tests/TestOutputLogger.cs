using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace SecureChat.Node.Tests;

/// <summary>Writes a node's log to the test's output, prefixed with whose node it is: shown when a test fails.</summary>
internal sealed class TestOutputLogger(ITestOutputHelper output, string name) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        ArgumentNullException.ThrowIfNull(formatter);
        try
        {
            output.WriteLine($"{DateTime.Now:HH:mm:ss.fff} {name} {logLevel}: {formatter(state, exception)}");
        }
        catch (InvalidOperationException)
        {
            // The test has ended; a node still winding down has no one to tell.
        }
    }
}
