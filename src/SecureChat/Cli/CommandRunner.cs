using System.Runtime.InteropServices;
using SecureChat.Net;
using SecureChat.Protocol.Channel;
using SecureChat.Storage;

namespace SecureChat.Cli;

/// <summary>
/// Runs a verb: turns Ctrl+C and SIGTERM into cancellation, and every failure into one sentence on
/// stderr and an exit code. No stack trace ever reaches the person.
/// </summary>
internal static class CommandRunner
{
    public static async Task<int> RunAsync(Func<CancellationToken, Task<int>> verb, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
        try
        {
            return await verb(stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return ExitCodes.Ok;
        }
        catch (Exception ex)
        {
            var (code, message) = Describe(ex);
            await Console.Error.WriteLineAsync($"securechat: {message}");
            return code;
        }

        void Cancel(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
    }

    public static (int Code, string Message) Describe(Exception exception) => exception switch
    {
        UsageException usage => (ExitCodes.Usage, usage.Message),
        Api.ApiException { Status: System.Net.HttpStatusCode.BadRequest or System.Net.HttpStatusCode.NotFound or System.Net.HttpStatusCode.Conflict } api => (ExitCodes.Usage, api.Message),
        Api.ApiException api => (ExitCodes.Failure, api.Message),
        StoreException { Error: StoreError.NoSuchContact or StoreError.Conflict } store => (ExitCodes.Usage, store.Message),
        StoreException { Error: StoreError.OutboxFull or StoreError.DiskFull } store => (ExitCodes.Failure, store.Message),
        StoreException store => (ExitCodes.Identity, store.Message),
        ChannelException { Error: ChannelError.PeerKeyMismatch } channel => (ExitCodes.PeerKeyRefused, channel.Message),
        ChannelException channel => (ExitCodes.Failure, channel.Message),
        NetworkException network => (network.Error == NetworkError.InvalidAddress ? ExitCodes.Usage : ExitCodes.Failure, network.Message),
        IOException io => (ExitCodes.Failure, $"A file could not be read or written: {io.Message}"),
        UnauthorizedAccessException => (ExitCodes.Failure, "Permission denied on the data directory: check its owner and permissions, or choose another with --home."),
        _ => (ExitCodes.Internal, $"Unexpected error ({exception.GetType().Name}): {exception.Message} This is a bug; please report it."),
    };
}
