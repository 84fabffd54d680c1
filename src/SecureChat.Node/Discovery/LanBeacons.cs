using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using SecureChat.Net;
using SecureChat.Protocol.Discovery;
using SecureChat.Protocol.Identity;

namespace SecureChat.Node.Discovery;

/// <summary>
/// LAN discovery: every <see cref="DiscoveryOptions.BeaconInterval"/> the node multicasts beacons
/// (<see cref="LanBeacon"/>) that tell each of its contacts, and no one else, which port it accepts
/// peers on; a beacon from a contact that is not connected makes the node dial the beacon's
/// source address at once. Multicast stays on the local network (TTL 1).
/// </summary>
internal sealed class LanBeacons : IAsyncDisposable
{
    private const int MaxBeaconsPerSecond = 50;

    private readonly ChatNode _node;
    private readonly DiscoveryOptions _options;
    private readonly ILogger _logger;
    private readonly LanBeaconSocket _socket;
    private readonly CancellationTokenSource _stop = new();
    private readonly WakeSignal _wake = new();
    private readonly Task _sending;
    private readonly Task _receiving;
    private Keys _keys = new([], [], [], []);

    private LanBeacons(ChatNode node, LanBeaconSocket socket, DiscoveryOptions options, ILogger logger)
    {
        _node = node;
        _socket = socket;
        _options = options;
        _logger = logger;
        _sending = SendLoopAsync(_stop.Token);
        _receiving = ReceiveLoopAsync(_stop.Token);
    }

    /// <summary>Opens the multicast socket; null (with a log line) when this system cannot, which only turns LAN discovery off.</summary>
    public static LanBeacons? TryStart(ChatNode node, DiscoveryOptions options, ILogger logger)
    {
        LanBeaconSocket socket;
        try
        {
            socket = LanBeaconSocket.Open(options.LanGroup, options.LanPort, options.LanInterface);
        }
        catch (NetworkException ex)
        {
            logger.LogWarning("LAN discovery is off: {Reason}", ex.Message);
            return null;
        }

        return new LanBeacons(node, socket, options, logger);
    }

    /// <summary>Send beacons now (a contact was added, the port changed).</summary>
    public void Kick() => _wake.Set();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        await Task.WhenAll(_sending, _receiving).ConfigureAwait(false);
        _stop.Dispose();
        _wake.Dispose();
    }

    private async Task SendLoopAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                if (_node.ListenEndPoint is { } listening)
                {
                    var keys = CurrentKeys();
                    foreach (var beacon in LanBeacon.Build(keys.Outgoing, listening.Port, _node.Options.Time.GetUtcNow()))
                    {
                        try
                        {
                            await _socket.SendAsync(beacon, cancellationToken).ConfigureAwait(false);
                        }
                        catch (SocketException ex)
                        {
                            _logger.LogDebug("A LAN beacon was not sent: {Reason}", ex.SocketErrorCode);
                        }
                    }
                }

                await _wake.WaitAsync(_options.BeaconInterval, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
            // Stopping.
        }
    }

    private async Task ReceiveLoopAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();
        var buffer = new byte[2048];
        var windowStart = DateTimeOffset.MinValue;
        var inWindow = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            (int Length, IPAddress Source) received;
            try
            {
                received = await _socket.ReceiveAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                // A network change, say: wait a moment rather than spin on a failing socket.
                _logger.LogDebug("LAN beacon receive failed: {Reason}", ex.SocketErrorCode);
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200), _node.Options.Time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            // Recognising a beacon costs one HMAC per contact: at most so many a second are looked at.
            var now = _node.Options.Time.GetUtcNow();
            if (now - windowStart >= TimeSpan.FromSeconds(1))
            {
                (windowStart, inWindow) = (now, 0);
            }

            if (++inWindow > MaxBeaconsPerSecond)
            {
                continue;
            }

            var keys = CurrentKeys();
            var (senders, port) = LanBeacon.Recognise(buffer.AsSpan(0, received.Length), keys.Incoming, now);
            foreach (var index in senders)
            {
                _node.Hint(keys.Contacts[index], new IPEndPoint(received.Source, port), "a LAN beacon");
            }
        }
    }

    /// <summary>The tag keys for the current contacts, recomputed when the contact list changes.</summary>
    private Keys CurrentKeys()
    {
        var contacts = _node.Store.Contacts.All.Select(c => c.AccountId).ToList();
        var keys = _keys;
        if (keys.Source.SequenceEqual(contacts))
        {
            return keys;
        }

        var identity = _node.Identity;
        var outgoing = new List<byte[]>();
        var incoming = new List<byte[]>();
        var known = new List<AccountId>();
        foreach (var contact in contacts)
        {
            using var pair = PairSecret.Derive(identity.AccountPrivateKey, identity.Account, contact);
            if (pair is null)
            {
                continue;
            }

            known.Add(contact);
            outgoing.Add(LanBeacon.TagKey(pair.Span, identity.Account, contact));
            incoming.Add(LanBeacon.TagKey(pair.Span, contact, identity.Account));
        }

        keys = new Keys(contacts, known, outgoing, incoming);
        _keys = keys;
        return keys;
    }

    private sealed record Keys(List<AccountId> Source, List<AccountId> Contacts, List<byte[]> Outgoing, List<byte[]> Incoming);
}
