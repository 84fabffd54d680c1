using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using SecureChat.Cli;
using SecureChat.Net;
using SecureChat.Node;
using SecureChat.Protocol.Channel;

namespace SecureChat.Chat;

/// <summary>
/// <c>securechat listen</c>: accepts any number of peers; each typed line goes to every connected
/// contact, and every peer's lines are printed. A stranger (an account that is not a contact) is
/// a contact request: its lines are shown, but nothing typed reaches it until the person types
/// <c>/accept</c> (or <c>/decline</c>); <c>--open-door</c> takes every stranger as a contact at
/// once, for a classroom. Runs until standard input ends or Ctrl+C, then closes every channel cleanly.
/// </summary>
internal static class ListenCommand
{
    public static async Task<int> RunAsync(string directory, string host, int port, bool openDoor, ChannelOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        if (port is < 0 or > 65535)
        {
            throw new UsageException($"{port} is not a valid port: use a number from 1 to 65535, or 0 for any free port.");
        }

        var terminal = new Terminal(Console.Out);
        using var node = NodeHome.OpenForNode(directory, Console.Out);
        var conversations = new ConcurrentDictionary<PeerConversation, Task>();
        var waiting = new ConcurrentDictionary<PeerConversation, Storage.Contact>();
        using var abandon = new CancellationTokenSource();
        using var stopAccepting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task accepting;
        await using (var listener = ChannelListener.Start(host, port, node.Identity, PeerTrust.ForInbound(node.Contacts), options, logger))
        {
            terminal.Announce($"listening on {FormatEndpoint(listener.LocalEndPoint)} as {Terminal.Describe(node.Identity.DisplayName, node.Identity.Account)}");
            terminal.Announce($"your ID: {node.Identity.Account}");
            if (!openDoor)
            {
                terminal.Announce("strangers who connect are contact requests: type /accept to talk with them, /decline to refuse (--open-door takes everyone)");
            }

            var door = new Door(node, terminal, waiting, openDoor);
            accepting = AcceptAllAsync(listener, node, terminal, conversations, door, options.Time, abandon.Token, stopAccepting.Token);
            await ConnectCommand.SendTypedLinesAsync(
                Terminal.ReadLines(Console.In), conversations.Select(c => c.Key).Where(c => !waiting.ContainsKey(c)), terminal, cancellationToken, door.CommandAsync);
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
        Door door,
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
            var (contact, isNew) = ConnectCommand.Pin(node, connection, null, time, door.StandingForStrangers);
            var conversation = new PeerConversation(connection, contact, node.Store.Messages, terminal, time);
            if (contact.Standing == Storage.ContactStanding.Request)
            {
                door.Hold(conversation, contact);
            }

            var greeted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            conversations[conversation] = RunConversationAsync(conversation, greeted.Task, terminal, conversations, door.Waiting, abandon);
            if (contact.Standing == Storage.ContactStanding.Request)
            {
                door.Announce(conversation, contact, $"from {inbound.Remote}");
            }
            else
            {
                ConnectCommand.Greet(node, conversation, isNew, terminal, $"from {inbound.Remote}");
            }

            greeted.SetResult();
        }
    }

    private static async Task RunConversationAsync(
        PeerConversation conversation,
        Task greeted,
        Terminal terminal,
        ConcurrentDictionary<PeerConversation, Task> conversations,
        ConcurrentDictionary<PeerConversation, Storage.Contact> waiting,
        CancellationToken abandon)
    {
        await greeted;
        var end = await conversation.ReceiveAllAsync(abandon);
        terminal.Announce($"disconnected: {conversation.Label} {end.Reason}");
        conversations.TryRemove(conversation, out _);
        waiting.TryRemove(conversation, out _);
        await conversation.Connection.DisposeAsync();
    }

    /// <summary>Who gets in: contacts at once; strangers as requests until /accept (or everyone, with the open door).</summary>
    private sealed class Door(NodeHome node, Terminal terminal, ConcurrentDictionary<PeerConversation, Storage.Contact> waiting, bool open)
    {
        public ConcurrentDictionary<PeerConversation, Storage.Contact> Waiting => waiting;

        public Storage.ContactStanding StandingForStrangers => open ? Storage.ContactStanding.Contact : Storage.ContactStanding.Request;

        public void Hold(PeerConversation conversation, Storage.Contact request) => waiting[conversation] = request;

        public void Announce(PeerConversation conversation, Storage.Contact request, string where) =>
            terminal.Announce($"contact request: {conversation.Label} {where}, calls themself \"{Protocol.Identity.DisplayText.Sanitize(request.DisplayName)}\"; "
                + $"safety number {Protocol.Identity.SafetyNumber.Compute(node.Identity.Account, request.AccountId)}. Type /accept to talk with them, /decline to refuse");

        /// <summary>Takes <c>/accept</c> and <c>/decline</c>; any other line is a message.</summary>
        public async Task<bool> CommandAsync(string line)
        {
            var verb = line.Trim();
            if (verb is not ("/accept" or "/decline"))
            {
                return false;
            }

            var pending = waiting.ToList();
            if (pending.Count == 0)
            {
                terminal.Announce("no contact request is waiting");
                return true;
            }

            foreach (var (conversation, request) in pending)
            {
                waiting.TryRemove(conversation, out _);
                if (verb == "/accept")
                {
                    node.Contacts.Accept(request, null);
                    terminal.Announce($"accepted: {conversation.Label} is a contact; what you type reaches them");
                }
                else
                {
                    node.Contacts.Remove(request);
                    await conversation.Connection.CloseAsync(CloseReason.Normal, "declined", CancellationToken.None);
                    terminal.Announce($"declined: {conversation.Label}");
                }
            }

            return true;
        }
    }

    private static string FormatEndpoint(System.Net.IPEndPoint endpoint) =>
        new PeerEndpoint(endpoint.Address.ToString(), endpoint.Port).ToString();
}
