using System.Net;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using SecureChat.Net;
using SecureChat.Node.Session;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Identity;
using SecureChat.Protocol.Messages;
using SecureChat.Storage;

namespace SecureChat.Node;

/// <summary>
/// Everything the node keeps for one contact: at most one active connection, and the dialing of
/// the contact's known endpoints (with backoff) while there is none. The conversation's Lamport
/// clock is the store's <see cref="Outbox"/>'s.
/// </summary>
/// <remarks>
/// <para>
/// The link is an actor: one loop task (<see cref="RunAsync"/>) owns every field that changes —
/// the current <see cref="LinkSession"/>, the hints, the claims tried, the dial and lookup timing,
/// the contact record — and it alone reads or writes them. Public methods only post a message into
/// one channel the loop reads; none takes a lock. <see cref="AttachAsync"/> waits for the loop's
/// answer on a <see cref="TaskCompletionSource"/>, and <see cref="StopAsync"/> for the loop to end.
/// </para>
/// <para>
/// Work that waits on the network runs as a child task whose outcome comes back as a message: a
/// dial, a confirming dial, a DHT lookup, the close of a connection not taken, the stop of a
/// replaced session. So the loop keeps taking kicks, hints, attaches and the stop while any of
/// them is under way, and never waits on them itself. Timers (the redial backoff, the next
/// lookup) are one <see cref="ITimer"/> from the node's <see cref="TimeProvider"/> that posts a
/// wake-up, so a fake clock drives them in tests.
/// </para>
/// <para>
/// Other threads read <see cref="Contact"/>, <see cref="IsOnline"/>, <see cref="OnlineEndpoint"/>
/// and <see cref="Label"/> from an immutable <see cref="LinkState"/> the loop publishes after each
/// message it handles (a volatile field written only by the loop). A kick or a typing notice is
/// also handed straight to the session of that snapshot (a <see cref="LinkSession"/> takes them
/// from any thread), so a message queued while the link is up reaches its connection without a
/// hop through the loop.
/// </para>
/// </remarks>
internal sealed partial class ContactLink : ILamportClock
{
    private readonly ChatNode _node;
    private readonly ILogger _logger;
    private readonly ILinkDialer _dialer;

    /// <summary>Every message to the loop, in order; only the loop reads.</summary>
    private readonly Channel<LinkMessage> _inbox = Channel.CreateUnbounded<LinkMessage>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>Cancelled by the stop (or the node's): ends the child tasks' dials and lookups.</summary>
    private readonly CancellationTokenSource _stop;
    private readonly Task _loop;

    /// <summary>What other threads may read; replaced (never changed) by the loop.</summary>
    private volatile LinkState _state;

    public ContactLink(ChatNode node, Contact contact, ILogger logger, CancellationToken nodeStopping)
    {
        _node = node;
        _logger = logger;
        _dialer = node.LinkDialer;
        Account = contact.AccountId;
        Conversation = NodeWire.Conversation(node.Identity.Account, Account);
        _stop = CancellationTokenSource.CreateLinkedTokenSource(nodeStopping);
        _contact = contact;
        _redialDelay = node.Options.MinRedialDelay;
        _state = new LinkState(contact, null, null, false);
        _loop = Task.Run(RunAsync, CancellationToken.None);
    }

    /// <summary>The contact's record as the loop last saw it (from the store, a hello or a pin).</summary>
    public Contact Contact => _state.Contact;

    public AccountId Account { get; }

    public byte[] Conversation { get; }

    public string Label => $"'{DisplayText.Sanitize(Contact.Name)}' ({Account.Fingerprint})";

    /// <summary>True while a connection to the contact has finished its hello.</summary>
    public bool IsOnline => _state.Session is { IsOnline: true };

    public string? OnlineEndpoint => _state.Session is { IsOnline: true } session ? session.RemoteEndpoint : null;

    /// <summary>The session the link holds now (running, or waiting for the one it replaced to end); for tests.</summary>
    internal LinkSession? Session => _state.Session;

    /// <summary>When the link dials next, while it waits to; null while connected, dialing, or with nothing to dial. For tests.</summary>
    internal DateTimeOffset? DialDueAt => _state.DialDueAt;

    /// <summary>True while a dial or a lookup of the contact is under way; for tests.</summary>
    internal bool Dialing => _state.Dialing;

    /// <summary>Starts dialing (a contact's link; a stranger's only answers). Later calls do nothing.</summary>
    public void StartDialing() => Post(new StartDialingMessage());

    /// <summary>Something waits to be sent: wake the connection, or the dialer without waiting out its backoff.</summary>
    public void Kick()
    {
        _state.Session?.Kick();
        Post(new KickMessage());
    }

    /// <summary>The contact may be at this address (a beacon or a lookup said so): dial it next, without waiting out the backoff.</summary>
    public void Hint(IPEndPoint endPoint) => Post(new HintMessage(endPoint));

    /// <summary>A lookup is worth making now (the DHT became ready, or this node published its record for the contact): look up at once, then <paramref name="quick"/> times more a moment apart.</summary>
    public void LocateSoon(int quick) => Post(new LocateSoonMessage(quick));

    /// <summary>
    /// The contact, connected inbound, claims to listen at <paramref name="endpoint"/> (the address
    /// it came from, the port its hello names). A claim is no proof: anyone behind the contact's
    /// NAT can name the contact's port. So the address is checked now, beside the running
    /// connection, and stored (<see cref="ContactBook.Pin"/>) only if the key there is this
    /// account's, on its pinned device. One claim is checked at a time; one that failed is not
    /// checked again for <see cref="ReconfirmAfter"/>.
    /// </summary>
    public void Confirm(PeerEndpoint endpoint) => Post(new ConfirmMessage(endpoint));

    public void SendTyping(bool active) => _state.Session?.SendTyping(active);

    /// <summary>The next Lamport value for something this node writes in the conversation (<see cref="Outbox.Tick"/>, which keeps the clock).</summary>
    public long Tick() => _node.Store.Outbox.Tick(Contact);

    /// <summary>
    /// Moves the clock past a value seen from the peer, when it is within bounds; otherwise
    /// returns the highest value it would have taken, for the refusal's sentence (<see cref="Outbox.TryWitness"/>).
    /// </summary>
    public bool TryWitness(ulong lamport, out ulong limit) => _node.Store.Outbox.TryWitness(Contact, lamport, out limit);

    /// <summary>
    /// Takes a connection that finished its handshake with this contact. With one already running,
    /// the newer replaces it when both were dialed the same way (the old one is presumably dead);
    /// when the two crossed (each side dialed), both sides keep the one dialed by the account whose
    /// key sorts first, so they keep the same one. Completes once the connection is taken (its
    /// session started, or waiting for the one it replaces to end) or closed.
    /// </summary>
    public Task AttachAsync(SecureConnection connection, Contact contact)
    {
        // Not cancelled by the stop: a connection that finished its handshake is either taken or
        // closed, never dropped on the floor (its peer would see it open with no one behind).
        var taken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return _inbox.Writer.TryWrite(new AttachMessage(connection, contact, taken))
            ? taken.Task
            : CloseQuietlyAsync(connection, "the node stopped");
    }

    /// <summary>A request on this link became a contact without a new connection (an invite token): it is dialed from now on like one.</summary>
    public void Promote(Contact contact) => Post(new PromoteMessage(contact));

    /// <summary>Called by a session once its hello is done.</summary>
    public void Online(LinkSession session) => Post(new OnlineMessage(session));

    /// <summary>Called by a session when it has ended.</summary>
    public void Ended(LinkSession session) => Post(new EndedMessage(session));

    /// <summary>
    /// Stops dialing and closes the connection, if any, with <paramref name="reason"/>; returns once
    /// every dial, lookup and close the link started has ended, and any connection handed to it
    /// meanwhile is closed.
    /// </summary>
    public async Task StopAsync(CloseReason reason, string text)
    {
        Post(new StopMessage(reason, text));
        await _loop.ConfigureAwait(false);
    }

    /// <summary>Posts to the loop; after the loop has ended the message has nothing left to act on.</summary>
    private void Post(LinkMessage message) => _inbox.Writer.TryWrite(message);

    private static async Task CloseQuietlyAsync(SecureConnection connection, string text)
    {
        try
        {
            await connection.CloseAsync(CloseReason.Normal, text, CancellationToken.None).ConfigureAwait(false);
        }
        catch (ChannelException)
        {
            // Already gone.
        }
        finally
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>What other threads see of the link: written whole by the loop.</summary>
    private sealed record LinkState(Contact Contact, LinkSession? Session, DateTimeOffset? DialDueAt, bool Dialing);

    /// <summary>A message to the loop.</summary>
    private abstract record LinkMessage;

    private sealed record StartDialingMessage : LinkMessage;

    private sealed record KickMessage : LinkMessage;

    private sealed record HintMessage(IPEndPoint EndPoint) : LinkMessage;

    private sealed record LocateSoonMessage(int Quick) : LinkMessage;

    private sealed record ConfirmMessage(PeerEndpoint Endpoint) : LinkMessage;

    private sealed record AttachMessage(SecureConnection Connection, Contact Contact, TaskCompletionSource Taken) : LinkMessage;

    private sealed record PromoteMessage(Contact Contact) : LinkMessage;

    private sealed record OnlineMessage(LinkSession Session) : LinkMessage;

    private sealed record EndedMessage(LinkSession Session) : LinkMessage;

    private sealed record StopMessage(CloseReason Reason, string Text) : LinkMessage;

    /// <summary>The timer: a dial or a lookup may be due.</summary>
    private sealed record WakeMessage : LinkMessage;

    /// <summary>What a child task ends with; each child posts exactly one.</summary>
    private abstract record ChildOutcome : LinkMessage;

    /// <summary>A dial's connection, already pinned; or none (nothing answered, or the store could not pin it). <c>Losers</c> ends once the attempts the connection beat are closed.</summary>
    private sealed record DialOutcome(SecureConnection? Connection, Contact? Pinned, Task? Losers = null) : ChildOutcome;

    private sealed record LocateOutcome(IReadOnlyList<IPEndPoint> Found) : ChildOutcome;

    /// <summary>The contact as pinned at a confirmed address; null when the claim did not hold.</summary>
    private sealed record ConfirmOutcome(Contact? Pinned) : ChildOutcome;

    /// <summary>The session a newer connection replaced has ended: the newer one may start.</summary>
    private sealed record ReplacedOutcome : ChildOutcome;

    /// <summary>A close (of a connection not taken, or of the session at the stop) is done.</summary>
    private sealed record ClosedOutcome : ChildOutcome;
}
