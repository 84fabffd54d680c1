using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging;
using SecureChat.Net;
using SecureChat.Node.Discovery;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Identity;
using SecureChat.Protocol.Messages;
using SecureChat.Protocol.Ratchet;
using SecureChat.Storage;

namespace SecureChat.Node;

/// <summary>
/// A running SecureChat node, the one facade hosts use: it accepts peers, keeps a connection to
/// every reachable contact, delivers the outbox exactly once and in order, and reports what happens
/// through <see cref="Events"/>. It owns neither the identity nor the store it is given.
/// </summary>
public sealed partial class ChatNode : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, ContactLink> _links = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();

    private readonly ILogger _logger;
    private readonly SemaphoreSlim _listenGate = new(1, 1);
    private ChannelListener? _listener;
    private DhtRendezvous? _dht;
    private LanBeacons? _lan;
    private Task _accepting = Task.CompletedTask;
    private readonly Outbox _outbox;
    private int _disposed;

    private ChatNode(LocalIdentity identity, LocalStore store, NodeOptions options, ILogger logger)
    {
        Identity = identity;
        Store = store;
        Options = options;
        _logger = logger;
        DeviceId = NodeWire.DeviceId(identity.Certificate);
        Quota = new ReceiveQuota(
            options.QuotaWindow,
            peer => peer.Standing == ContactStanding.Request ? options.RequestQuota : options.ContactQuota,
            store.Messages.ReceivedSince);
        _outbox = store.Outbox;
        _outbox.Queued += OnQueued;
    }

    public LocalIdentity Identity { get; }

    /// <summary>The store, for the node's own parts and its tests; hosts go through the methods of <see cref="ChatNode"/>.</summary>
    internal LocalStore Store { get; }

    public NodeOptions Options { get; }

    public EventHub Events { get; } = new();

    /// <summary>What each contact has had stored in the quota window, and its limit.</summary>
    public ReceiveQuota Quota { get; }

    /// <summary>Contacts that refused this node's texts for now (their quota), and until when.</summary>
    public DeliveryRefusals Refusals { get; } = new();

    /// <summary>Where the node accepts peers; null when it does not listen.</summary>
    public IPEndPoint? ListenEndPoint => _listener?.LocalEndPoint;

    /// <summary>The listener's admission counts (handshakes pending, connections open, refused, cut); null when it does not listen.</summary>
    public AdmissionCounters? Inbound => _listener?.Admission;

    /// <summary>The DHT node's UDP endpoint; null without the DHT.</summary>
    public IPEndPoint? DhtEndPoint => _dht?.Host.LocalEndPoint;

    /// <summary>True once the DHT node has joined the network.</summary>
    public bool DhtJoined => _dht?.Joined ?? false;

    /// <summary>The DHT node's state for status displays; null without the DHT.</summary>
    public DhtStatus? Dht => _dht?.Status;

    /// <summary>True while LAN beacons go out and are listened for.</summary>
    public bool LanDiscovery => _lan is not null;

    internal byte[] DeviceId { get; }

    internal RatchetOptions RatchetOptions { get; } = RatchetOptions.Default;

    /// <summary>Starts listening (when <see cref="NodeOptions.ListenHost"/> is set) and dialing every contact with a known endpoint.</summary>
    public static ChatNode Start(LocalIdentity identity, LocalStore store, NodeOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        var node = new ChatNode(identity, store, options, logger);
        if (options.ListenHost is { } host)
        {
            node.Listen(host, options.ListenPort);
        }

        if (options.Discovery is { } discovery)
        {
            node._dht = discovery.Dht ? DhtRendezvous.Start(node, discovery, logger) : null;
            node._lan = discovery.Lan ? LanBeacons.TryStart(node, discovery, logger) : null;
        }

        node.StartPortMapping(options.PortMapping);

        if (options.DialContactsAtStart)
        {
            foreach (var contact in store.Contacts.All)
            {
                node.LinkOf(contact);
            }
        }

        return node;
    }

    /// <summary>True while a connection to the contact is up.</summary>
    public bool IsOnline(Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        return _links.TryGetValue(contact.Account, out var link) && link.IsOnline;
    }

    /// <summary>The address a connected contact is reached at, or null.</summary>
    public string? OnlineEndpoint(Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        return _links.TryGetValue(contact.Account, out var link) ? link.OnlineEndpoint : null;
    }

    /// <summary>
    /// Adds a contact by ID like <see cref="AddContact"/>; someone who waits as a request is
    /// accepted instead (with the name given), since adding them is answering them.
    /// </summary>
    public async Task<Contact> AddOrAcceptAsync(AccountId account, string? name, string? endpoint, string? inviteToken = null)
    {
        ArgumentNullException.ThrowIfNull(account);
        return Store.Contacts.Find(account) is { Standing: ContactStanding.Request } request
            ? await AcceptRequestAsync(request, name).ConfigureAwait(false)
            : AddContact(account, name, endpoint, inviteToken);
    }

    /// <summary>
    /// Adds a contact by ID, and starts dialing it if an endpoint is given. <paramref name="inviteToken"/>
    /// is the one-time token of the link it was added by: presented in the hello, it makes this
    /// node a contact at the other end at once instead of a request (docs/protocol.md 7.6).
    /// </summary>
    public Contact AddContact(AccountId account, string? name, string? endpoint, string? inviteToken = null)
    {
        var contact = Store.Contacts.Add(account, name, endpoint, Options.Time.GetUtcNow(), inviteToken);
        Events.Publish(new ContactChanged(contact, true));
        LinkOf(contact).Kick();
        _dht?.Kick();
        _lan?.Kick();
        return contact;
    }

    /// <summary>Removes a contact and its conversation; its connection closes.</summary>
    public async Task<long> RemoveContactAsync(Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        if (_links.TryRemove(contact.Account, out var link))
        {
            await link.StopAsync(CloseReason.Normal, "removed as a contact").ConfigureAwait(false);
        }

        _keyWarnings.TryRemove(contact.Account, out _);
        _dismissedWarnings.TryRemove(contact.Account, out _);
        Quota.Forget(contact);
        Refusals.Forget(contact.Account);
        var removed = Store.Contacts.Remove(contact);
        Events.Publish(new ContactRemoved(contact.Account));
        return removed;
    }

    /// <summary>
    /// Closes the connection to a contact because its person ended the chat (the terminal's
    /// <c>connect</c> at the end of its input); the node stops dialing it until something is next
    /// sent to it. What waits in the outbox stays there.
    /// </summary>
    public Task HangUpAsync(Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        return CloseLinkAsync(contact.Account, HangUpText);
    }

    /// <summary>The contact, request or blocked account of that ID; null when the node does not know it.</summary>
    public Contact? FindContact(AccountId account)
    {
        ArgumentNullException.ThrowIfNull(account);
        return Store.Contacts.Find(account);
    }

    /// <summary>The sentence a peer reads when this node's person ends the chat (<see cref="HangUpAsync"/>).</summary>
    public const string HangUpText = "the chat ended";

    /// <summary>
    /// The sentence of the close that restarts a connection after a request was accepted: the
    /// peer's node dials again at once and carries on as a contact (<see cref="AcceptRequestAsync"/>).
    /// </summary>
    public const string ReconnectText = "accepted as a contact; reconnect";

    private async Task CloseLinkAsync(string account, string why)
    {
        if (_links.TryRemove(account, out var link))
        {
            await link.StopAsync(CloseReason.Normal, why).ConfigureAwait(false);
        }
    }

    private static void RequireContact(Contact contact)
    {
        if (contact.Standing != ContactStanding.Contact)
        {
            throw new StoreException(StoreError.NoSuchContact, contact.Standing == ContactStanding.Request
                ? $"{contact.Account} is a contact request, not a contact: accept it first."
                : $"{contact.Account} is blocked.");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Sends already accepted are written before anything stops: they wait in the outbox.
        await _outbox.WhenWritten().ConfigureAwait(false);
        _outbox.Queued -= OnQueued;
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _listenGate.WaitAsync().ConfigureAwait(false);
        await StopPortMappingAsync().ConfigureAwait(false);
        if (_lan is not null)
        {
            await _lan.DisposeAsync().ConfigureAwait(false);
        }

        if (_dht is not null)
        {
            await _dht.DisposeAsync().ConfigureAwait(false);
        }

        await StopListeningCoreAsync().ConfigureAwait(false);
        await Task.WhenAll(_links.Values.Select(link => link.StopAsync(CloseReason.Shutdown, "the node stopped"))).ConfigureAwait(false);
        Events.Complete();
        _stopping.Dispose();
        _listenGate.Release();
    }

    /// <summary>Announces messages stored from a peer: a request's also update the request.</summary>
    internal void AnnounceReceived(Contact from, IReadOnlyList<StoredMessage> added)
    {
        foreach (var message in added)
        {
            Events.Publish(new MessageStored(message));
        }

        if (added.Count > 0 && Store.Contacts.Find(from.AccountId) is { Standing: ContactStanding.Request } request)
        {
            Events.Publish(new RequestChanged(request, false));
        }
    }

    /// <summary>The link kept for an account, if any; for tests.</summary>
    internal ContactLink? FindLink(AccountId account) => _links.TryGetValue(account.Text, out var link) ? link : null;

    private ContactLink LinkOf(Contact contact)
    {
        var link = LinkOf(contact, out var created);
        if (created)
        {
            link.StartDialing();
        }

        return link;
    }

    private ContactLink LinkOf(Contact contact, out bool created)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var added = false;
        var link = _links.GetOrAdd(contact.Account, _ =>
        {
            added = true;
            return new ContactLink(this, contact, _logger, _stopping.Token);
        });
        created = added;
        return link;
    }
}
