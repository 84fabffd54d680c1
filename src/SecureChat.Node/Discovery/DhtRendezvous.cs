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
internal sealed class DhtRendezvous : IContactLocator, IAsyncDisposable
{
    /// <summary>The BEP 44 salt of the public record, signed by the account key itself.</summary>
    public static readonly byte[] PublicSalt = "securechat reach-me v1"u8.ToArray();

    /// <summary>Contact lookups in flight at once: each runs three DHT lookups, which keep up to four queries out each, far below the DHT node's 512.</summary>
    private const int MaxConcurrentLookups = 16;

    /// <summary>
    /// For this long after joining the publisher checks every second instead of every
    /// <see cref="DiscoveryOptions.PublishCheck"/>: in its first moments a node learns its
    /// observed address (and a mapped port), and a contact that looks it up then should find the
    /// endpoints it has, not the ones it had a moment before.
    /// </summary>
    private static readonly TimeSpan SettlingAfterJoin = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan SettlingCheck = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long the node's DHT waits for an answer. A lookup ends only once each of the closest
    /// nodes it knows has answered or timed out, and a node that went away is among them more often
    /// than not; every publish and every lookup of a contact then lasts this long, and the first
    /// message between two nodes that start together waits for one publish and one lookup in a row.
    /// Answers on the DHT come within a few hundred milliseconds; 1.5 s leaves room for a slow link
    /// and halves the DHT's 3 s, which made the first message take 9 s and more.
    /// </summary>
    private static readonly TimeSpan QueryTimeout = TimeSpan.FromSeconds(1.5);

    /// <summary>
    /// After this long without an answer a lookup asks the next node in its place. Where many of
    /// the nodes nearest a key went away, a lookup asks them in waves of four, each wave this long;
    /// most answers come within a few hundred milliseconds.
    /// </summary>
    private static readonly TimeSpan StallTimeout = TimeSpan.FromMilliseconds(500);

    /// <summary>How often the join looks whether the first nodes answered, while its walk through the DHT goes on.</summary>
    private static readonly TimeSpan JoinPoll = TimeSpan.FromMilliseconds(50);

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
        var host = DhtHost.Start(options.DhtEndPoint, new DhtOptions { UnreachableAfter = TimeSpan.FromMinutes(10), QueryTimeout = QueryTimeout, StallTimeout = StallTimeout }, logger, node.Options.Time);
        return new DhtRendezvous(node, host, options, logger, saved?.ParseNodes() ?? []);
    }

    /// <summary>A lookup can find something once the table holds nodes.</summary>
    bool IContactLocator.Ready => Joined;

    /// <summary>Something changed (a contact was added, the address moved): publish without waiting for the next check.</summary>
    public void Kick() => _wake.Set();

    /// <summary>The endpoints a contact published for this node (its rendezvous record for today, else yesterday's), else in its public record.</summary>
    public async Task<IReadOnlyList<IPEndPoint>> LocateAsync(AccountId contact, bool first, CancellationToken cancellationToken)
    {
        // A node with many contacts starts many lookups at once; a few at a time keeps them within
        // the DHT node's limit on queries in flight, where the rest would end empty.
        await _locating.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await LocateOneAsync(contact, first, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _locating.Release();
        }
    }

    private async Task<IReadOnlyList<IPEndPoint>> LocateOneAsync(AccountId contact, bool first, CancellationToken cancellationToken)
    {
        var identity = _node.Identity;
        using var pair = PairSecret.Derive(identity.AccountPrivateKey, identity.Account, contact);
        if (pair is null)
        {
            return [];
        }

        // Today's record, yesterday's and the public one are looked up at once, not one after the
        // other: a contact that is not there costs the same three DHT lookups either way, and one
        // that is there is found in the time of one lookup instead of up to three (each can wait
        // out a query timeout on a node that went away).
        var epoch = RendezvousKeys.EpochOf(_node.Options.Time.GetUtcNow());
        using var today = RendezvousKeys.Derive(pair.Span, epoch, contact, identity.Account);
        using var yesterday = RendezvousKeys.Derive(pair.Span, epoch - 1, contact, identity.Account);
        var lookups = new[]
        {
            Host.Call(n => n.GetMutable(today.PublicKey, today.Salt, first)),
            Host.Call(n => n.GetMutable(yesterday.PublicKey, yesterday.Salt, first)),
            Host.Call(n => n.GetMutable(contact.PublicKey.ToArray(), PublicSalt)),
        };
        foreach (var (lookup, keys) in lookups.Take(2).Zip([today, yesterday]))
        {
            var result = await lookup.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (result.Item is { } item && Bencode.TryDecode(item.Value) is BString sealedValue && keys.Open(sealedValue.Value) is { Endpoints.Count: > 0 } list)
            {
                _logger.LogDebug("Found {Contact} through its rendezvous record ({Count} endpoints)", contact.Fingerprint, list.Endpoints.Count);
                return list.Endpoints;
            }
        }

        var open = await lookups[2].WaitAsync(cancellationToken).ConfigureAwait(false);
        if (open.Item is { } publicItem && Bencode.TryDecode(publicItem.Value) is BString plain && EndpointList.TryDecode(plain.Value) is { } published)
        {
            _logger.LogDebug("Found {Contact} through its public record", contact.Fingerprint);
            return published.Endpoints;
        }

        _logger.LogDebug("Did not find {Contact} on the DHT", contact.Fingerprint);
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
        var joinedAt = DateTimeOffset.MinValue;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                // Join, and join again while the table is empty (the network or DNS may have been down).
                var now = _node.Options.Time.GetUtcNow();
                if (!Joined && now - lastJoin >= TimeSpan.FromMinutes(1))
                {
                    lastJoin = now;
                    if (await JoinAsync(cancellationToken).ConfigureAwait(false))
                    {
                        joinedAt = _node.Options.Time.GetUtcNow();

                        // Links that had nothing to dial waited for this: they look their contacts up now.
                        _node.LocatorReady();
                    }
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

            var settling = _node.Options.Time.GetUtcNow() - joinedAt < SettlingAfterJoin;
            await _wake.WaitAsync(settling && SettlingCheck < _options.PublishCheck ? SettlingCheck : _options.PublishCheck, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Joins through the bootstrap nodes; true once the first of them answered. The walk towards
    /// this node's own ID goes on after that (its end is logged): publishing and looking up need
    /// only nodes to start from, and waiting for the walk would cost every start a query timeout
    /// for each node in it that went away.
    /// </summary>
    private async Task<bool> JoinAsync(CancellationToken cancellationToken)
    {
        var names = _options.Bootstrap.Count > 0 ? _options.Bootstrap.Select(e => e.ToString()).ToList() : [.. DhtHost.PublicRouters];
        var bootstrap = _options.Bootstrap.Count > 0
            ? _options.Bootstrap.ToList()
            : await DhtHost.ResolveAsync(DhtHost.PublicRouters, _logger, cancellationToken).ConfigureAwait(false);
        bootstrap = [.. _savedNodes.Concat(bootstrap).Distinct()];
        var walk = Host.Call(n => n.Bootstrap(bootstrap));
        while (!walk.IsCompleted && !Joined)
        {
            await Task.WhenAny(walk, Task.Delay(JoinPoll, _node.Options.Time, cancellationToken)).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }

        if (Joined)
        {
            _logger.LogInformation("Joined the DHT on UDP {EndPoint}: {Count} nodes answered so far", Host.LocalEndPoint, Host.Call(n => n.Routing.Count));
            _joinFailures = 0;
            _ = walk.ContinueWith(
                done => _logger.LogDebug("The DHT join's walk ended: {Count} closest nodes answered", done.Result.Closest.Count),
                CancellationToken.None,
                TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
            return true;
        }

        var joined = await walk.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (joined.Closest.Count > 0)
        {
            _logger.LogInformation("Joined the DHT on UDP {EndPoint}: {Count} nodes answered", Host.LocalEndPoint, joined.Closest.Count);
            _joinFailures = 0;
            return true;
        }

        // Said once; then quietly retried every minute.
        var level = _joinFailures++ == 0 ? LogLevel.Warning : LogLevel.Debug;
        _logger.Log(
            level,
            "The DHT could not be joined: {Why} {Nodes}; trying again every minute (contacts with a known address or on the LAN are reached meanwhile)",
            bootstrap.Count == 0 ? "none of the bootstrap nodes could be resolved:" : $"no bootstrap node answered ({_savedNodes.Count} saved nodes tried too):",
            string.Join(", ", names));
        return false;
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
            bool changed;
            lock (_published)
            {
                changed = !_published.TryGetValue(contact.Account, out var before) || before.Endpoints != key;
                Record(contact.Account, stored, epoch, key, now);
            }

            if (changed && stored > 0)
            {
                // The contact, if it started with this node, is likely to have published by now too.
                _node.PublishedFor(contact.AccountId);
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
