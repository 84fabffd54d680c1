using System.Net;

namespace SecureChat.Net.PortMapping;

/// <summary>The transport a port mapping opens on the router.</summary>
public enum MappingProtocol
{
    Tcp,
    Udp,
}

/// <summary>Why a router did not give a mapping: each kind is one sentence for a person, never an exception.</summary>
public enum MappingFailure
{
    /// <summary>A mapping was given.</summary>
    None,

    /// <summary>Nothing answered on the gateway (no router of this kind, or it is off).</summary>
    NoRouter,

    /// <summary>The router answered and said no (a result code, a SOAP fault, mapping switched off).</summary>
    Refused,

    /// <summary>The router answered with bytes that do not follow the protocol (truncated, wrong version or opcode, a lie about what was asked).</summary>
    Malformed,

    /// <summary>The router's external address is not one the internet can reach (private, shared or unspecified): a mapping there would not make this node reachable.</summary>
    NotPublic,
}

/// <summary>
/// A mapping a router holds for this node: packets from anyone to <see cref="External"/> reach
/// <see cref="InternalPort"/> here, until <see cref="Expires"/> unless renewed. <see cref="Method"/>
/// names the protocol that obtained it ("NAT-PMP", "PCP", "UPnP-IGD"), for the sentence a person reads.
/// </summary>
public sealed record PortMappingLease(MappingProtocol Protocol, int InternalPort, IPEndPoint External, DateTimeOffset Expires, string Method)
{
    /// <summary>
    /// The router's epoch (seconds since its mapping state began) in the answer that granted the
    /// lease, for NAT-PMP and PCP; null for UPnP-IGD, which has none. An epoch that goes back, or
    /// advances less than the time that passed, tells that the router lost its mappings (RFC 6886
    /// section 3.6, RFC 6887 section 8.5).
    /// </summary>
    public uint? Epoch { get; init; }
}

/// <summary>What a request to a router came to: a lease, or the failure and its sentence.</summary>
public sealed record MappingResult(PortMappingLease? Lease, MappingFailure Failure, string Sentence)
{
    public static MappingResult Mapped(PortMappingLease lease) =>
        new(lease, MappingFailure.None, $"mapped {lease.Protocol} port {lease.InternalPort} to {lease.External} through {lease.Method}");

    public static MappingResult Failed(MappingFailure failure, string sentence) => new(null, failure, sentence);
}

/// <summary>
/// One way of asking the router for a port mapping (NAT-PMP, PCP, UPnP-IGD). Every reply from the
/// router is input from outside: a mapper checks it and returns a <see cref="MappingResult"/>;
/// only cancellation throws.
/// </summary>
public interface IPortMapper
{
    /// <summary>The protocol's name, as it appears in <see cref="PortMappingLease.Method"/>.</summary>
    string Method { get; }

    /// <summary>Asks for <paramref name="internalPort"/> to be reachable from outside for <paramref name="lifetime"/>; asking again for the same port renews the lease.</summary>
    Task<MappingResult> MapAsync(MappingProtocol protocol, int internalPort, TimeSpan lifetime, CancellationToken cancellationToken);

    /// <summary>Gives the mapping back (at stop); the result says whether the router agreed.</summary>
    Task<MappingResult> UnmapAsync(PortMappingLease lease, CancellationToken cancellationToken);
}
