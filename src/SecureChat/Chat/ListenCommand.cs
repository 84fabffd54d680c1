using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using SecureChat.Api;
using SecureChat.Cli;
using SecureChat.Net;
using SecureChat.Node;
using SecureChat.Storage;

namespace SecureChat.Chat;

/// <summary>
/// <c>securechat listen</c>: runs the node (the one <c>securechat run</c> runs, without the web UI)
/// listening on HOST:PORT, and chats on the terminal with every contact that connects: each typed
/// line goes through the outbox to each of them, and what they send is printed. A stranger (an
/// account that is not a contact) is a contact request: what it says is shown, but nothing typed
/// reaches it until the person types <c>/accept</c> (or <c>/decline</c>); <c>--open-door</c> takes
/// every stranger as a contact at once, for a classroom. Runs until standard input ends or Ctrl+C;
/// at the end of the input it first waits, within a bound, until what was typed is delivered.
/// </summary>
internal static class ListenCommand
{
    public static async Task<int> RunAsync(string directory, string host, int port, bool openDoor, ChannelOptions options, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (port is < 0 or > 65535)
        {
            throw new UsageException($"{port} is not a valid port: use a number from 1 to 65535, or 0 for any free port.");
        }

        var terminal = new Terminal(Console.Out);
        using var home = NodeHome.OpenForNode(directory, Console.Out, TerminalChat.BesideRunningNode(directory, "listen"));

        // The node starts without listening: the terminal subscribes to its events first, so no
        // peer that connects at once goes unannounced.
        var logger = loggers.CreateLogger("securechat");
        var node = ChatNode.Start(home.Identity, home.Store, new NodeOptions { ListenHost = null, Channel = options, OpenDoor = openDoor }, logger);
        LocalApiHost? api = null;
        try
        {
            // The node serves the local API like `securechat run`, so a command typed in another
            // terminal meanwhile (send, history, contacts) goes through it, not behind its back.
            api = await LocalApiHost.StartAsync(node, directory, apiPort: 0, withUi: false, loggers, cancellationToken);
            var chat = new TerminalChat(node, terminal);
            var room = new Room(chat, openDoor);
            var pumping = chat.PumpAsync(room.Handle);
            var at = await node.StartListeningAsync(host, port, cancellationToken);
            terminal.Announce($"listening on {new PeerEndpoint(at.Address.ToString(), at.Port)} as {Terminal.Describe(home.Identity.DisplayName, home.Identity.Account)}");
            terminal.Announce($"your ID: {home.Identity.Account}");
            if (!openDoor)
            {
                terminal.Announce("strangers who connect are contact requests: type /accept to talk with them, /decline to refuse (--open-door takes everyone)");
            }

            await TerminalChat.ReadTypedLinesAsync(Terminal.ReadLines(Console.In), room.TakeAsync, cancellationToken);
            if (!cancellationToken.IsCancellationRequested)
            {
                await chat.DeliverPendingAsync(room.MayArrive);
            }

            // Stopping the node closes every connection (each peer reads that this node stopped),
            // and ends the events once the last "disconnected" is out.
            chat.Stopping = true;
            await TerminalChat.StopAsync(api, node);
            await pumping;
        }
        finally
        {
            await TerminalChat.StopAsync(api, node);
        }

        terminal.Announce("stopped listening");
        return ExitCodes.Ok;
    }

    /// <summary>
    /// Who is in the chat: contacts who connected (they get what is typed, and when they are away
    /// it waits for them in the outbox), and strangers who wait at the door until /accept or /decline.
    /// </summary>
    private sealed class Room(TerminalChat chat, bool openDoor)
    {
        private readonly ConcurrentDictionary<string, Contact> _members = new(StringComparer.Ordinal);
        private readonly ConcurrentDictionary<string, Contact> _waiting = new(StringComparer.Ordinal);

        /// <summary>Accounts whose connection this side is closing on purpose (accepted, declined): no "disconnected" for it.</summary>
        private readonly ConcurrentDictionary<string, byte> _quiet = new(StringComparer.Ordinal);

        public bool Handle(NodeEvent nodeEvent)
        {
            if (nodeEvent is not PresenceChanged presence || chat.Find(presence.ContactAccount) is not { } contact)
            {
                return false;
            }

            if (presence.Online)
            {
                _quiet.TryRemove(contact.Account, out _);
                if (contact.Standing == ContactStanding.Request && !openDoor)
                {
                    _waiting[contact.Account] = contact;
                    chat.AnnounceRequest(contact, $"from {presence.Endpoint}");
                }
                else if (contact.Standing == ContactStanding.Contact)
                {
                    // Registered before it is announced: a line typed once "connected" shows reaches this peer.
                    _members[contact.Account] = contact;
                    chat.AnnounceConnected(contact, $"from {presence.Endpoint}");
                }

                return true;
            }

            _waiting.TryRemove(contact.Account, out _);
            if (_quiet.ContainsKey(contact.Account))
            {
                return true;
            }

            chat.Terminal.Announce(chat.Stopping
                ? $"disconnected: {TerminalChat.Label(contact)}"
                : $"disconnected: {TerminalChat.Label(contact)} {TerminalChat.Describe(presence.Close)}");
            return true;
        }

        /// <summary>True while a line queued for the account can still be delivered in this chat: its peer is connected, or reconnecting after /accept.</summary>
        public bool MayArrive(string account) =>
            _quiet.ContainsKey(account) || (_members.TryGetValue(account, out var contact) && chat.Node.IsOnline(contact));

        /// <summary>A typed line: <c>/accept</c>, <c>/decline</c>, or a message for every member.</summary>
        public async Task TakeAsync(string line)
        {
            var verb = line.Trim();
            if (verb is "/accept" or "/decline")
            {
                await AnswerAsync(accept: verb == "/accept");
                return;
            }

            var recipients = _members.Values.ToList();
            if (recipients.Count == 0)
            {
                chat.Terminal.Announce("nobody is connected yet; the line was not sent");
                return;
            }

            await chat.SendAsync(line, recipients);
        }

        private async Task AnswerAsync(bool accept)
        {
            var pending = _waiting.Values.ToList();
            if (pending.Count == 0)
            {
                chat.Terminal.Announce("no contact request is waiting");
                return;
            }

            foreach (var request in pending)
            {
                _waiting.TryRemove(request.Account, out _);
                _quiet[request.Account] = 0;
                try
                {
                    if (accept)
                    {
                        // The node restarts the connection as a contact's; the peer dials again at once.
                        var contact = await chat.Node.AcceptRequestAsync(request, null);
                        _members[contact.Account] = contact;
                        chat.Terminal.Announce($"accepted: {TerminalChat.Label(contact)} is a contact; what you type reaches them");
                    }
                    else
                    {
                        await chat.Node.DeclineRequestAsync(request);
                        chat.Terminal.Announce($"declined: {TerminalChat.Label(request)}");
                    }
                }
                catch (StoreException ex)
                {
                    _quiet.TryRemove(request.Account, out _);
                    chat.Terminal.Announce($"{TerminalChat.Label(request)}: {ex.Message}");
                }
            }
        }
    }
}
