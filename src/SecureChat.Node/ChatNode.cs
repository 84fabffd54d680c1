using System.Collections.Concurrent;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Security.Cryptography;
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
    private readonly ConcurrentDictionary<string, string> _keyWarnings = new(StringComparer.Ordinal);

    /// <summary>The warning the person last dismissed, per contact: the same refusal again (a redial to the same impostor) does not raise it anew.</summary>
    private readonly ConcurrentDictionary<string, string> _dismissedWarnings = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>When each address last brought new contact requests (for the per-address rate).</summary>
    private readonly Dictionary<string, List<DateTimeOffset>> _strangers = new(StringComparer.Ordinal);
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

        if (options.DialContactsAtStart)
        {
            foreach (var contact in store.Contacts.All)
            {
                node.LinkOf(contact);
            }
        }

        return node;
    }

    /// <summary>
    /// Starts accepting peers on <paramref name="host"/>:<paramref name="port"/> (the paper's Start
    /// Server; port 0 picks a free one), or moves there from where the node listened before.
    /// Connections already up stay up. Returns where the node listens now.
    /// </summary>
    /// <exception cref="NetworkException">The address cannot be listened on (in use, not this machine's, privileged).</exception>
    public async Task<IPEndPoint> StartListeningAsync(string host, int port, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(host);
        await _listenGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            var previous = _listener?.LocalEndPoint;
            if (previous is null || port == 0 || previous.Port != port)
            {
                // Bound before the old listener goes: a port that cannot be taken changes nothing.
                var next = StartListener(host, port);
                await StopListeningCoreAsync(announce: false).ConfigureAwait(false);
                return Adopt(next);
            }

            // The same port on another (or the same) address: the old listener must let go of it first.
            await StopListeningCoreAsync(announce: true).ConfigureAwait(false);
            try
            {
                return Adopt(StartListener(host, port));
            }
            catch (NetworkException)
            {
                try
                {
                    Adopt(StartListener(previous.Address.ToString(), previous.Port));
                }
                catch (NetworkException ex)
                {
                    _logger.LogWarning("Could not listen again on {EndPoint}: {Reason}", previous, ex.Message);
                }

                throw;
            }
        }
        finally
        {
            _listenGate.Release();
        }
    }

    /// <summary>Stops accepting peers (the paper's Stop Server); connections already up stay up, and the node still dials its contacts.</summary>
    public async Task StopListeningAsync(CancellationToken cancellationToken)
    {
        await _listenGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await StopListeningCoreAsync().ConfigureAwait(false);
        }
        finally
        {
            _listenGate.Release();
        }
    }

    /// <summary>
    /// Why a peer at a contact's address was refused for presenting another key, until the person
    /// has seen it (<see cref="DismissKeyWarning"/>); null when nothing was refused.
    /// </summary>
    public string? KeyWarning(Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        return _keyWarnings.TryGetValue(contact.Account, out var warning) ? warning : null;
    }

    /// <summary>The person has read the key warning of a contact; returns false when there was none.</summary>
    public bool DismissKeyWarning(Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        var dismissed = _keyWarnings.TryRemove(contact.Account, out var warning);
        if (dismissed)
        {
            _dismissedWarnings[contact.Account] = warning!;
            Events.Publish(new ContactChanged(contact, false));
        }

        return dismissed;
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
    /// Queues a text for a contact and returns at once: the message is on disk when this returns
    /// and is delivered whenever the contact is reachable.
    /// </summary>
    /// <exception cref="ArgumentException">The text is empty, too long or not valid Unicode.</exception>
    public StoredMessage Send(Contact contact, string text)
    {
        ArgumentNullException.ThrowIfNull(contact);
        ArgumentNullException.ThrowIfNull(text);
        RequireContact(contact);
        LinkOf(contact);

        // The outbox checks the text, whoever queues it; its Queued event announces the message.
        return _outbox.Queue(contact, [text])[0];
    }

    /// <summary>
    /// Queues a text like <see cref="Send"/>, and shares the disk write with the sends made while
    /// the one before was being written (the outbox's group commit): many concurrent sends cost
    /// one sync, not one each. The task ends when the message is on disk.
    /// </summary>
    /// <exception cref="ArgumentException">The text is empty, too long or not valid Unicode (thrown at once).</exception>
    public Task<StoredMessage> SendAsync(Contact contact, string text)
    {
        ArgumentNullException.ThrowIfNull(contact);
        ArgumentNullException.ThrowIfNull(text);
        Outbox.CheckText(text, nameof(text));
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        RequireContact(contact);
        LinkOf(contact);
        return _outbox.QueueAsync(contact, text);
    }

    /// <summary>Texts are on disk in the outbox: announce them and wake the contact's connection.</summary>
    private void OnQueued(Contact contact, IReadOnlyList<StoredMessage> stored)
    {
        foreach (var message in stored)
        {
            Events.Publish(new MessageStored(message));
        }

        if (_links.TryGetValue(contact.Account, out var link))
        {
            link.Kick();
        }
    }

    /// <summary>Marks a conversation read: its received messages are seen, and a read receipt goes to the contact.</summary>
    public IReadOnlyList<string> MarkRead(Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        var seen = _outbox.MarkSeen(contact);
        if (seen.Count > 0)
        {
            foreach (var id in seen)
            {
                Events.Publish(new MessageStateChanged(contact.Account, id, MessageState.Seen));
            }

            LinkOf(contact).Kick();
        }

        return seen;
    }

    /// <summary>Tells a connected contact that this node's person is (or stopped) typing; nothing if it is offline.</summary>
    public void SetTyping(Contact contact, bool active)
    {
        ArgumentNullException.ThrowIfNull(contact);
        if (_links.TryGetValue(contact.Account, out var link))
        {
            link.SendTyping(active);
        }
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

    /// <summary>Strangers who connected and wait for an answer (<see cref="AcceptRequestAsync"/>, <see cref="DeclineRequestAsync"/>, <see cref="BlockAsync"/>).</summary>
    public IReadOnlyList<Contact> Requests => Store.Contacts.Requests;

    /// <summary>The accounts refused at the handshake.</summary>
    public IReadOnlyList<Contact> Blocked => Store.Contacts.Blocked;

    /// <summary>
    /// Makes a request a contact (named <paramref name="name"/> if given): the messages it sent are
    /// in the conversation, and the connection starts again as a contact's, so what the peer still
    /// holds for this node is sent.
    /// </summary>
    public async Task<Contact> AcceptRequestAsync(Contact request, string? name)
    {
        ArgumentNullException.ThrowIfNull(request);
        var contact = Store.Contacts.Accept(request, name);
        if (_links.TryRemove(contact.Account, out var link))
        {
            await link.StopAsync(CloseReason.Normal, ReconnectText).ConfigureAwait(false);
        }

        Events.Publish(new RequestRemoved(contact.Account, "accepted"));
        Events.Publish(new ContactChanged(contact, true));
        LinkOf(contact).Kick();
        _dht?.Kick();
        _lan?.Kick();
        return contact;
    }

    /// <summary>
    /// A one-time invite link for this node (docs/protocol.md 7.6): its ID and name, where it
    /// listens when <paramref name="withAddress"/>, and with <paramref name="oneTime"/> a fresh
    /// token that lets the link's holder in without a request, once, for
    /// <see cref="InviteTokens.Lifetime"/>. The node keeps only the token's keyed digest.
    /// </summary>
    public InviteLink CreateInvite(bool withAddress, bool oneTime)
    {
        var endpoints = withAddress
            ? AdvertisedEndPoints().Select(e => new PeerEndpoint(e.Address.ToString(), e.Port)).ToList()
            : [];
        var name = Identity.DisplayName;
        string? token = null;
        if (oneTime)
        {
            var bytes = Store.Invites.Issue();
            token = InviteLink.EncodeToken(bytes);
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(bytes);
        }

        return new InviteLink(Identity.Account, string.IsNullOrEmpty(name) ? null : name, endpoints, token);
    }

    /// <summary>
    /// A request's hello presented an invite token: when it is one this node issued, unused and
    /// unexpired, it is spent and the request becomes a contact on the connection it is on (no
    /// restart: the connection is already the right one). Returns the contact, or null (still a
    /// request) for any other token.
    /// </summary>
    internal Contact? RedeemInvite(Contact request, ReadOnlySpan<byte> token)
    {
        if (request.Standing != ContactStanding.Request || Store.Contacts.Find(request.AccountId) is not { Standing: ContactStanding.Request } current)
        {
            return null;
        }

        if (!Store.Invites.TryRedeem(token))
        {
            _logger.LogDebug("The hello of {Account} carried an invite token that is unknown, used or expired: it stays a contact request", request.AccountId.Fingerprint);
            return null;
        }

        var contact = Store.Contacts.Accept(current, null);
        if (_links.TryGetValue(contact.Account, out var link))
        {
            // A request's link only answered; a contact's also dials when the connection ends.
            link.StartDialing();
        }

        _logger.LogInformation("{Account} used a one-time invite link: it is a contact", contact.AccountId.Fingerprint);
        Events.Publish(new RequestRemoved(contact.Account, "accepted"));
        Events.Publish(new ContactChanged(contact, true));
        _dht?.Kick();
        _lan?.Kick();
        return contact;
    }

    /// <summary>The contact's node has had this node's invite token in a completed hello: it is not kept any longer.</summary>
    internal Contact InviteDelivered(Contact contact) => Store.Contacts.ClearInviteToken(contact);

    /// <summary>Forgets a request and what it sent; if the account connects again it is a new request.</summary>
    public async Task DeclineRequestAsync(Contact request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (Store.Contacts.Find(request.AccountId) is not { Standing: ContactStanding.Request } current)
        {
            throw new StoreException(StoreError.NoSuchContact, $"No contact request comes from {request.Account}.");
        }

        await CloseLinkAsync(current.Account, "declined").ConfigureAwait(false);
        Store.Contacts.Remove(current);
        Events.Publish(new RequestRemoved(current.Account, "declined"));
    }

    /// <summary>
    /// Blocks an account (a request, a contact, or one never met): its conversation is deleted,
    /// its connection closed, and its handshakes refused from now on, before anything is stored.
    /// </summary>
    public async Task<Contact> BlockAsync(AccountId account)
    {
        ArgumentNullException.ThrowIfNull(account);
        var before = Store.Contacts.Find(account);
        await CloseLinkAsync(account.Text, "blocked").ConfigureAwait(false);
        _keyWarnings.TryRemove(account.Text, out _);
        _dismissedWarnings.TryRemove(account.Text, out _);
        var blocked = Store.Contacts.Block(account, Options.Time.GetUtcNow());
        switch (before?.Standing)
        {
            case ContactStanding.Request:
                Events.Publish(new RequestRemoved(account.Text, "blocked"));
                break;
            case ContactStanding.Contact:
                Events.Publish(new ContactRemoved(account.Text));
                break;
        }

        return blocked;
    }

    /// <summary>Lifts a block; the account is forgotten.</summary>
    public void Unblock(AccountId account) => Store.Contacts.Unblock(account);

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

    /// <summary>
    /// Dials a <c>HOST:PORT</c> once (the paper's Connect) and returns the contact met there, pinned
    /// on first use. The connection then stays up like any other.
    /// </summary>
    public async Task<Contact> ConnectAsync(PeerEndpoint endpoint, AccountId? expected, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var known = expected is not null ? Store.Contacts.Find(expected) : Store.Contacts.FindByEndpoint(endpoint.ToString());
        var knownKey = known?.DecodeCertificate()?.DeviceAgreementKey.ToArray() ?? [];
        var connection = await ChannelDialer.ConnectAsync(
            endpoint, Identity, knownKey, PeerTrust.ForDial(Store.Contacts, endpoint, expected), Options.Channel, cancellationToken).ConfigureAwait(false);
        var contact = PinPeer(connection, endpoint.ToString());
        if (contact.Standing == ContactStanding.Request)
        {
            // Dialing someone is choosing to talk to them: a waiting request from them is answered.
            contact = Store.Contacts.Accept(contact, null);
            Events.Publish(new RequestRemoved(contact.Account, "accepted"));
            Events.Publish(new ContactChanged(contact, true));
        }

        if (expected is not null)
        {
            // The person named this account for this address: the key it presented is the one they meant.
            DismissKeyWarning(contact);
        }

        await AttachFirstAsync(contact, connection).ConfigureAwait(false);
        return contact;
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

    /// <summary>
    /// Pins the peer of a connection (refreshing a known contact or request), announcing a new one.
    /// A peer never met is a contact when this node dialed it (<paramref name="endpoint"/> given)
    /// and a request when it connected on its own.
    /// </summary>
    internal Contact PinPeer(SecureConnection connection, string? endpoint)
    {
        var isNew = Store.Contacts.Find(connection.PeerAccount) is null;
        var standing = endpoint is null && !Options.OpenDoor ? ContactStanding.Request : ContactStanding.Contact;
        var contact = Store.Contacts.Pin(connection.Peer.Certificate, connection.Peer.DisplayName, endpoint, Options.Time.GetUtcNow(), standing);
        if (isNew)
        {
            Events.Publish(contact.Standing == ContactStanding.Request ? new RequestChanged(contact, true) : new ContactChanged(contact, true));
        }

        return contact;
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

    /// <summary>
    /// Whether a stranger connecting from <paramref name="remote"/> may become a request now: the
    /// requests waiting are capped in total, and new ones per address per hour.
    /// </summary>
    private string? RefuseStranger(System.Net.EndPoint remote)
    {
        if (Store.Contacts.Requests.Count >= Options.MaxRequests)
        {
            return $"{Options.MaxRequests} contact requests are already waiting: answer some of them to take more";
        }

        var address = (remote as IPEndPoint)?.Address.ToString() ?? remote.ToString() ?? "?";
        var now = Options.Time.GetUtcNow();
        lock (_strangers)
        {
            var recent = _strangers.GetValueOrDefault(address) ?? [];
            recent.RemoveAll(t => now - t > TimeSpan.FromHours(1));
            if (recent.Count >= Options.RequestsPerAddressPerHour)
            {
                return $"{recent.Count} contact requests came from {address} within the hour";
            }

            recent.Add(now);
            _strangers[address] = recent;
            if (_strangers.Count > 4096)
            {
                // Bounded memory: addresses whose hour is over go first.
                foreach (var stale in _strangers.Where(p => p.Value.TrueForAll(t => now - t > TimeSpan.FromHours(1))).Select(p => p.Key).ToList())
                {
                    _strangers.Remove(stale);
                }
            }

            return null;
        }
    }

    /// <summary>A peer at a contact's address presented another key and was refused: kept until the person dismisses it.</summary>
    internal void ReportKeyChange(string contactAccount, string endpoint, string message)
    {
        if (_dismissedWarnings.TryGetValue(contactAccount, out var seen) && seen == message)
        {
            // The same key at the same address, already acknowledged: refused again, not warned again.
            return;
        }

        _keyWarnings[contactAccount] = message;
        Events.Publish(new ConnectionProblem(contactAccount, endpoint, message, KeyChanged: true));
    }

    /// <summary>True when the node can look contacts up (it runs a DHT node).</summary>
    internal bool CanLocate => _dht is not null;

    /// <summary>Where a contact says it can be reached, from the DHT; empty when it is not found (or there is no DHT).</summary>
    internal async Task<IReadOnlyList<IPEndPoint>> LocateAsync(AccountId contact, CancellationToken cancellationToken)
    {
        if (_dht is null)
        {
            return [];
        }

        try
        {
            return await _dht.LocateAsync(contact, cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            return [];
        }
    }

    /// <summary>A contact may be reachable at an address (a LAN beacon saw it): dial it now unless already connected.</summary>
    internal void Hint(AccountId contact, IPEndPoint endPoint, string source)
    {
        if (Volatile.Read(ref _disposed) != 0 || !_links.TryGetValue(contact.Text, out var link) || link.IsOnline)
        {
            return;
        }

        _logger.LogDebug("{Source} says {Contact} is at {EndPoint}", source, contact.Fingerprint, endPoint);
        link.Hint(endPoint);
    }

    /// <summary>Where contacts can reach this node, as it tells them over the DHT (see <see cref="OwnEndpoints"/>); empty while it does not listen.</summary>
    public IReadOnlyList<IPEndPoint> AdvertisedEndPoints() => OwnEndpoints(_dht?.ObservedAddress);

    /// <summary>
    /// The endpoints this node tells contacts about: its listen address when it is a specific one;
    /// when it listens on every address, each interface's (loopback excepted) and the address DHT
    /// nodes see it at, all with the listen port.
    /// </summary>
    internal List<IPEndPoint> OwnEndpoints(IPEndPoint? observed)
    {
        if (ListenEndPoint is not { } listening)
        {
            return [];
        }

        if (!listening.Address.Equals(IPAddress.Any) && !listening.Address.Equals(IPAddress.IPv6Any))
        {
            return [listening];
        }

        var endpoints = new List<IPEndPoint>();
        if (observed is not null)
        {
            endpoints.Add(new IPEndPoint(observed.Address, listening.Port));
        }

        try
        {
            endpoints.AddRange(NetworkInterface.GetAllNetworkInterfaces()
                .Where(i => i.OperationalStatus == OperationalStatus.Up && i.NetworkInterfaceType != NetworkInterfaceType.Loopback)
                .SelectMany(i => i.GetIPProperties().UnicastAddresses)
                .Where(a => a.Address.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a.Address))
                .Select(a => new IPEndPoint(a.Address, listening.Port)));
        }
        catch (NetworkInformationException ex)
        {
            _logger.LogDebug("Could not list network interfaces: {Reason}", ex.Message);
        }

        return [.. endpoints.Distinct().Take(Protocol.Discovery.EndpointList.MaxEndpoints)];
    }

    internal SessionRecord? LoadSession(Contact contact)
    {
        var bytes = Store.Sessions.Load(contact);
        if (bytes is null)
        {
            return null;
        }

        try
        {
            var record = SessionRecord.TryDecode(bytes, RatchetOptions);
            if (record is null)
            {
                _logger.LogWarning("The saved ratchet session with {Account} could not be read; a new one will start", contact.Account);
            }

            return record;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    internal void SaveSession(Contact contact, SessionRecord session)
    {
        var bytes = session.Encode();
        try
        {
            Store.Sessions.Save(contact, bytes);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    internal void ForgetSession(Contact contact) => Store.Sessions.Delete(contact);

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

    /// <summary>
    /// Gives a connection to its contact's link. A link made for it starts dialing only after, so
    /// it does not dial a second connection to the peer it has just met.
    /// </summary>
    private async Task AttachFirstAsync(Contact contact, SecureConnection connection)
    {
        var link = LinkOf(contact, out var created);
        try
        {
            await link.AttachAsync(connection, contact).ConfigureAwait(false);
        }
        finally
        {
            // A stranger's link only answers: this node dials contacts, not requests.
            if (created && contact.Standing == ContactStanding.Contact)
            {
                link.StartDialing();
            }
        }
    }

    private IPEndPoint Listen(string host, int port) => Adopt(StartListener(host, port));

    private ChannelListener StartListener(string host, int port) =>
        ChannelListener.Start(host, port, Identity, PeerTrust.ForInbound(Store.Contacts), Options.Channel, _logger);

    private IPEndPoint Adopt(ChannelListener listener)
    {
        _listener = listener;
        _accepting = AcceptAllAsync(listener, _stopping.Token);
        _logger.LogInformation("Listening for peers on {EndPoint}", listener.LocalEndPoint);
        Events.Publish(new ListeningChanged(listener.LocalEndPoint));
        _dht?.Kick();
        return listener.LocalEndPoint;
    }

    private async Task StopListeningCoreAsync(bool announce = true)
    {
        if (_listener is not { } listener)
        {
            return;
        }

        _listener = null;

        // Peers whose handshake finished are taken as any other before the listener goes.
        await listener.StopAcceptingAsync().ConfigureAwait(false);
        await _accepting.ConfigureAwait(false);
        await listener.DisposeAsync().ConfigureAwait(false);
        _logger.LogInformation("Stopped listening on {EndPoint}", listener.LocalEndPoint);
        if (announce)
        {
            Events.Publish(new ListeningChanged(null));
        }
    }

    private async Task AcceptAllAsync(ChannelListener listener, CancellationToken cancellationToken)
    {
        while (true)
        {
            InboundConnection inbound;
            try
            {
                inbound = await listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or System.Threading.Channels.ChannelClosedException)
            {
                return;
            }

            if (inbound.Connection is not { } connection)
            {
                _logger.LogInformation("Refused a connection from {Remote}: {Reason}", inbound.Remote, inbound.Failure?.Message ?? "the handshake was interrupted");
                if (inbound.Failure is ChannelException { Error: ChannelError.PeerRefused })
                {
                    // A blocked account: refused without a word to the person, as they asked.
                    continue;
                }

                var keyChanged = inbound.Failure is ChannelException { Error: ChannelError.PeerKeyMismatch };
                Events.Publish(new ConnectionProblem(null, inbound.Remote.ToString() ?? "?", inbound.Failure?.Message ?? "the handshake was interrupted", keyChanged));
                continue;
            }

            try
            {
                if (Store.Contacts.Find(connection.PeerAccount) is null && !Options.OpenDoor && RefuseStranger(inbound.Remote) is { } refusal)
                {
                    _logger.LogInformation("Refused a contact request from {Remote} ({Account}): {Reason}", inbound.Remote, connection.PeerAccount.Fingerprint, refusal);
                    await connection.CloseAsync(CloseReason.Normal, "this node takes no more contact requests now; try later", CancellationToken.None).ConfigureAwait(false);
                    await connection.DisposeAsync().ConfigureAwait(false);
                    continue;
                }

                var contact = PinPeer(connection, null);
                await AttachFirstAsync(contact, connection).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is StoreException or ObjectDisposedException or OperationCanceledException)
            {
                _logger.LogWarning("Could not take a connection from {Remote}: {Reason}", inbound.Remote, ex.Message);
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
