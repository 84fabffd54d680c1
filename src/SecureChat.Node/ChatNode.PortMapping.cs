using System.Net;
using SecureChat.Net.PortMapping;
using SecureChat.Node.Reachability;

namespace SecureChat.Node;

/// <summary>What asking the home router for ports came to, as the node shows it and the reachability classification reads it.</summary>
public sealed partial class ChatNode
{
    private PortMappingService? _portMapping;

    /// <summary>
    /// The router's leases for the listen port (TCP) and the DHT port (UDP), or why there are none;
    /// null while the node has not asked (it does not listen, or the first attempt is under way).
    /// </summary>
    public PortMappingStatus? PortMapping { get; internal set; }

    /// <summary>
    /// The TCP endpoint the router forwards to the listen port, when it still maps the port the node
    /// listens on: the first endpoint this node advertises.
    /// </summary>
    private IPEndPoint? MappedEndPoint(IPEndPoint listening) =>
        PortMapping?.Tcp is { } lease && lease.InternalPort == listening.Port ? lease.External : null;

    /// <summary>Starts keeping the router's mappings (<see cref="NodeOptions.PortMapping"/>), or says that it is off.</summary>
    private void StartPortMapping(PortMappingOptions? options)
    {
        if (options is null)
        {
            return;
        }

        if (!options.Enabled)
        {
            PortMapping = new PortMappingStatus(null, null, PortMappingService.OffSentence);
            return;
        }

        if (ListenEndPoint is { } listening && IPAddress.IsLoopback(listening.Address))
        {
            // No router can forward to a loopback address; and a node a test runs on loopback sends nothing to the real gateway.
            PortMapping = new PortMappingStatus(null, null, $"port mapping is not tried: the node listens on {listening.Address} only, which no router can forward to");
            return;
        }

        _portMapping = new PortMappingService(options, Options.Time, _logger, () => (ListenEndPoint?.Port, DhtEndPoint?.Port), options.Clients ?? GatewayClients(options), OnPortMapping);
        _portMapping.Start();
    }

    /// <summary>Gives the router its mappings back (bounded by <see cref="PortMappingOptions.UnmapTimeout"/>).</summary>
    private async ValueTask StopPortMappingAsync()
    {
        if (_portMapping is { } service)
        {
            await service.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A round of the mapping service ended. News (a lease gained, lost or moved) goes to the UIs,
    /// with the reachability sentence it may change; a new external TCP endpoint is published to
    /// contacts at once.
    /// </summary>
    private void OnPortMapping(PortMappingStatus status, bool news)
    {
        var before = PortMapping?.Tcp?.External;
        PortMapping = status;
        if (!news)
        {
            return;
        }

        Events.Publish(new PortMappingChanged(status));
        AnnounceReachability();
        if (!Equals(before, status.Tcp?.External))
        {
            _dht?.Kick();
        }
    }

    /// <summary>The clients for the default gateway, made again only when the gateway changes (a PCP client keeps its mappings' nonces).</summary>
    private Func<IReadOnlyList<MappingClient>> GatewayClients(PortMappingOptions options)
    {
        IPAddress? gateway = null;
        IReadOnlyList<MappingClient>? clients = null;
        return () =>
        {
            var now = DefaultGateway.FindIPv4();
            if (clients is null || !Equals(now, gateway))
            {
                gateway = now;
                clients = PortMappingService.ClientsFor(options.Methods, now, Options.Time);
            }

            return clients;
        };
    }
}

/// <summary>
/// The outcome of port mapping at one moment: the TCP lease that makes the listen port reachable
/// from outside (null without one), the DHT's UDP lease, and one sentence for a person
/// ("mapped TCP port 7311 to 198.18.0.20:7311 through UPnP-IGD", "no router answered UPnP-IGD,
/// NAT-PMP or PCP", "port mapping is off (--no-port-mapping)").
/// </summary>
public sealed record PortMappingStatus(PortMappingLease? Tcp, PortMappingLease? Udp, string Sentence);

/// <summary>Port mapping changed in a way a person sees: a lease gained, lost or moved to a new external endpoint, or a new reason for none.</summary>
public sealed record PortMappingChanged(PortMappingStatus Status) : NodeEvent;
