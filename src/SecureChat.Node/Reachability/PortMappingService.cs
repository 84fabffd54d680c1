using System.Net;
using Microsoft.Extensions.Logging;
using SecureChat.Net.PortMapping;

namespace SecureChat.Node.Reachability;

/// <summary>
/// Keeps the home router forwarding the node's TCP listen port and its DHT's UDP port
/// (docs/discovery.md, "Port mapping"). One loop owns the leases: each round it renews every lease
/// through the protocol that granted it, or asks each protocol in turn for a port without one. A
/// renewal is also the check: its answer names the external endpoint (a new address is seen
/// there) and, for NAT-PMP and PCP, the router's epoch (a restart is seen when it goes back); for
/// UPnP-IGD the router is first asked whether it still holds the mapping. Every router answer is a
/// <see cref="MappingResult"/>, checked by its client; nothing here throws out of the loop, and the
/// outcome is a <see cref="PortMappingStatus"/> with a sentence for a person.
/// </summary>
internal sealed class PortMappingService : IAsyncDisposable
{
    public const string OffSentence = "port mapping is off (--no-port-mapping)";

    private readonly PortMappingOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Func<(int? Tcp, int? Udp)> _ports;
    private readonly Func<IReadOnlyList<MappingClient>> _clients;
    private readonly Action<PortMappingStatus, bool> _changed;
    private readonly WakeSignal _wake = new();
    private readonly CancellationTokenSource _stop = new();

    /// <summary>The leases held, by transport; only the loop touches them, and <see cref="DisposeAsync"/> after it ended.</summary>
    private readonly Dictionary<MappingProtocol, Held> _held = [];
    private PortMappingStatus? _status;
    private TimeSpan _retry;
    private Task _loop = Task.CompletedTask;

    /// <param name="options">The protocols' order, the lease asked for, the intervals.</param>
    /// <param name="time">The clock of leases, renewals and back-off.</param>
    /// <param name="logger">Where mappings gained, lost and given back are told.</param>
    /// <param name="ports">The ports to map now: the listen port (null when not listening) and the DHT's (null without it).</param>
    /// <param name="clients">The protocols' clients, in the order they are tried.</param>
    /// <param name="changed">Called after each round with the status, and whether it is news (a lease gained, lost or moved, or a new sentence) rather than a renewal.</param>
    public PortMappingService(PortMappingOptions options, TimeProvider time, ILogger logger, Func<(int? Tcp, int? Udp)> ports, Func<IReadOnlyList<MappingClient>> clients, Action<PortMappingStatus, bool> changed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Lease, TimeSpan.FromSeconds(2));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.CheckInterval, TimeSpan.FromSeconds(1));
        _options = options;
        _time = time;
        _logger = logger;
        _ports = ports;
        _clients = clients;
        _changed = changed;
        _retry = options.CheckInterval;
    }

    /// <summary>A lease, the client that obtained it (renewals go to the same one), and when its epoch was read.</summary>
    private sealed record Held(PortMappingLease Lease, MappingClient Client, DateTimeOffset SeenAt);

    /// <summary>What keeping one port came to this round: its lease, or why there is none.</summary>
    private sealed record Kept(MappingProtocol Protocol, int Port, PortMappingLease? Lease, IReadOnlyList<(string Method, MappingResult Result)> Failures);

    public void Start() => _loop = RunAsync(_stop.Token);

    /// <summary>Asks again now (the listen port moved).</summary>
    public void Kick() => _wake.Set();

    /// <summary>Stops the loop, then gives every mapping back, waiting at most <see cref="PortMappingOptions.UnmapTimeout"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        using (var bound = new CancellationTokenSource(_options.UnmapTimeout, _time))
        {
            await Task.WhenAll(_held.Values.Select(h => GiveBackAsync(h, bound.Token))).ConfigureAwait(false);
        }

        _held.Clear();
        _wake.Dispose();
        _stop.Dispose();
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        // Off the caller's thread: the first round may wait seconds for a router that is not there.
        await Task.Yield();
        while (!cancellationToken.IsCancellationRequested)
        {
            TimeSpan next;
            try
            {
                next = await RoundAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // A defect here must not end the renewals of leases the router still holds: said, and tried again later.
                _logger.LogError("Port mapping failed: {Reason}; trying again in {Seconds:0} s", ex.Message, _retry.TotalSeconds);
                next = _retry;
            }

            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var delay = Task.Delay(next, _time, wait.Token);
            var woken = _wake.WaitAsync(wait.Token);
            await Task.WhenAny(delay, woken).ConfigureAwait(false);
            await wait.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(delay, woken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>One round: keeps the TCP port, then the UDP port; publishes the status; returns the wait until the next.</summary>
    internal async Task<TimeSpan> RoundAsync(CancellationToken cancellationToken)
    {
        var (tcpPort, udpPort) = _ports();
        var tcp = await KeepAsync(MappingProtocol.Tcp, tcpPort, cancellationToken).ConfigureAwait(false);
        var udp = await KeepAsync(MappingProtocol.Udp, udpPort, cancellationToken).ConfigureAwait(false);
        var status = new PortMappingStatus(tcp?.Lease, udp?.Lease, Describe(tcp, udp));
        var previous = _status;
        _status = status;

        // A renewal moves only the leases' expiry: the status carries it, without news for anyone.
        var news = previous is null || previous.Sentence != status.Sentence || !Equals(previous.Tcp?.External, status.Tcp?.External) || !Equals(previous.Udp?.External, status.Udp?.External);
        if (news)
        {
            _logger.LogInformation("Port mapping: {Sentence}", status.Sentence);
        }

        _changed(status, news);
        var now = _time.GetUtcNow();
        if (tcp is { Lease: null } || udp is { Lease: null })
        {
            // Backing off from a router that does not map, but still checking the leases held on time.
            var wait = _retry;
            _retry = TimeSpan.FromTicks(Math.Min(_retry.Ticks * 2, Math.Max(_options.MaxRetryDelay.Ticks, _options.CheckInterval.Ticks)));
            return Earliest(_held.Count > 0 && _options.CheckInterval < wait ? _options.CheckInterval : wait, now);
        }

        _retry = _options.CheckInterval;
        return Earliest(_options.CheckInterval, now);
    }

    /// <summary>The wait until the next round: at most <paramref name="wait"/>, and at most half of any lease's remaining lifetime.</summary>
    private TimeSpan Earliest(TimeSpan wait, DateTimeOffset now)
    {
        foreach (var held in _held.Values)
        {
            var half = (held.Lease.Expires - now) / 2;
            if (half < wait)
            {
                wait = half;
            }
        }

        return wait < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : wait;
    }

    /// <summary>Renews the lease of <paramref name="protocol"/>, or obtains one; null when there is no such port to map.</summary>
    private async Task<Kept?> KeepAsync(MappingProtocol protocol, int? port, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        if (_held.TryGetValue(protocol, out var held) && held.Lease.InternalPort != port)
        {
            // The node listens elsewhere now: the old port's mapping goes back.
            _held.Remove(protocol);
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bound.CancelAfter(_options.UnmapTimeout);
            await GiveBackAsync(held, bound.Token).ConfigureAwait(false);
            held = null;
        }

        if (port is not { } internalPort)
        {
            return null;
        }

        var failures = new List<(string, MappingResult)>();
        if (held is not null)
        {
            var renewed = await RenewAsync(held, cancellationToken).ConfigureAwait(false);
            if (renewed.Lease is { } lease)
            {
                return new Kept(protocol, internalPort, lease, []);
            }

            failures.Add((held.Client.Method, renewed));
            if (held.Lease.Expires > _time.GetUtcNow())
            {
                // The router did not answer this time, but the mapping it granted still stands.
                _logger.LogDebug("Could not renew the {Protocol} mapping through {Method}: {Sentence}", Name(protocol), held.Client.Method, renewed.Sentence);
                return new Kept(protocol, internalPort, held.Lease, []);
            }

            _held.Remove(protocol);
        }

        // The protocol that mapped the other port goes first: a router speaks it.
        var clients = _clients().OrderBy(c => _held.Values.Any(h => ReferenceEquals(h.Client, c)) ? 0 : 1).ToList();
        foreach (var client in clients)
        {
            var result = await MapAsync(client, protocol, internalPort, cancellationToken).ConfigureAwait(false);
            if (result.Lease is { } lease)
            {
                _held[protocol] = new Held(lease, client, now);
                _logger.LogInformation("Mapped {Protocol} port {Port} to {External} through {Method}, until {Expires:u}", Name(protocol), internalPort, lease.External, client.Method, lease.Expires);
                return new Kept(protocol, internalPort, lease, []);
            }

            _logger.LogDebug("{Method} did not map {Protocol} port {Port}: {Sentence}", client.Method, Name(protocol), internalPort, result.Sentence);
            failures.Add((client.Method, result));
        }

        return new Kept(protocol, internalPort, null, failures);
    }

    /// <summary>
    /// Renews a lease through the client that granted it, noticing on the way that the router
    /// forgot it (UPnP-IGD: the entry is gone; NAT-PMP and PCP: the epoch went back) or that the
    /// external endpoint moved. Only an answer that maps is believed.
    /// </summary>
    private async Task<MappingResult> RenewAsync(Held held, CancellationToken cancellationToken)
    {
        var lease = held.Lease;
        string? news = null;
        if (held.Client.IsMapped is { } isMapped && await AskIsMappedAsync(isMapped, lease, held.Client.Method, cancellationToken).ConfigureAwait(false) == false)
        {
            news = "the router had forgotten it";
        }

        var result = await MapAsync(held.Client, lease.Protocol, lease.InternalPort, cancellationToken).ConfigureAwait(false);
        if (result.Lease is not { } renewed)
        {
            return result;
        }

        var now = _time.GetUtcNow();
        if (news is null && EpochWentBack(lease.Epoch, held.SeenAt, renewed.Epoch, now))
        {
            news = "the router's epoch went back (it restarted, or its address changed, and may have lost its mappings)";
        }

        if (!renewed.External.Equals(lease.External))
        {
            news = news is null ? $"the router's external endpoint moved from {lease.External}" : $"{news}, and the external endpoint moved from {lease.External}";
        }

        if (news is not null)
        {
            _logger.LogInformation("Mapped {Protocol} port {Port} again, to {External} through {Method}: {News}", Name(lease.Protocol), lease.InternalPort, renewed.External, held.Client.Method, news);
        }

        _held[lease.Protocol] = held with { Lease = renewed, SeenAt = now };
        return result;
    }

    /// <summary>
    /// RFC 6887 section 8.5 (and RFC 6886 section 3.6): the router lost its state when its epoch
    /// went back, or advanced markedly less than this node's clock (by more than 2 s plus 1/16).
    /// </summary>
    internal static bool EpochWentBack(uint? before, DateTimeOffset seenAt, uint? after, DateTimeOffset now)
    {
        if (before is not { } previous || after is not { } current)
        {
            return false;
        }

        if (current < previous)
        {
            return true;
        }

        var clientDelta = Math.Max(0, (now - seenAt).TotalSeconds);
        var serverDelta = (double)(current - previous);
        return serverDelta + 2 < clientDelta - (clientDelta / 16);
    }

    /// <summary>One mapping request; a client's defect becomes a failed result, so that the loop outlives it.</summary>
    private async Task<MappingResult> MapAsync(MappingClient client, MappingProtocol protocol, int port, CancellationToken cancellationToken)
    {
        try
        {
            return await client.Mapper.MapAsync(protocol, port, _options.Lease, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            _logger.LogWarning("The {Method} client failed to map {Protocol} port {Port}: {Reason}", client.Method, Name(protocol), port, ex.Message);
            return MappingResult.Failed(MappingFailure.Malformed, $"the {client.Method} client failed: {ex.Message}");
        }
    }

    private async Task<bool?> AskIsMappedAsync(Func<PortMappingLease, CancellationToken, Task<bool?>> isMapped, PortMappingLease lease, string method, CancellationToken cancellationToken)
    {
        try
        {
            return await isMapped(lease, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            _logger.LogDebug("Could not ask the router through {Method} whether it still maps {External}: {Reason}", method, lease.External, ex.Message);
            return null;
        }
    }

    /// <summary>Gives a mapping back; at stop the router may be gone, so every outcome is only logged.</summary>
    private async Task GiveBackAsync(Held held, CancellationToken cancellationToken)
    {
        try
        {
            var result = await held.Client.Mapper.UnmapAsync(held.Lease, cancellationToken).ConfigureAwait(false);
            _logger.LogInformation("Port mapping of {Protocol} port {Port}: {Sentence}", Name(held.Lease.Protocol), held.Lease.InternalPort, result.Sentence);
        }
        catch (Exception ex)
        {
            // Cancelled by the bound, or a client's defect: the router drops the mapping when its lease ends.
            _logger.LogInformation("Could not give back the {Protocol} mapping at {External} through {Method} ({Reason}); the router drops it when its lease ends", Name(held.Lease.Protocol), held.Lease.External, held.Client.Method, ex.Message);
        }
    }

    /// <summary>The status's sentence: what is mapped, else why not (the TCP port's story first: it is what makes the node reachable).</summary>
    private static string Describe(Kept? tcp, Kept? udp)
    {
        if (tcp is null && udp is null)
        {
            return "nothing to map: the node neither listens nor runs the DHT";
        }

        if (tcp is null)
        {
            return udp!.Lease is { } dhtLease ? $"mapped the DHT's UDP port {udp.Port} to {dhtLease.External} through {dhtLease.Method} (the node does not listen)" : $"the node does not listen; the DHT's UDP port {udp.Port} is not mapped: {Why(udp)}";
        }

        if (tcp.Lease is not { } lease)
        {
            return $"TCP port {tcp.Port} is not mapped: {Why(tcp)}";
        }

        var mapped = $"mapped TCP port {tcp.Port} to {lease.External}";
        return udp switch
        {
            null => $"{mapped} through {lease.Method}",
            { Lease: { } u } when u.Method == lease.Method => $"{mapped} and UDP port {udp.Port} to {u.External} through {lease.Method}",
            { Lease: { } u } => $"{mapped} through {lease.Method}, and UDP port {udp.Port} to {u.External} through {u.Method}",
            _ => $"{mapped} through {lease.Method}; the DHT's UDP port {udp.Port} is not mapped: {Why(udp)}",
        };
    }

    /// <summary>Why no protocol mapped a port: silence from all of them, or the most telling answer.</summary>
    private static string Why(Kept kept)
    {
        if (kept.Failures.Count == 0)
        {
            return "no protocol to ask";
        }

        if (kept.Failures.All(f => f.Result.Failure == MappingFailure.NoRouter))
        {
            var methods = kept.Failures.Select(f => f.Method).Distinct().ToList();
            var names = methods.Count == 1 ? methods[0] : string.Join(", ", methods.Take(methods.Count - 1)) + " or " + methods[^1];
            return $"no router answered {names}";
        }

        var (method, result) = kept.Failures.OrderBy(f => f.Result.Failure switch
        {
            MappingFailure.NotPublic => 0,
            MappingFailure.Refused => 1,
            MappingFailure.Malformed => 2,
            _ => 3,
        }).First();
        return result.Failure switch
        {
            MappingFailure.NotPublic => $"the router's external address is not reachable from the internet, so a mapping would not help ({method}: {result.Sentence})",
            MappingFailure.Refused => $"the router refused ({method}: {result.Sentence})",
            _ => $"the router's answers did not follow the protocol ({method}: {result.Sentence})",
        };
    }

    private static string Name(MappingProtocol protocol) => protocol == MappingProtocol.Tcp ? "TCP" : "UDP";

    /// <summary>The clients of <paramref name="methods"/> for the default IPv4 gateway; PCP and NAT-PMP need one, UPnP-IGD finds its own.</summary>
    internal static IReadOnlyList<MappingClient> ClientsFor(IReadOnlyList<PortMappingMethod> methods, IPAddress? gateway, TimeProvider time)
    {
        var clients = new List<MappingClient>();
        foreach (var method in methods)
        {
            switch (method)
            {
                case PortMappingMethod.Pcp:
                    clients.Add(new MappingClient(gateway is null ? new NoGateway("PCP") : new PcpMapper(gateway, time)));
                    break;
                case PortMappingMethod.NatPmp:
                    clients.Add(new MappingClient(gateway is null ? new NoGateway("NAT-PMP") : new NatPmpMapper(gateway, time)));
                    break;
                case PortMappingMethod.Upnp:
                    var upnp = new UpnpMapper(UpnpHttp.Shared, time);
                    clients.Add(new MappingClient(upnp, (lease, token) => upnp.IsMappedAsync(lease.Protocol, lease.External.Port, token)));
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(methods), method, "Not a port-mapping method.");
            }
        }

        return clients;
    }

    /// <summary>PCP or NAT-PMP on a host without a default IPv4 route: there is no router to ask.</summary>
    private sealed class NoGateway(string method) : IPortMapper
    {
        public string Method => method;

        public Task<MappingResult> MapAsync(MappingProtocol protocol, int internalPort, TimeSpan lifetime, CancellationToken cancellationToken) =>
            Task.FromResult(MappingResult.Failed(MappingFailure.NoRouter, $"this host has no default IPv4 gateway to ask through {method}"));

        public Task<MappingResult> UnmapAsync(PortMappingLease lease, CancellationToken cancellationToken) =>
            Task.FromResult(MappingResult.Failed(MappingFailure.NoRouter, $"this host has no default IPv4 gateway to ask through {method}"));
    }
}
