using Microsoft.Extensions.Logging;
using SecureChat.Api;
using SecureChat.Cli;
using SecureChat.Net;
using SecureChat.Node;
using SecureChat.Protocol.Channel;
using SecureChat.Storage;

namespace SecureChat.Chat;

/// <summary>
/// <c>securechat connect [ID@]HOST:PORT</c>: runs the node (the one <c>securechat run</c> runs,
/// without listening or the web UI), dials the peer, pins or checks its key, and chats with it on
/// the terminal until either side closes or standard input ends. Typed lines go through the outbox;
/// at the end of the input the chat waits, within a bound, until they are delivered, then closes.
/// </summary>
internal static class ConnectCommand
{
    public static async Task<int> RunAsync(string directory, string target, ChannelOptions options, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var (endpoint, expected) = TargetAddress.Parse(target);
        var terminal = new Terminal(Console.Out);
        using var home = NodeHome.OpenForNode(directory, Console.Out, TerminalChat.BesideRunningNode(directory, "connect"));

        // The chat is with the one peer dialed here: the node does not dial its other contacts.
        var logger = loggers.CreateLogger("securechat");
        var node = ChatNode.Start(home.Identity, home.Store, new NodeOptions { ListenHost = null, Channel = options, DialContactsAtStart = false }, logger);
        LocalApiHost? api = null;
        try
        {
            // The node serves the local API like `securechat run`, so a command typed in another
            // terminal meanwhile (send, history, contacts) goes through it, not behind its back.
            api = await LocalApiHost.StartAsync(node, directory, apiPort: 0, withUi: false, loggers, cancellationToken);
            var chat = new TerminalChat(node, terminal);
            var peer = await node.ConnectAsync(endpoint, expected, cancellationToken);
            logger.LogInformation("Connected to {Endpoint}", endpoint);
            var call = new Call(chat, peer, $"at {endpoint}");
            var pumping = chat.PumpAsync(call.Handle);
            var typing = TerminalChat.ReadTypedLinesAsync(Terminal.ReadLines(Console.In), line => chat.SendAsync(line, [peer]), cancellationToken);
            if (await Task.WhenAny(typing, call.Ended) == typing)
            {
                await typing;
                if (!cancellationToken.IsCancellationRequested)
                {
                    await chat.DeliverPendingAsync(_ => !call.Ended.IsCompleted);
                }

                if (!call.Ended.IsCompleted)
                {
                    chat.Stopping = true;
                    await node.HangUpAsync(peer);
                    terminal.Announce($"disconnected from {TerminalChat.Label(peer)}");
                    await TerminalChat.StopAsync(api, node);
                    await pumping;
                    return ExitCodes.Ok;
                }
            }

            var end = await call.Ended;
            if (end.Code != ExitCodes.Ok)
            {
                await Console.Error.WriteLineAsync($"securechat: the chat with {TerminalChat.Label(peer)} ended: {end.Reason}");
            }

            return end.Code;
        }
        finally
        {
            await TerminalChat.StopAsync(api, node);
        }
    }

    /// <summary>How the chat with the peer ended: the sentence, and the exit code it gives.</summary>
    private sealed record CallEnd(string Reason, int Code);

    /// <summary>The one peer of a <c>connect</c>: announces it, and ends the chat when its connection ends for good.</summary>
    private sealed class Call(TerminalChat chat, Contact peer, string where)
    {
        private readonly TaskCompletionSource<CallEnd> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private bool _online;

        public Task<CallEnd> Ended => _ended.Task;

        public bool Handle(NodeEvent nodeEvent)
        {
            switch (nodeEvent)
            {
                case PresenceChanged { Online: true } presence when presence.ContactAccount == peer.Account:
                    _online = true;
                    chat.AnnounceConnected(chat.Find(peer.Account) ?? peer, where);
                    return true;

                case PresenceChanged { Online: false } presence when presence.ContactAccount == peer.Account:
                    _online = false;
                    if (chat.Stopping)
                    {
                        return true;
                    }

                    if (presence.Close is { Reason: CloseReason.Normal, Text: ChatNode.ReconnectText })
                    {
                        // The peer took this node from a request to a contact: its node expects the dial again, which this node makes at once.
                        chat.Terminal.Announce($"{TerminalChat.Label(peer)} accepted you as a contact; connecting again");
                        return true;
                    }

                    var reason = TerminalChat.Describe(presence.Close);
                    chat.Terminal.Announce($"disconnected: {TerminalChat.Label(peer)} {reason}");
                    _ended.TrySetResult(new CallEnd(reason, presence.Close switch
                    {
                        { Reason: CloseReason.Normal or CloseReason.Shutdown } => ExitCodes.Ok,
                        { Reason: CloseReason.PeerKeyRejected } => ExitCodes.PeerKeyRefused,
                        _ => ExitCodes.Failure,
                    }));
                    return true;

                case ConnectionProblem problem when problem.ContactAccount == peer.Account && !_online && !chat.Stopping:
                    // The connection failed before the node protocol was up: no "disconnected" follows.
                    var failure = Terminal.Sanitize(problem.Message);
                    chat.Terminal.Announce($"disconnected: {TerminalChat.Label(peer)} {failure}");
                    _ended.TrySetResult(new CallEnd(failure, ExitCodes.Failure));
                    return true;

                default:
                    return false;
            }
        }
    }
}
