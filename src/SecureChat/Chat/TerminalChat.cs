using System.Collections.Concurrent;
using System.Threading.Channels;
using SecureChat.Api;
using SecureChat.Cli;
using SecureChat.Net;
using SecureChat.Node;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Identity;
using SecureChat.Storage;

namespace SecureChat.Chat;

/// <summary>
/// The terminal over a running <see cref="ChatNode"/>, shared by <c>listen</c> and <c>connect</c>:
/// prints what the node receives and who comes and goes, queues typed lines in the node's outbox
/// (so a line typed while its peer is away goes when the peer is back, once), and at the end of the
/// input waits, within a bound, until what it queued is delivered. The node speaks the node protocol
/// (ratchet, receipts, history) exactly as <c>securechat run</c> does; this class only reads its
/// events and calls its facade.
/// </summary>
internal sealed class TerminalChat
{
    /// <summary>
    /// How long the end of the input waits for queued lines to be delivered to peers that are
    /// connected. A peer that has not confirmed them by then is slow or gone; they stay in the
    /// outbox either way.
    /// </summary>
    public static readonly TimeSpan DeliveryGrace = TimeSpan.FromSeconds(15);


    private readonly ChatNode _node;
    private readonly Terminal _terminal;
    private readonly ChannelReader<NodeEvent> _events;

    /// <summary>Accounts pinned for the first time during this chat: their safety number is shown once they are connected.</summary>
    private readonly ConcurrentDictionary<string, byte> _new = new(StringComparer.Ordinal);

    /// <summary>Lines queued in this chat and not yet confirmed by their peer: message ID, contact account.</summary>
    private readonly ConcurrentDictionary<string, string> _undelivered = new(StringComparer.Ordinal);

    /// <summary>Messages confirmed before <see cref="SendAsync"/> had noted them (a fast peer).</summary>
    private readonly ConcurrentDictionary<string, byte> _confirmed = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _progress = new(0);

    public TerminalChat(ChatNode node, Terminal terminal)
    {
        _node = node;
        _terminal = terminal;

        // Subscribed before anything connects, so no arrival is missed; the node ends the
        // subscription when it stops.
        _events = node.Events.Subscribe(CancellationToken.None);
    }

    /// <summary>
    /// What the terminal chat says when another node holds the data directory (its lock,
    /// <see cref="NodeHome.OpenForNode"/>): a second node of one identity on one store is refused.
    /// </summary>
    public static string BesideRunningNode(string directory, string verb) =>
        $"A node already runs for {directory} and holds its store: chat through it (`securechat send` and `securechat history` go through it; `securechat ui` opens the web UI of a `securechat run`), or stop it to use `securechat {verb}`.";

    /// <summary>Stops the local API first (it answers through the node, and removes api.json), then the node.</summary>
    public static async Task StopAsync(LocalApiHost? api, ChatNode node)
    {
        if (api is not null)
        {
            await api.DisposeAsync();
        }

        await node.DisposeAsync();
    }

    public ChatNode Node => _node;

    public Terminal Terminal => _terminal;

    /// <summary>Set once this side is closing: connections ending now are its own doing.</summary>
    public bool Stopping { get; set; }

    /// <summary>The contact of an account, or null when it is not known (any more).</summary>
    public Contact? Find(string account) =>
        AccountId.TryParse(account, out var id) ? _node.FindContact(id) : null;

    /// <summary>The contact's local name and the fingerprint of its key.</summary>
    public static string Label(Contact contact) => Terminal.Describe(contact.Name, contact.AccountId);

    /// <summary>
    /// Prints events until the node stops. <paramref name="handle"/> sees every event first and
    /// returns true when it has shown it itself; received messages, refusals and failed
    /// connections are printed here otherwise.
    /// </summary>
    public async Task PumpAsync(Func<NodeEvent, bool> handle)
    {
        await foreach (var nodeEvent in _events.ReadAllAsync())
        {
            switch (nodeEvent)
            {
                case ContactChanged { IsNew: true } changed:
                    _new[changed.Contact.Account] = 0;
                    break;
                case MessageStateChanged { State: MessageState.Delivered or MessageState.Read } state:
                    _confirmed[state.MessageId] = 0;
                    _undelivered.TryRemove(state.MessageId, out _);
                    break;
            }

            if (!handle(nodeEvent))
            {
                Print(nodeEvent);
            }

            Nudge();
        }
    }

    private void Print(NodeEvent nodeEvent)
    {
        switch (nodeEvent)
        {
            case MessageStored { Message: { Outgoing: false } message }:
                _terminal.Received(message.ReceivedAt ?? _node.Options.Time.GetLocalNow(), message.ContactName, message.Text);
                break;
            case DeliveryRefused refused when Find(refused.Refusal.ContactAccount) is { } contact:
                _terminal.Announce($"{Label(contact)} takes no more lines for now ({Terminal.Sanitize(refused.Refusal.Message)}); what you type waits in the outbox");
                break;
            case ConnectionProblem { ContactAccount: null } problem:
                _terminal.Announce($"refused a connection from {problem.Endpoint}: {Terminal.Sanitize(problem.Message)}");
                break;
            case ConnectionProblem problem when Find(problem.ContactAccount!) is { } contact:
                _terminal.Announce($"the connection with {Label(contact)} failed: {Terminal.Sanitize(problem.Message)}");
                break;
        }
    }

    /// <summary><c>* connected: NAME (FP) WHERE</c>, and a new contact's safety number to compare.</summary>
    public void AnnounceConnected(Contact contact, string where)
    {
        _terminal.Announce($"connected: {Label(contact)} {where}");
        if (_new.TryRemove(contact.Account, out _))
        {
            _terminal.Announce($"new contact, key pinned; safety number {SafetyNumber.Compute(_node.Identity.Account, contact.AccountId)} (compare it with theirs by another channel)");
        }
    }

    /// <summary>A stranger asks to be a contact: what it calls itself, and the safety number to compare.</summary>
    public void AnnounceRequest(Contact request, string where)
    {
        _new.TryRemove(request.Account, out _);
        _terminal.Announce($"contact request: {Label(request)} {where}, calls themself \"{Terminal.Sanitize(request.DisplayName)}\"; "
            + $"safety number {SafetyNumber.Compute(_node.Identity.Account, request.AccountId)}. Type /accept to talk with them, /decline to refuse");
    }

    /// <summary>How a peer's close reads after "disconnected: NAME (FP)".</summary>
    public static string Describe(PeerClose? close) => close switch
    {
        null => "the connection was lost",
        { Reason: CloseReason.Normal } when close.Text.Length == 0 || close.Text == ChatNode.HangUpText => "closed the chat",
        { Reason: CloseReason.Normal } => $"closed the chat ({Terminal.Sanitize(close.Text)})",
        { Reason: CloseReason.Shutdown } => $"stopped ({Terminal.Sanitize(close.Text)})",
        { Reason: CloseReason.PeerKeyRejected } =>
            $"refused this node ({Terminal.Sanitize(close.Text)}). It pinned another key for you: if you reinstalled SecureChat or moved to a new "
            + "device, give them your new ID (`securechat id`) by another channel so they can verify it.",
        _ => $"closed the channel ({close.Reason}{(close.Text.Length > 0 ? ": " + Terminal.Sanitize(close.Text) : string.Empty)})",
    };

    /// <summary>
    /// Queues a typed line for each recipient through the node's outbox; one that is not connected
    /// gets it when it is back. A line the outbox refuses (too long, not text) is not sent, with why.
    /// </summary>
    public async Task SendAsync(string line, IReadOnlyCollection<Contact> recipients)
    {
        foreach (var contact in recipients)
        {
            StoredMessage stored;
            try
            {
                stored = await _node.SendAsync(contact, line).ConfigureAwait(false);
            }
            catch (ArgumentException ex)
            {
                _terminal.Announce($"that line was not sent: {ex.Message}");
                return;
            }
            catch (StoreException ex)
            {
                _terminal.Announce($"not sent to {Label(contact)}: {ex.Message}");
                continue;
            }

            if (!_confirmed.ContainsKey(stored.MessageId))
            {
                _undelivered[stored.MessageId] = contact.Account;
            }

            if (!_node.IsOnline(contact))
            {
                _terminal.Announce($"{Label(contact)} is away: the line waits in the outbox and goes when they are back");
            }
        }
    }

    /// <summary>
    /// Waits until every line queued in this chat is confirmed by its peer, as long as
    /// <paramref name="mayArrive"/> says its peer can still take it, and at most
    /// <see cref="DeliveryGrace"/>. Says what is left in the outbox, per contact.
    /// </summary>
    public async Task DeliverPendingAsync(Func<string, bool> mayArrive)
    {
        using var grace = new CancellationTokenSource(DeliveryGrace, _node.Options.Time);
        while (_undelivered.Values.Any(mayArrive))
        {
            try
            {
                await _progress.WaitAsync(grace.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        foreach (var group in _undelivered.Values.GroupBy(a => a, StringComparer.Ordinal))
        {
            var who = Find(group.Key) is { } contact ? Label(contact) : group.Key;
            var count = group.Count();
            _terminal.Announce($"{count} {(count == 1 ? "line" : "lines")} to {who} {(count == 1 ? "is" : "are")} not delivered yet: "
                + "they wait in the outbox and go the next time this node and theirs meet (`securechat run`, `listen` or `connect`)");
        }
    }

    /// <summary>Wakes <see cref="DeliverPendingAsync"/> to look again (a peer came or went).</summary>
    public void Nudge()
    {
        // One pending wake is enough: the waiter looks at everything when it wakes.
        if (_progress.CurrentCount == 0)
        {
            _progress.Release();
        }
    }

    /// <summary>Typed lines, empty ones skipped; returns at the end of the input or on cancellation.</summary>
    public static async Task ReadTypedLinesAsync(ChannelReader<string> lines, Func<string, Task> take, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var line in lines.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                if (line.Length > 0)
                {
                    await take(line).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Ctrl+C or SIGTERM: stop reading and close like at the end of the input.
        }
    }
}
