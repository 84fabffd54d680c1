using System.Net;
using Microsoft.Extensions.Logging;
using SecureChat.Dht;
using SecureChat.Net.Dht;
using SecureChat.Protocol.Discovery;
using SecureChat.Protocol.Identity;

namespace SecureChat.Node.Discovery;

/// <summary>
/// The node's life on the Mainline DHT. It publishes, for every contact, this node's endpoints in
/// that pair's private rendezvous record (<see cref="RendezvousKeys"/>), again when they change, when
/// the day changes and before DHT nodes forget them; with <see cref="DiscoveryOptions.Discoverable"/>
/// it also publishes them in the clear under the account key. It looks contacts up in the record
/// they keep for this node, then in their public record.
/// </summary>
internal sealed class DhtRendezvous : IAsyncDisposable
{
    /// <summary>The BEP 44 salt of the public record, signed by the account key itself.</summary>
    public static readonly byte[] PublicSalt = "securechat reach-me v1"u8.ToArray();

    /// <summary>Contact lookups in flight at once: each keeps up to four queries out, far below the DHT node's 512.</summary>
    private const int MaxConcurrentLookups = 16;

    private readonly ChatNode _node;
    private readonly DiscoveryOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, Published> _published = new(StringComparer.Ordinal);
    private readonly WakeSignal _wake = new();
    private readonly SemaphoreSlim _locating = new(MaxConcurrentLookups, MaxConcurrentLookups);
    private readonly Task _running;
    private readonly List<IPEndPoint> _savedNodes;
    private int _joinFailures;
    private DateTimeOffset _lastSave = DateTimeOffset.MinValue;

    private DhtRendezvous(ChatNode node, DhtHost host, DiscoveryOptions options, ILogger logger, List<IPEndPoint> savedNodes)
    {
        _savedNodes = savedNodes;
        _node = node;
        Host = host;
        _options = options;
        _logger = logger;
        _running = RunAsync(_stop.Token);
    }

    public DhtHost Host { get; }

    /// <summary>True once the DHT node has joined (one of its tables, IPv4 or IPv6, holds nodes).</summary>
    public bool Joined => Host.Call(n => n.NodeCount) > 0;

    /// <summary>Where DHT nodes say they see this node over IPv4 (BEP 42), or null before any has said.</summary>
    public IPEndPoint? ObservedAddress => Host.Call(n => n.ObservedAddress);

    /// <summary>Where DHT nodes say they see this node over IPv6 (BEP 42's "ip" in BEP 32 answers), or null.</summary>
    public IPEndPoint? ObservedAddress6 => Host.Call(n => n.ObservedAddress6);

    public DhtStatus Status => Host.Call(n => new DhtStatus(
        n.Id.ToString(), Host.LocalEndPoint.Port, n.NodeCount, n.ReadOnly, n.ObservedAddress?.ToString(), _options.Discoverable, n.Routing6.Count, n.ObservedAddress6?.ToString()));

    public static DhtRendezvous Start(ChatNode node, DiscoveryOptions options, ILogger logger)
    {
        // A node that no one seems able to reach (behind a NAT) stops answering and only asks (BEP 43).
        // The saved nodes (dht.json) let a restarted node rejoin without the routers. The ID is new
        // each run (random; BEP 42 from the observed address once known), never the saved one.
        var saved = options.DhtStateFile is { } file ? DhtState.Read(file) : null;
        var host = DhtHost.Start(options.DhtEndPoint, new DhtOptions { UnreachableAfter = TimeSpan.FromMinutes(10) }, logger, node.Options.Time);
        return new DhtRendezvous(node, host, options, logger, saved?.ParseNodes() ?? []);
    }

    /// <summary>Something changed (a contact was added, the address moved): publish without waiting for the next check.</summary>
    public void Kick() => _wake.Set();

    /// <summary>The endpoints a contact published for this node (its rendezvous record for today, else yesterday's), else in its public record.</summary>
    public async Task<IReadOnlyList<IPEndPoint>> LocateAsync(AccountId contact, CancellationToken cancellationToken)
    {
        // A node with many contacts starts many lookups at once; a few at a time keeps them within
        // the DHT node's limit on queries in flight, where the rest would end empty.
        await _locating.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await LocateOneAsync(contact, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _locating.Release();
        }
    }

    private async Task<IReadOnlyList<IPEndPoint>> LocateOneAsync(AccountId contact, CancellationToken cancellationToken)
    {
        var identity = _node.Identity;
        using var pair = PairSecret.Derive(identity.AccountPrivateKey, identity.Account, contact);
        if (pair is null)
        {
            return [];
        }

        var epoch = RendezvousKeys.EpochOf(_node.Options.Time.GetUtcNow());
        foreach (var e in new[] { epoch, epoch - 1 })
        {
            using var keys = RendezvousKeys.Derive(pair.Span, e, contact, identity.Account);
            var result = await Host.Call(n => n.GetMutable(keys.PublicKey, keys.Salt)).WaitAsync(cancellationToken).ConfigureAwait(false);
            if (result.Item is { } item && Bencode.TryDecode(item.Value) is BString sealedValue && keys.Open(sealedValue.Value) is { Endpoints.Count: > 0 } list)
            {
                _logger.LogDebug("Found {Contact} through its rendezvous record ({Count} endpoints)", contact.Fingerprint, list.Endpoints.Count);
                return list.Endpoints;
            }
        }

        var open = await Host.Call(n => n.GetMutable(contact.PublicKey.ToArray(), PublicSalt)).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (open.Item is { } publicItem && Bencode.TryDecode(publicItem.Value) is BString plain && EndpointList.TryDecode(plain.Value) is { } published)
        {
            _logger.LogDebug("Found {Contact} through its public record", contact.Fingerprint);
            return published.Endpoints;
        }

        return [];
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _running.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }

        SaveState();
        await Host.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
        _wake.Dispose();
        _locating.Dispose();
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();
        var lastJoin = DateTimeOffset.MinValue;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                // Join, and join again while the table is empty (the network or DNS may have been down).
                var now = _node.Options.Time.GetUtcNow();
                if (!Joined && now - lastJoin >= TimeSpan.FromMinutes(1))
                {
                    lastJoin = now;
                    await JoinAsync(cancellationToken).ConfigureAwait(false);
                }

                await PublishDueAsync(cancellationToken).ConfigureAwait(false);
                if (now - _lastSave >= TimeSpan.FromMinutes(10) && Joined)
                {
                    _lastSave = now;
                    SaveState();
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                _logger.LogWarning("The DHT could not be used: {Reason}", ex.Message);
            }

            await _wake.WaitAsync(_options.PublishCheck, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task JoinAsync(CancellationToken cancellationToken)
    {
        var names = _options.Bootstrap.Count > 0 ? _options.Bootstrap.Select(e => e.ToString()).ToList() : [.. DhtHost.PublicRouters];
        var bootstrap = _options.Bootstrap.Count > 0
            ? _options.Bootstrap.ToList()
            : await DhtHost.ResolveAsync(DhtHost.PublicRouters, _logger, cancellationToken).ConfigureAwait(false);
        bootstrap = [.. _savedNodes.Concat(bootstrap).Distinct()];
        var joined = await Host.Call(n => n.Bootstrap(bootstrap)).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (joined.Closest.Count > 0)
        {
            _logger.LogInformation("Joined the DHT on UDP {EndPoint}: {Count} nodes answered", Host.LocalEndPoint, joined.Closest.Count);
            _joinFailures = 0;
            return;
        }

        // Said once; then quietly retried every minute.
        var level = _joinFailures++ == 0 ? LogLevel.Warning : LogLevel.Debug;
        _logger.Log(
            level,
            "The DHT could not be joined: {Why} {Nodes}; trying again every minute (contacts with a known address or on the LAN are reached meanwhile)",
            bootstrap.Count == 0 ? "none of the bootstrap nodes could be resolved:" : $"no bootstrap node answered ({_savedNodes.Count} saved nodes tried too):",
            string.Join(", ", names));
    }

    private async Task PublishDueAsync(CancellationToken cancellationToken)
    {
        var endpoints = _node.OwnEndpoints(ObservedAddress);
        if (endpoints.Count == 0 || !Joined)
        {
            return;
        }

        var now = _node.Options.Time.GetUtcNow();
        var epoch = RendezvousKeys.EpochOf(now);
        var key = string.Join(',', endpoints.Select(e => e.ToString()));
        var list = new EndpointList(now, endpoints);
        var identity = _node.Identity;
        var due = _node.Store.Contacts.All.Where(c => IsDue(c.Account, epoch, key, now)).ToList();

        // A few contacts at a time: a round for a thousand contacts must end well within the records' lifetime.
        await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken }, async (contact, token) =>
        {
            var stored = await PublishForAsync(contact.AccountId, list, now, epoch, token).ConfigureAwait(false);
            lock (_published)
            {
                Record(contact.Account, stored, epoch, key, now);
            }
        }).ConfigureAwait(false);

        if (_options.Discoverable && IsDue(string.Empty, epoch, key, now))
        {
            var item = DhtItem.Sign(identity.AccountPrivateKey, new BString(list.Encode()).Encode(), PublicSalt, now.ToUnixTimeSeconds());
            var result = await Host.Call(n => n.Put(item)).WaitAsync(cancellationToken).ConfigureAwait(false);
            Record(string.Empty, result.Accepted, epoch, key, now);
        }
    }

    /// <summary>Writes dht.json; a failure to write only costs the next start a slower join.</summary>
    private void SaveState()
    {
        if (_options.DhtStateFile is not { } file || !Joined)
        {
            return;
        }

        try
        {
            Host.Call(DhtState.Of).Write(file);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _logger.LogDebug("The DHT state could not be saved: {Reason}", ex.Message);
        }
    }

    /// <summary>Puts this node's record for one contact (today's, and tomorrow's near midnight); the most nodes that took one.</summary>
    private async Task<int> PublishForAsync(AccountId contact, EndpointList list, DateTimeOffset now, long epoch, CancellationToken cancellationToken)
    {
        var identity = _node.Identity;
        using var pair = PairSecret.Derive(identity.AccountPrivateKey, identity.Account, contact);
        if (pair is null)
        {
            return 0;
        }

        var stored = 0;
        foreach (var e in EpochsToPublish(now, epoch))
        {
            using var keys = RendezvousKeys.Derive(pair.Span, e, identity.Account, contact);
            var item = DhtItem.Sign(keys.SigningSeed, new BString(keys.Seal(list)).Encode(), keys.Salt, keys.SequenceAt(now));
            var result = await Host.Call(n => n.Put(item)).WaitAsync(cancellationToken).ConfigureAwait(false);
            stored = Math.Max(stored, result.Accepted);
        }

        return stored;
    }

    /// <summary>Today's epoch, and tomorrow's too in the last hour of the day, so a contact whose clock runs ahead still finds it.</summary>
    private static IEnumerable<long> EpochsToPublish(DateTimeOffset now, long epoch)
    {
        yield return epoch;
        if (RendezvousKeys.EpochOf(now + TimeSpan.FromHours(1)) != epoch)
        {
            yield return epoch + 1;
        }
    }

    private bool IsDue(string account, long epoch, string endpoints, DateTimeOffset now) =>
        !_published.TryGetValue(account, out var last)
        || last.Epoch != epoch
        || last.Endpoints != endpoints
        || now - last.At >= (last.Accepted > 0 ? _options.Republish : TimeSpan.FromSeconds(30));

    private void Record(string account, int accepted, long epoch, string endpoints, DateTimeOffset now)
    {
        _published[account] = new Published(epoch, endpoints, now, accepted);
        _logger.LogDebug("Published a DHT record for {Account}: stored on {Count} nodes", account.Length == 0 ? "everyone" : account[..8], accepted);
    }

    private sealed record Published(long Epoch, string Endpoints, DateTimeOffset At, int Accepted);
}

/// <summary>
/// What a status display shows of the DHT node: its ID, its UDP port, the nodes in its tables
/// (IPv4 and IPv6; <paramref name="Nodes6"/> of them in the IPv6 one), whether it only asks (BEP 43),
/// the address others see over IPv4 (<paramref name="ObservedAddress6"/>: over IPv6), and whether
/// the public record is on.
/// </summary>
public sealed record DhtStatus(string Id, int Port, int Nodes, bool ReadOnly, string? ObservedAddress, bool Discoverable, int Nodes6 = 0, string? ObservedAddress6 = null);
