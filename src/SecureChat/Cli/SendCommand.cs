using System.Diagnostics;
using SecureChat.Protocol.Identity;

namespace SecureChat.Cli;

/// <summary>
/// <c>securechat send CONTACT TEXT [--wait]</c>: puts a message in the outbox and prints its ID.
/// Through a running node it goes out at once; without one it waits for the next <c>run</c>.
/// </summary>
internal static class SendCommand
{
    public static async Task<int> RunAsync(string directory, string contact, string text, bool wait, int timeoutSeconds, CancellationToken cancellationToken)
    {
        if (timeoutSeconds <= 0)
        {
            throw new UsageException("--timeout takes a positive number of seconds.");
        }

        using var node = NodeAccess.Open(directory);
        var message = node.Send(contact, text);
        Console.WriteLine(message.Id);
        var name = DisplayText.Sanitize(message.Contact);
        if (!node.ThroughNode)
        {
            Console.Error.WriteLine($"queued for '{name}'; no node runs, so it waits in the outbox until `securechat run` starts.");
            if (wait)
            {
                await Console.Error.WriteLineAsync("securechat: --wait needs a running node (`securechat run`); the message stays queued.");
                return ExitCodes.Failure;
            }

            return ExitCodes.Ok;
        }

        if (!wait)
        {
            return ExitCodes.Ok;
        }

        var clock = Stopwatch.StartNew();
        var state = message.State;
        while (state is not ("delivered" or "read"))
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(timeoutSeconds))
            {
                await Console.Error.WriteLineAsync($"securechat: not delivered to '{name}' within {timeoutSeconds} s (it is {state}); it stays in the outbox and goes out when '{name}' is reachable.");
                return ExitCodes.Failure;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
            state = node.Message(message.Id)?.State ?? state;
        }

        Console.Error.WriteLine($"{state} to '{name}'.");
        return ExitCodes.Ok;
    }
}
