using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using SecureChat.Cli;
using SecureChat.Net;
using SecureChat.Node;
using SecureChat.Protocol.Channel;

namespace SecureChat.Chat;

/// <summary>
/// <c>securechat listen</c>: accepts any number of peers; each typed line goes to every connected
/// peer, and every peer's lines are printed. Runs until standard input ends or Ctrl+C, then closes
/// every channel cleanly.
/// </summary>
internal static class ListenCommand
{
    public static async Task<int> RunAsync(string directory, string host, int port, ChannelOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        if (port is < 0 or > 65535)
        {
            throw new UsageException($"{port} is not a valid port: use a number from 1 to 65535, or 0 for any free port.");
        }

        var terminal = new Terminal(Console.Out);
        using var node = NodeHome.OpenOrCreate(directory, Console.Out);
        var conversations = new ConcurrentDictionary<PeerConversation, Task>();
        using var abandon = new CancellationTokenSource();
        using var stopAccepting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task accepting;
        await using (var listener = ChannelListener.Start(host, port, node.Identity, PeerTrust.ForInbound(node.Contacts), options, logger))
        {
            terminal.Announce($"listening on {FormatEndpoint(listener.LocalEndPoint)} as {Terminal.Describe(node.Identity.DisplayName, node.Identity.Account)}");
            terminal.Announce($"your ID: {node.Identity.Account}");
            accepting = AcceptAllAsync(listener, node, terminal, conversations, options.Time, abandon.Token, stopAccepting.Token);
            await ConnectCommand.SendTypedLinesAsync(Terminal.ReadLines(Console.In), conversations.Select(c => c.Key), terminal, cancellationToken);
            await stopAccepting.CancelAsync();
            await accepting;
        }

        var reason = cancellationToken.IsCancellationRequested ? CloseReason.Shutdown : CloseReason.Normal;
        await Task.WhenAll(conversations.Keys.Select(c => c.Connection.CloseAsync(reason, "the listener stopped", CancellationToken.None).AsTask()));

        // Every close waited for its peer as long as it should: stop waiting for the silent ones.
        await abandon.CancelAsync();
        await Task.WhenAll(conversations.Values);
        terminal.Announce("stopped listening");
        return ExitCodes.Ok;
    }

    private static async Task AcceptAllAsync(
        ChannelListener listener,
        NodeHome node,
        Terminal terminal,
        ConcurrentDictionary<PeerConversation, Task> conversations,
        TimeProvider time,
        CancellationToken abandon,
        CancellationToken cancellationToken)
    {
        while (true)
        {
            InboundConnection inbound;
            try
            {
                inbound = await listener.AcceptAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            if (inbound.Connection is not { } connection)
            {
                var why = inbound.Failure?.Message ?? "the handshake was interrupted";
                terminal.Announce($"refused a connection from {inbound.Remote}: {why}");
                continue;
            }

            // Registered before it is announced: a line typed once "connected" shows reaches this peer.
            var (contact, isNew) = ConnectCommand.Pin(node, connection, null, time);
            var conversation = new PeerConversation(connection, contact, node.Store.Messages, terminal, time);
            var greeted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            conversations[conversation] = RunConversationAsync(conversation, greeted.Task, terminal, conversations, abandon);
            ConnectCommand.Greet(node, conversation, isNew, terminal, $"from {inbound.Remote}");
            greeted.SetResult();
        }
    }

    private static async Task RunConversationAsync(
        PeerConversation conversation, Task greeted, Terminal terminal, ConcurrentDictionary<PeerConversation, Task> conversations, CancellationToken abandon)
    {
        await greeted;
        var end = await conversation.ReceiveAllAsync(abandon);
        terminal.Announce($"disconnected: {conversation.Label} {end.Reason}");
        conversations.TryRemove(conversation, out _);
        await conversation.Connection.DisposeAsync();
    }

    private static string FormatEndpoint(System.Net.IPEndPoint endpoint) =>
        new PeerEndpoint(endpoint.Address.ToString(), endpoint.Port).ToString();
}
