using System.Globalization;
using System.Threading.Channels;
using SecureChat.Protocol.Identity;

namespace SecureChat.Chat;

/// <summary>
/// The terminal side of a chat: prints announcements and received lines (one writer at a time),
/// and reads typed lines on a background thread, whether stdin is a terminal or a pipe.
/// </summary>
internal sealed class Terminal
{
    private readonly Lock _lock = new();
    private readonly TextWriter _out;

    public Terminal(TextWriter output)
    {
        _out = output;
    }

    /// <summary>Typed lines; completes at end of input.</summary>
    public static ChannelReader<string> ReadLines(TextReader input)
    {
        var lines = Channel.CreateBounded<string>(new BoundedChannelOptions(256) { SingleReader = true, SingleWriter = true });
        var thread = new Thread(() =>
        {
            try
            {
                while (input.ReadLine() is { } line)
                {
                    // Blocking is intended: this thread exists to wait on stdin.
                    while (!lines.Writer.TryWrite(line))
                    {
                        lines.Writer.WaitToWriteAsync().AsTask().GetAwaiter().GetResult();
                    }
                }
            }
            catch (IOException)
            {
                // stdin broke: treat it as its end.
            }
            finally
            {
                lines.Writer.TryComplete();
            }
        })
        {
            IsBackground = true,
            Name = "stdin",
        };
        thread.Start();
        return lines.Reader;
    }

    /// <summary>Replaces characters a peer could use to forge screen output or disguise text.</summary>
    public static string Sanitize(string text) => DisplayText.Sanitize(text);

    public static string Describe(string name, AccountId account) =>
        $"{Sanitize(name.Length == 0 ? "(no name)" : name)} ({account.Fingerprint})";

    /// <summary>An announcement line: <c>* text</c>.</summary>
    public void Announce(string text) => WriteLine("* " + text);

    /// <summary>A received line: <c>[HH:mm:ss] name: text</c>.</summary>
    public void Received(DateTimeOffset at, string name, string text) =>
        WriteLine($"[{at.ToLocalTime().ToString("HH:mm:ss", CultureInfo.InvariantCulture)}] {Sanitize(name)}: {Sanitize(text)}");

    private void WriteLine(string line)
    {
        lock (_lock)
        {
            _out.WriteLine(line);
            _out.Flush();
        }
    }
}
