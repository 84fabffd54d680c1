using SecureChat.Net.PortMapping;

namespace SecureChat.Node.Reachability;

/// <summary>A protocol the node may ask the home router for a port mapping with.</summary>
public enum PortMappingMethod
{
    /// <summary>Port Control Protocol (RFC 6887), UDP to the gateway's port 5351.</summary>
    Pcp,

    /// <summary>NAT Port Mapping Protocol (RFC 6886), UDP to the gateway's port 5351.</summary>
    NatPmp,

    /// <summary>UPnP Internet Gateway Device: SSDP discovery, then SOAP over HTTP.</summary>
    Upnp,
}

/// <summary>
/// How the node asks its router to forward its ports (docs/discovery.md, "Port mapping"): which
/// protocols in which order, the lease it asks for, and how often it renews and checks.
/// </summary>
public sealed record PortMappingOptions
{
    /// <summary>
    /// PCP first: one datagram maps a port and names the external address, and a router that knows
    /// only NAT-PMP refuses PCP's version at once. NAT-PMP next, on the same port and as cheap.
    /// UPnP-IGD last: a three-second multicast search, then HTTP and XML, for the routers that
    /// speak only it. One at a time rather than raced, so that one router never holds two mappings
    /// of the same port through two protocols.
    /// </summary>
    public static readonly IReadOnlyList<PortMappingMethod> DefaultOrder = [PortMappingMethod.Pcp, PortMappingMethod.NatPmp, PortMappingMethod.Upnp];

    /// <summary>The options of <c>--no-port-mapping</c>: the router is never asked.</summary>
    public static readonly PortMappingOptions Off = new() { Enabled = false };

    /// <summary>False: the router is never asked, and the status says so (<c>--no-port-mapping</c>).</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>The protocols tried, in order, until one maps the port (<c>--port-mapping</c> names one alone).</summary>
    public IReadOnlyList<PortMappingMethod> Methods { get; init; } = DefaultOrder;

    /// <summary>The lifetime asked for: RFC 6886 recommends two hours, and a router may give less.</summary>
    public TimeSpan Lease { get; init; } = TimeSpan.FromSeconds(7200);

    /// <summary>
    /// How often each mapping is renewed, which is also how often the node sees that the router
    /// forgot it (a restart) or that the external address moved; a lease is renewed at half its
    /// remaining lifetime at the latest, should the router grant a short one.
    /// </summary>
    public TimeSpan CheckInterval { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// A router that did not map is asked again after <see cref="CheckInterval"/>, then twice as
    /// long each time, up to this: a home without a mapping router costs a few datagrams an hour.
    /// </summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>How long the node waits at stop for the router to take its mappings back.</summary>
    public TimeSpan UnmapTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The clients to ask, in order, instead of those <see cref="Methods"/> names for the default gateway (the tests' fake routers).</summary>
    internal Func<IReadOnlyList<MappingClient>>? Clients { get; init; }
}

/// <summary>
/// One protocol's client as the mapping service uses it: <see cref="IPortMapper"/>, and for
/// UPnP-IGD, whose answers carry no epoch, a way to ask whether the router still holds a mapping
/// (null: the protocol has none, and a renewal shows a lost mapping through the epoch).
/// </summary>
internal sealed record MappingClient(IPortMapper Mapper, Func<PortMappingLease, CancellationToken, Task<bool?>>? IsMapped = null)
{
    public string Method => Mapper.Method;
}
