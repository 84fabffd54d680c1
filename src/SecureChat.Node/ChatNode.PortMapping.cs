using SecureChat.Net.PortMapping;

namespace SecureChat.Node;

/// <summary>What asking the home router for ports came to, as the node shows it and the reachability classification reads it.</summary>
public sealed partial class ChatNode
{
    /// <summary>
    /// The router's leases for the listen port (TCP) and the DHT port (UDP), or why there are none;
    /// null while the node has not asked (it does not listen, or the first attempt is under way).
    /// </summary>
    public PortMappingStatus? PortMapping { get; internal set; }
}

/// <summary>
/// The outcome of port mapping at one moment: the TCP lease that makes the listen port reachable
/// from outside (null without one), the DHT's UDP lease, and one sentence for a person
/// ("mapped TCP port 7311 to 198.18.0.20:7311 through UPnP-IGD", "no router answered UPnP-IGD,
/// NAT-PMP or PCP", "port mapping is off (--no-port-mapping)").
/// </summary>
public sealed record PortMappingStatus(PortMappingLease? Tcp, PortMappingLease? Udp, string Sentence);
