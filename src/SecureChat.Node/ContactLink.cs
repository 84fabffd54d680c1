using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using SecureChat.Net;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Identity;
using SecureChat.Protocol.Messages;
using SecureChat.Storage;

namespace SecureChat.Node;

/// <summary>
/// Everything the node keeps for one contact: at most one active connection, the loop that dials
/// the contact's known endpoints (with backoff) while there is none, and the conversation's Lamport
/// clock.
/// </summary>
internal sealed class ContactLink
{
    private readonly ChatNode _node;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _attach = new(1, 1);
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly CancellationTokenSource _stop;
    private readonly Lock _lock = new();
    private LinkSession? _current;
    private Task _dialing = Task.CompletedTask;
    private long _lamport = -1;
    private bool _urgent;

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

    public void Update(Contact contact) => Contact = contact;

    public void StartDialing() => _dialing = DialLoopAsync(_stop.Token);

    /// <summary>Something waits to be sent: wake the connection, or the dialer without waiting out its backoff.</summary>
    public void Kick()
    {
        LinkSession? current;
        lock (_lock)
        {
            current = _current;
            _urgent = true;
        }

        current?.Kick();
        Wake();
    }

    public void SendTyping(bool active)
    {
        lock (_lock)
        {
            _current?.SendTyping(active);
        }
    }

    /// <summary>The next Lamport value for something this node writes in the conversation.</summary>
    public long Tick()
    {
        lock (_lock)
        {
            EnsureClock();
            return ++_lamport;
        }
    }

    /// <summary>Moves the clock past a value seen from the peer.</summary>
    public void Witness(ulong lamport)
    {
        lock (_lock)
        {
            EnsureClock();
            _lamport = Math.Max(_lamport, (long)Math.Min(lamport, long.MaxValue - 1));
        }
    }

    /// <summary>
    /// Takes a connection that finished its handshake with this contact. With one already running,
    /// the newer replaces it when both were dialed the same way (the old one is presumably dead);
    /// when the two crossed (each side dialed), both sides keep the one dialed by the account whose
    /// key sorts first, so they keep the same one.
    /// </summary>
    public async Task AttachAsync(SecureConnection connection, Contact contact)
    {
        await _attach.WaitAsync(_stop.Token).ConfigureAwait(false);
        try
        {
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

    /// <summary>Called by a session once its hello is done.</summary>
    public void Online(LinkSession session)
    {
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
            _node.Events.Publish(new PresenceChanged(Contact.Account, false, null));
        }

        Wake();
    }

    /// <summary>Stops dialing and closes the connection, if any.</summary>
    public async Task StopAsync(CloseReason reason, string text)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        LinkSession? current;
        lock (_lock)
        {
            current = _current;
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
    }

    private bool PrefersNew(SecureConnection connection)
    {
        var self = _node.Identity.Account.PublicKey;
        var peer = Account.PublicKey;
        var selfFirst = self.SequenceCompareTo(peer) < 0;

        // Keep the connection dialed by the account that sorts first.
        return connection.IsInitiator == selfFirst;
    }

    private void EnsureClock()
    {
        if (_lamport < 0)
        {
            _lamport = _node.Store.Messages.LastLamport(Contact);
        }
    }

    private void Wake()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already awake.
        }
    }

    /// <summary>
    /// While there is no connection, dials the contact's endpoints in turn; after a failure waits
    /// (250 ms doubling to 30 s, with jitter) or until something is queued for the contact.
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
            if (contact.Endpoints.Count == 0)
            {
                await _wake.WaitAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (await TryDialAsync(contact, cancellationToken).ConfigureAwait(false))
            {
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

            await _wake.WaitAsync(delay + Jitter(delay / 4), cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _node.Options.MaxRedialDelay.Ticks));
        }
    }

    private async Task<bool> TryDialAsync(Contact contact, CancellationToken cancellationToken)
    {
        foreach (var text in contact.Endpoints)
        {
            if (!PeerEndpoint.TryParse(text, out var endpoint, out _))
            {
                continue;
            }

            try
            {
                var knownKey = contact.DecodeCertificate()?.DeviceAgreementKey.ToArray() ?? [];
                var connection = await ChannelDialer.ConnectAsync(
                    endpoint, _node.Identity, knownKey, PeerTrust.ForDial(_node.Store.Contacts, endpoint, null), _node.Options.Channel, cancellationToken).ConfigureAwait(false);
                var pinned = _node.PinPeer(connection, endpoint.ToString());
                await AttachAsync(connection, pinned).ConfigureAwait(false);
                return true;
            }
            catch (Exception ex) when (ex is ChannelException or NetworkException)
            {
                _logger.LogDebug("Could not reach {Contact} at {Endpoint}: {Reason}", Label, endpoint, ex.Message);
                if (ex is ChannelException { Error: ChannelError.PeerKeyMismatch })
                {
                    _node.Events.Publish(new ConnectionProblem(Contact.Account, endpoint.ToString(), ex.Message));
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
