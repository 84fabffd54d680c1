using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using SecureChat.Net;
using SecureChat.Node.Session;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Identity;
using SecureChat.Protocol.Messages;
using SecureChat.Storage;

namespace SecureChat.Node;

/// <summary>
/// Everything the node keeps for one contact: at most one active connection, the loop that dials
/// the contact's known endpoints (with backoff) while there is none. The conversation's Lamport
/// clock is the store's <see cref="Outbox"/>'s.
/// </summary>
internal sealed class ContactLink : ILamportClock
{
    private readonly ChatNode _node;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _attach = new(1, 1);
    private readonly WakeSignal _wake = new();
    private readonly CancellationTokenSource _stop;
    private readonly Lock _lock = new();
    private LinkSession? _current;
    private Task _dialing = Task.CompletedTask;
    private int _dialStarted;
    /// <summary>
    /// The longest wait between two lookups of an unreachable contact. A contact that comes online
    /// looks this node up at once, so the long wait costs little time, and a node with many offline
    /// contacts does not keep the DHT busy (1,000 of them: about one lookup a second).
    /// </summary>
    private static readonly TimeSpan MaxLocateDelay = TimeSpan.FromMinutes(15);

    /// <summary>A message queued for an unreachable contact brings its next lookup forward to this long after the last one.</summary>
    private static readonly TimeSpan MinLocateAfterKick = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a claimed address that did not lead to the contact is not tried again: a peer that
    /// reconnects over and over cannot make this node dial the same place each time.
    /// </summary>
    private static readonly TimeSpan ReconfirmAfter = TimeSpan.FromMinutes(10);

    private readonly List<IPEndPoint> _hints = [];
    private readonly Dictionary<PeerEndpoint, DateTimeOffset> _claimsTried = [];
    private Task _confirming = Task.CompletedTask;
    private bool _urgent;
    private DateTimeOffset _nextLocate = DateTimeOffset.MinValue;
    private DateTimeOffset _lastLocate = DateTimeOffset.MinValue;
    private TimeSpan _locateDelay = TimeSpan.Zero;

    public ContactLink(ChatNode node, Contact contact, ILogger logger, CancellationToken nodeStopping)
    {
        _node = node;
        _logger = logger;
        Contact = contact;
        Account = contact.AccountId;
        Conversation = NodeWire.Conversation(node.Identity.Account, Account);
        _stop = CancellationTokenSource.CreateLinkedTokenSource(nodeStopping);
    }

    public Contact Contact { get; private set; }

    public AccountId Account { get; }

    public byte[] Conversation { get; }

    public string Label => $"'{DisplayText.Sanitize(Contact.Name)}' ({Account.Fingerprint})";

    /// <summary>True while a connection to the contact has finished its hello.</summary>
    public bool IsOnline
    {
        get
        {
            lock (_lock)
            {
                return _current is { IsOnline: true };
            }
        }
    }

    public string? OnlineEndpoint
    {
        get
        {
            lock (_lock)
            {
                return _current is { IsOnline: true } current ? current.RemoteEndpoint : null;
            }
        }
    }

    /// <summary>Starts the dial loop, once.</summary>
    public void StartDialing()
    {
        if (Interlocked.Exchange(ref _dialStarted, 1) == 0)
        {
            _dialing = DialLoopAsync(_stop.Token);
        }
    }

    /// <summary>Something waits to be sent: wake the connection, or the dialer without waiting out its backoff.</summary>
    public void Kick()
    {
        LinkSession? current;
        lock (_lock)
        {
            current = _current;
            _urgent = true;

            // Something to send: look the contact up again soon, however far the lookups had backed off.
            var soon = _lastLocate + MinLocateAfterKick;
            if (_nextLocate > soon)
            {
                _nextLocate = soon;
            }
        }

        current?.Kick();
        Wake();
    }

    /// <summary>The contact may be at this address (a beacon or a lookup said so): dial it next, without waiting out the backoff.</summary>
    public void Hint(IPEndPoint endPoint)
    {
        lock (_lock)
        {
            if (!_hints.Contains(endPoint))
            {
                _hints.Insert(0, endPoint);
                if (_hints.Count > 8)
                {
                    _hints.RemoveAt(_hints.Count - 1);
                }
            }

            _urgent = true;
        }

        Wake();
    }

    /// <summary>
    /// The contact, connected inbound, claims to listen at <paramref name="endpoint"/> (the address
    /// it came from, the port its hello names). A claim is no proof: anyone behind the contact's
    /// NAT can name the contact's port. So the address is checked now, beside the running
    /// connection, and stored (<see cref="ContactBook.Pin"/>) only if the key there is this
    /// account's, on its pinned device. One claim is checked at a time; one that failed is not
    /// checked again for <see cref="ReconfirmAfter"/>.
    /// </summary>
    public void Confirm(PeerEndpoint endpoint)
    {
        if (Contact.Endpoints.Contains(endpoint.ToString(), StringComparer.OrdinalIgnoreCase))
        {
            return;
        }

        var now = _node.Options.Time.GetUtcNow();
        lock (_lock)
        {
            if (!_confirming.IsCompleted || _stop.IsCancellationRequested
                || (_claimsTried.TryGetValue(endpoint, out var tried) && now - tried < ReconfirmAfter))
            {
                return;
            }

            if (_claimsTried.Count >= 16)
            {
                _claimsTried.Clear();
            }

            _claimsTried[endpoint] = now;
            _confirming = ConfirmAsync(endpoint, _stop.Token);
        }
    }

    /// <summary>
    /// The check: an XX handshake to the address, abandoned after its second message. That message
    /// carries the responder's device certificate under a key only the holder of the certified
    /// device key can compute, so it proves who listens there; leaving before the third means
    /// this node's identity is never sent, and the contact's node never takes the half-made
    /// connection for a new one (no running connection is replaced; it notes an interrupted
    /// handshake). The verdict is the one for a discovered address (<see cref="PeerTrust.ForDiscovered"/>).
    /// </summary>
    private async Task ConfirmAsync(PeerEndpoint endpoint, CancellationToken cancellationToken)
    {
        await Task.Yield();
        var judge = PeerTrust.ForDiscovered(_node.Store.Contacts, endpoint, Account);
        HandshakePayload? answered = null;
        PeerRejection? verdict = null;
        try
        {
            var connection = await ChannelDialer.ConnectAsync(
                endpoint,
                _node.Identity,
                ReadOnlyMemory<byte>.Empty,
                payload =>
                {
                    answered = payload;
                    verdict = judge(payload);
                    return new PeerRejection(ChannelError.PeerKeyMismatch, "the address was checked", "this node only checked who listens here");
                },
                _node.Options.Channel,
                cancellationToken).ConfigureAwait(false);
            await connection.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ChannelException or NetworkException && answered is null)
        {
            _logger.LogInformation("{Contact} said it listens at {Endpoint}, but nothing there answered as it: the address is not kept ({Reason})", Label, endpoint, ex.Message);
            return;
        }
        catch (ChannelException)
        {
            // The check's own refusal after the second message: the answer is in hand.
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return;
        }

        if (answered is null || verdict is not null)
        {
            _logger.LogInformation("{Contact} said it listens at {Endpoint}, but a dial there did not reach its key: the address is not kept", Label, endpoint);
            return;
        }

        try
        {
            Contact = _node.Store.Contacts.Pin(answered.Certificate, answered.DisplayName, endpoint.ToString(), _node.Options.Time.GetUtcNow());
            _logger.LogInformation("{Contact} is reachable at {Endpoint}, as its hello said: the address is kept", Label, endpoint);
        }
        catch (StoreException ex)
        {
            _logger.LogWarning("Could not record where {Contact} listens: {Reason}", Label, ex.Message);
        }
    }

    public void SendTyping(bool active)
    {
        lock (_lock)
        {
            _current?.SendTyping(active);
        }
    }

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
    /// key sorts first, so they keep the same one.
    /// </summary>
    public async Task AttachAsync(SecureConnection connection, Contact contact)
    {
        // Not cancelled by the stop: a connection that finished its handshake is either taken or
        // closed here, never dropped on the floor (its peer would see it open with no one behind).
        await _attach.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (_stop.IsCancellationRequested)
            {
                await CloseQuietlyAsync(connection, "the node stopped").ConfigureAwait(false);
                return;
            }

            Contact = contact;
            LinkSession? old;
            lock (_lock)
            {
                old = _current is { Completion.IsCompleted: false } running ? running : null;
            }

            if (old is not null && old.Connection.IsInitiator != connection.IsInitiator && !PrefersNew(connection))
            {
                _logger.LogDebug("Dropping a crossing connection with {Contact}", Label);
                await CloseQuietlyAsync(connection, "a connection already exists").ConfigureAwait(false);
                return;
            }

            if (old is not null)
            {
                await old.StopAsync(CloseReason.Normal, "replaced by a newer connection").ConfigureAwait(false);
            }

            var session = new LinkSession(_node, this, connection, contact, _logger);
            lock (_lock)
            {
                _current = session;
            }

            session.Start();
        }
        finally
        {
            _attach.Release();
        }
    }

    /// <summary>A request on this link became a contact without a new connection (an invite token): it is dialed from now on like one.</summary>
    public void Promote(Contact contact)
    {
        Contact = contact;
        StartDialing();
    }

    /// <summary>Called by a session once its hello is done.</summary>
    public void Online(LinkSession session)
    {
        lock (_lock)
        {
            _locateDelay = TimeSpan.Zero;
            _nextLocate = DateTimeOffset.MinValue;
        }

        _logger.LogInformation("Connected to {Contact} at {Endpoint}", Label, session.RemoteEndpoint);
        _node.Events.Publish(new PresenceChanged(Contact.Account, true, session.RemoteEndpoint));
    }

    /// <summary>Called by a session when it has ended.</summary>
    public void Ended(LinkSession session)
    {
        lock (_lock)
        {
            if (_current != session)
            {
                return;
            }

            _current = null;
        }

        if (session.IsOnline)
        {
            _node.Events.Publish(new PresenceChanged(Contact.Account, false, null, session.Connection.PeerClose));
        }

        Wake();
    }

    /// <summary>Stops dialing and closes the connection, if any.</summary>
    public async Task StopAsync(CloseReason reason, string text)
    {
        await _stop.CancelAsync().ConfigureAwait(false);

        // An attach under way (a redial, a confirming dial) finishes first, so the session it
        // starts is the one stopped here; any later one sees the stop and closes its connection.
        LinkSession? current;
        await _attach.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            lock (_lock)
            {
                current = _current;
            }
        }
        finally
        {
            _attach.Release();
        }

        if (current is not null)
        {
            await current.StopAsync(reason, text).ConfigureAwait(false);
        }

        try
        {
            await _dialing.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopped while dialing or waiting.
        }

        Task confirming;
        lock (_lock)
        {
            confirming = _confirming;
        }

        await confirming.ConfigureAwait(false);
    }

    private bool PrefersNew(SecureConnection connection)
    {
        var self = _node.Identity.Account.PublicKey;
        var peer = Account.PublicKey;
        var selfFirst = self.SequenceCompareTo(peer) < 0;

        // Keep the connection dialed by the account that sorts first.
        return connection.IsInitiator == selfFirst;
    }

    private void Wake() => _wake.Set();

    /// <summary>
    /// While there is no connection, dials the contact's known endpoints and any hinted ones in
    /// turn; when none answers (or none is known) and the node runs a DHT, looks the contact up and
    /// dials what it finds. After a failure waits (250 ms doubling to 30 s, with jitter) or until
    /// something is queued for the contact or a hint arrives. Lookups back off on their own, from
    /// 2 s to 15 minutes, and start again from nothing after each connection.
    /// </summary>
    private async Task DialLoopAsync(CancellationToken cancellationToken)
    {
        var delay = _node.Options.MinRedialDelay;
        while (!cancellationToken.IsCancellationRequested)
        {
            LinkSession? current;
            lock (_lock)
            {
                current = _current;
            }

            if (current is not null)
            {
                await current.Completion.WaitAsync(cancellationToken).ConfigureAwait(false);

                // A short random pause: two sides that lost the connection together do not redial in step.
                await Task.Delay(Jitter(TimeSpan.FromMilliseconds(100)), _node.Options.Time, cancellationToken).ConfigureAwait(false);
                delay = _node.Options.MinRedialDelay;
                continue;
            }

            var contact = _node.Store.Contacts.Find(Account);
            if (contact is null)
            {
                return;
            }

            Contact = contact;
            var known = KnownEndpoints(contact);
            if (known.Count > 0 && await TryDialAsync(known, cancellationToken).ConfigureAwait(false))
            {
                continue;
            }

            var found = await LocateIfDueAsync(known, cancellationToken).ConfigureAwait(false);
            if (IsAttached || (found.Count > 0 && await TryDialAsync(found, cancellationToken).ConfigureAwait(false)))
            {
                // Connected meanwhile (the contact dialed in while the lookup ran), or through what it found.
                continue;
            }

            bool urgent;
            lock (_lock)
            {
                urgent = _urgent;
                _urgent = false;
            }

            if (urgent)
            {
                delay = _node.Options.MinRedialDelay;
            }

            if (known.Count == 0 && found.Count == 0 && !_node.CanLocate)
            {
                // Nothing to dial and no way to look: wait for an address (typed, or from a peer that dials in).
                await _wake.WaitAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }

            var wait = delay;
            if (_node.CanLocate)
            {
                var untilLocate = NextLocate - _node.Options.Time.GetUtcNow();
                wait = known.Count == 0 ? untilLocate : TimeSpan.FromTicks(Math.Min(wait.Ticks, untilLocate.Ticks));
            }

            await _wake.WaitAsync(TimeSpan.FromTicks(Math.Max(wait.Ticks, TimeSpan.FromMilliseconds(50).Ticks)) + Jitter(delay / 4), cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _node.Options.MaxRedialDelay.Ticks));
        }
    }

    private bool IsAttached
    {
        get
        {
            lock (_lock)
            {
                return _current is not null;
            }
        }
    }

    private DateTimeOffset NextLocate
    {
        get
        {
            lock (_lock)
            {
                return _nextLocate;
            }
        }
    }

    /// <summary>The stored endpoints and the pending hints (which are used once), hints first.</summary>
    private List<(PeerEndpoint Endpoint, bool Hinted)> KnownEndpoints(Contact contact)
    {
        var result = new List<(PeerEndpoint, bool)>();
        lock (_lock)
        {
            foreach (var hint in _hints)
            {
                result.Add((new PeerEndpoint(hint.Address.ToString(), hint.Port), true));
            }

            _hints.Clear();
        }

        foreach (var text in contact.Endpoints)
        {
            if (PeerEndpoint.TryParse(text, out var endpoint, out _) && !result.Exists(r => r.Item1 == endpoint))
            {
                result.Add((endpoint, false));
            }
        }

        return result;
    }

    /// <summary>Looks the contact up on the DHT when a lookup is due; the endpoints found that were not just tried.</summary>
    private async Task<List<(PeerEndpoint Endpoint, bool Hinted)>> LocateIfDueAsync(List<(PeerEndpoint Endpoint, bool Hinted)> tried, CancellationToken cancellationToken)
    {
        if (!_node.CanLocate || _node.Options.Time.GetUtcNow() < NextLocate)
        {
            return [];
        }

        var found = await _node.LocateAsync(Account, cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            _locateDelay = TimeSpan.FromTicks(Math.Clamp(_locateDelay.Ticks * 2, TimeSpan.FromSeconds(2).Ticks, MaxLocateDelay.Ticks));
            _lastLocate = _node.Options.Time.GetUtcNow();
            _nextLocate = _lastLocate + _locateDelay;
        }

        return [.. found
            .Select(e => (new PeerEndpoint(e.Address.ToString(), e.Port), true))
            .Where(e => !tried.Exists(t => t.Endpoint == e.Item1))];
    }

    private async Task<bool> TryDialAsync(List<(PeerEndpoint Endpoint, bool Hinted)> endpoints, CancellationToken cancellationToken)
    {
        foreach (var (endpoint, hinted) in endpoints)
        {
            try
            {
                // An address from a beacon or a lookup must lead to this very account, on its pinned device; a stored one is judged by its pin.
                var contact = Contact;
                var knownKey = contact.DecodeCertificate()?.DeviceAgreementKey.ToArray() ?? [];
                var verify = hinted ? PeerTrust.ForDiscovered(_node.Store.Contacts, endpoint, Account) : PeerTrust.ForDial(_node.Store.Contacts, endpoint, null);
                var connection = await ChannelDialer.ConnectAsync(
                    endpoint, _node.Identity, knownKey, verify, _node.Options.Channel, cancellationToken).ConfigureAwait(false);
                Contact pinned;
                try
                {
                    pinned = _node.PinPeer(connection, endpoint.ToString());
                }
                catch (StoreException ex)
                {
                    // The store cannot record the meeting (a full disk): drop the connection and
                    // keep dialing with backoff, so the link comes back once the store can write.
                    _logger.LogWarning("Could not take the connection to {Contact}: {Reason}", Label, ex.Message);
                    await CloseQuietlyAsync(connection, "the node could not write to its store").ConfigureAwait(false);
                    return false;
                }

                await AttachAsync(connection, pinned).ConfigureAwait(false);
                return true;
            }
            catch (Exception ex) when (ex is ChannelException or NetworkException)
            {
                _logger.LogDebug("Could not reach {Contact} at {Endpoint}: {Reason}", Label, endpoint, ex.Message);
                if (ex is ChannelException { Error: ChannelError.PeerKeyMismatch } && !hinted)
                {
                    _node.ReportKeyChange(Contact.Account, endpoint.ToString(), ex.Message);
                }
            }
        }

        return false;
    }

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

    private static TimeSpan Jitter(TimeSpan upTo) =>
        TimeSpan.FromTicks(RandomNumberGenerator.GetInt32((int)Math.Clamp(upTo.Ticks, 1, int.MaxValue)));
}
