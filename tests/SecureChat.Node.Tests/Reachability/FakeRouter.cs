using System.Net;
using SecureChat.Net.PortMapping;
using SecureChat.Node.Reachability;

namespace SecureChat.Node.Tests.Reachability;

/// <summary>
/// A home router as one mapping protocol sees it, in memory: it holds mappings, has an external
/// address and an epoch (seconds since its state began), and can restart (forgetting every
/// mapping), move to another address, refuse, stay silent, or hang. Its clock is the test's.
/// </summary>
internal sealed class FakeRouter(string method, TimeProvider time) : IPortMapper
{
    private readonly Dictionary<(MappingProtocol, int), PortMappingLease> _mappings = [];
    private DateTimeOffset _bootedAt = time.GetUtcNow() - TimeSpan.FromHours(1);

    public string Method => method;

    public IPAddress External { get; set; } = IPAddress.Parse("198.18.7.7");

    /// <summary>The failure every request gets instead of an answer (null: it maps).</summary>
    public MappingResult? Failure { get; set; }

    /// <summary>The most seconds of lease it grants.</summary>
    public int MaxLeaseSeconds { get; set; } = int.MaxValue;

    /// <summary>When set, a request waits for cancellation (a router that never answers, even at stop).</summary>
    public bool Hangs { get; set; }

    /// <summary>Whether the node's client throws instead of answering (a defect in a client).</summary>
    public bool Throws { get; set; }

    public int MapCalls { get; private set; }

    public List<PortMappingLease> Unmapped { get; } = [];

    /// <summary>The protocol's client as the service takes it; with <paramref name="probe"/>, also the UPnP-like question "do you still map this?".</summary>
    public MappingClient Client(bool probe = false) => new(this, probe ? (lease, _) => Task.FromResult<bool?>(Holds(lease.Protocol, lease.InternalPort)) : null);

    public bool Holds(MappingProtocol protocol, int port)
    {
        lock (_mappings)
        {
            return _mappings.ContainsKey((protocol, port));
        }
    }

    /// <summary>miniupnpd restarted: every mapping is gone, and the epoch starts again from 0.</summary>
    public void Restart()
    {
        lock (_mappings)
        {
            _mappings.Clear();
            _bootedAt = time.GetUtcNow();
        }
    }

    public async Task<MappingResult> MapAsync(MappingProtocol protocol, int internalPort, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        MapCalls++;
        if (Hangs)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        if (Throws)
        {
            throw new InvalidOperationException("a defect in the client");
        }

        if (Failure is { } failure)
        {
            return failure;
        }

        var now = time.GetUtcNow();
        var seconds = Math.Min(lifetime.TotalSeconds, MaxLeaseSeconds);
        var lease = new PortMappingLease(protocol, internalPort, new IPEndPoint(External, internalPort), now + TimeSpan.FromSeconds(seconds), method)
        {
            Epoch = (uint)(now - _bootedAt).TotalSeconds,
        };
        lock (_mappings)
        {
            _mappings[(protocol, internalPort)] = lease;
        }

        return MappingResult.Mapped(lease);
    }

    public async Task<MappingResult> UnmapAsync(PortMappingLease lease, CancellationToken cancellationToken)
    {
        if (Hangs)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        lock (_mappings)
        {
            _mappings.Remove((lease.Protocol, lease.InternalPort));
            Unmapped.Add(lease);
        }

        return new MappingResult(null, MappingFailure.None, "removed");
    }
}
