using System.Net;
using Microsoft.Extensions.Logging;
using SecureChat.Net;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Identity;
using SecureChat.Storage;

namespace SecureChat.Node;

/// <summary>The listener host: listening on a TCP port, taking inbound connections (admission, pins, strangers), and dialing an address the person typed.</summary>
public sealed partial class ChatNode
{
    /// <summary>When each address last brought new contact requests (for the per-address rate).</summary>
    private readonly Dictionary<string, List<DateTimeOffset>> _strangers = new(StringComparer.Ordinal);

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
    /// Dials a <c>HOST:PORT</c> once (the paper's Connect) and returns the contact met there, pinned
    /// on first use (under the address as typed). A host name with several addresses (A and AAAA
    /// records) has them raced (<see cref="HappyEyeballs"/>); when none answers, the failure told
    /// is a refused key if one was met, else the first address's. The connection then stays up like
    /// any other.
    /// </summary>
    public async Task<Contact> ConnectAsync(PeerEndpoint endpoint, AccountId? expected, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var known = expected is not null ? Store.Contacts.Find(expected) : Store.Contacts.FindByEndpoint(endpoint.ToString());
        var knownKey = known?.DecodeCertificate()?.DeviceAgreementKey.ToArray() ?? [];
        var verify = PeerTrust.ForDial(Store.Contacts, endpoint, expected);
        var candidates = await AddressesOfAsync(endpoint, cancellationToken).ConfigureAwait(false);
        SecureConnection connection;
        var losers = Task.CompletedTask;
        if (candidates.Count <= 1)
        {
            // One address (or, from a resolver that found none, the name itself, which the dialer then reports).
            connection = await Options.Dialer.DialAsync(candidates.FirstOrDefault() ?? endpoint, Identity, knownKey, verify, Options.Channel, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var race = await HappyEyeballs.RaceAsync(
                HappyEyeballs.Order(candidates, c => c, _ => 0),
                (candidate, token) => Options.Dialer.DialAsync(candidate, Identity, knownKey, verify, Options.Channel, token),
                (candidate, failure) => _logger.LogDebug("Could not connect to {Endpoint} at {Address}: {Reason}", endpoint, candidate, failure.Message),
                Options.Time,
                cancellationToken).ConfigureAwait(false);
            connection = race.Connection
                ?? throw (race.Failures.Select(f => f.Failure).FirstOrDefault(f => f is ChannelException) ?? race.Failures[0].Failure);
            losers = race.Losers;
        }

        try
        {
            return await TakeTypedAsync(connection, endpoint, expected).ConfigureAwait(false);
        }
        finally
        {
            // A second address that connected as the first won is closed before this returns.
            await losers.ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Where to dial a typed endpoint: itself when its host is an IP address, else each address the
    /// name resolves to, with its port (a name that does not resolve is a <see cref="NetworkException"/>).
    /// </summary>
    private async Task<List<PeerEndpoint>> AddressesOfAsync(PeerEndpoint endpoint, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(endpoint.Host, out _))
        {
            return [endpoint];
        }

        var addresses = await Options.Resolve(endpoint.Host, cancellationToken).ConfigureAwait(false);
        return [.. addresses.Select(a => new PeerEndpoint(DualStack.Normalize(a).ToString(), endpoint.Port)).Distinct()];
    }

    /// <summary>Pins the peer met at a typed endpoint and hands its connection to its link (see <see cref="ConnectAsync"/>).</summary>
    private async Task<Contact> TakeTypedAsync(SecureConnection connection, PeerEndpoint endpoint, AccountId? expected)
    {
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

        var address = RequestSource(remote);
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

    /// <summary>
    /// Where contact requests are counted from: an IPv4 address (an IPv4-mapped one as IPv4), or
    /// the /64 prefix of an IPv6 one, which one host usually holds whole (as the listener's
    /// admission counts it): otherwise a host could send a request from each of its 2^64 addresses.
    /// </summary>
    internal static string RequestSource(System.Net.EndPoint remote)
    {
        if (DualStack.Normalize(remote) is not IPEndPoint { Address: var address })
        {
            return remote.ToString() ?? "?";
        }

        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }

        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return $"{new IPAddress(bytes)}/64";
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
        _portMapping?.Kick();
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

            await TakeInboundAsync(connection, inbound.Remote).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Takes a connection a peer opened to this node, once its handshake is done: a stranger
    /// becomes a request (within the caps), and the connection goes to the peer's link. Over TCP
    /// the listener hands them over; a test hands over the far end of an in-memory pipe.
    /// </summary>
    internal async Task TakeInboundAsync(SecureConnection connection, System.Net.EndPoint remote)
    {
        try
        {
            if (Store.Contacts.Find(connection.PeerAccount) is null && !Options.OpenDoor && RefuseStranger(remote) is { } refusal)
            {
                _logger.LogInformation("Refused a contact request from {Remote} ({Account}): {Reason}", remote, connection.PeerAccount.Fingerprint, refusal);
                await connection.CloseAsync(CloseReason.Normal, "this node takes no more contact requests now; try later", CancellationToken.None).ConfigureAwait(false);
                await connection.DisposeAsync().ConfigureAwait(false);
                return;
            }

            var contact = PinPeer(connection, null);
            await AttachFirstAsync(contact, connection).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is StoreException or ObjectDisposedException or OperationCanceledException)
        {
            _logger.LogWarning("Could not take a connection from {Remote}: {Reason}", remote, ex.Message);
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
