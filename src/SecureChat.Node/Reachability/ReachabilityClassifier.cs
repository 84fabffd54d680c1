using System.Net;
using System.Net.Sockets;
using SecureChat.Net.PortMapping;
using SecureChat.Protocol.Messages;

namespace SecureChat.Node.Reachability;

/// <summary>How contacts can reach this node, as far as it knows (docs/discovery.md, "Classification").</summary>
public enum ReachabilityKind
{
    /// <summary>Too few observations agree to say.</summary>
    Unknown,

    /// <summary>Seen at one of its own interface addresses, or dialed there from outside: its listen port is reachable.</summary>
    Public,

    /// <summary>The router maps its listen port (UPnP-IGD, NAT-PMP or PCP).</summary>
    Mapped,

    /// <summary>Behind a NAT that keeps the local port of outgoing connections: one a later hole punch can work through.</summary>
    Punchable,

    /// <summary>Behind a NAT that gives outgoing connections ports of its own choice.</summary>
    Symmetric,

    /// <summary>The node does not listen: it dials, and no one can dial it.</summary>
    NotListening,
}

/// <summary>What the classification reads: the observations, the node's own addresses and ports, and the router's lease.</summary>
/// <param name="Observations">Where contacts and the DHT saw this node (<see cref="ObservedAddresses"/>, with the DHT's word).</param>
/// <param name="InterfaceAddresses">The addresses of this machine's network interfaces (loopback excepted).</param>
/// <param name="Listen">Where the node accepts peers; null when it does not listen.</param>
/// <param name="MappedTcp">The router's lease for the listen port (<see cref="ChatNode.PortMapping"/>); null without one.</param>
public sealed record ReachabilityInputs(
    IReadOnlyList<AddressObservation> Observations,
    IReadOnlyList<IPAddress> InterfaceAddresses,
    IPEndPoint? Listen,
    PortMappingLease? MappedTcp);

/// <summary>
/// The node's reachability: its kind, the endpoint contacts can reach it at (or, behind a NAT,
/// the address it is seen at), and one sentence for a person that names the address and why.
/// </summary>
/// <param name="Kind">The class (IPv4, or IPv6 when only IPv6 makes the node reachable).</param>
/// <param name="Endpoint">Where contacts reach the node (<see cref="ReachabilityKind.Public"/>, <see cref="ReachabilityKind.Mapped"/>), or the address a NAT shows (port 0 when it is not one port); null when unknown.</param>
/// <param name="Sentence">One sentence for a person: how the node can be reached and why.</param>
/// <param name="Ipv6">The sentence about IPv6 alone, when the node has seen anything of it; null otherwise.</param>
public sealed record ReachabilityReport(ReachabilityKind Kind, IPEndPoint? Endpoint, string Sentence, string? Ipv6);

/// <summary>
/// Classifies this node from what it was told (docs/discovery.md, "Classification"). A pure
/// function of its inputs and the time it is given: no clock, no socket, no state.
/// </summary>
/// <remarks>
/// A peer's word is hostile until others agree with it. An address counts as seen only when two
/// independent witnesses report it: two peers of distinct accounts that connected from distinct
/// addresses, or the DHT (itself already two DHT nodes at distinct addresses agreeing) and one
/// peer. One peer alone never makes the node Public, Punchable or Symmetric: the worst a liar
/// can do alone is nothing. What the node knows itself is no claim: the router's lease, its own
/// interface addresses, and an inbound connection's local endpoint.
/// </remarks>
public static class ReachabilityClassifier
{
    /// <summary>How long a report outlives its connection: a NAT's mapping of a closed connection says little after this.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(30);

    /// <summary>The fewest independent witnesses that make a claim a fact.</summary>
    public const int Agreement = 2;

    private const string RelayClause = "contacts can reach you only through a relay (or when they are reachable themselves)";

    public static ReachabilityReport Classify(ReachabilityInputs inputs, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var fresh = inputs.Observations.Where(o => o.Live || (o.At <= now && now - o.At <= Lifetime)).ToList();
        var ipv6 = Ipv6(fresh.Where(o => o.Observed.AddressFamily == AddressFamily.InterNetworkV6).ToList(), inputs);
        if (inputs.Listen is null)
        {
            return new(ReachabilityKind.NotListening, null, "not listening: this node dials its contacts, and none can dial it", null);
        }

        if (inputs.MappedTcp is { } lease)
        {
            return WithIpv6(new(ReachabilityKind.Mapped, lease.External, $"reachable at {lease.External} (port mapped by the router through {lease.Method})", null), ipv6);
        }

        var ipv4 = Ipv4(fresh.Where(o => o.Observed.AddressFamily == AddressFamily.InterNetwork).ToList(), inputs);
        if (ipv4.Kind is not (ReachabilityKind.Public or ReachabilityKind.Mapped) && ipv6 is { Reachable: { } at } reachable)
        {
            // Only IPv6 reaches the node: that is how contacts get in, so it leads.
            return new(ReachabilityKind.Public, at, $"{reachable.Sentence}; over IPv4 {ipv4.Sentence}", reachable.Sentence);
        }

        return WithIpv6(ipv4, ipv6);
    }

    /// <summary>
    /// Counts the independent witnesses among reports: the DHT once, and peers of distinct
    /// accounts that connected from distinct addresses (a second account at an address already
    /// counted is the same party as far as anyone can tell).
    /// </summary>
    public static int Witnesses(IEnumerable<AddressObservation> observations)
    {
        ArgumentNullException.ThrowIfNull(observations);
        var accounts = new HashSet<string>(StringComparer.Ordinal);
        var addresses = new HashSet<IPAddress>();
        var dht = false;
        var count = 0;
        foreach (var o in observations)
        {
            if (o.Source == ObservationSource.Dht)
            {
                count += dht ? 0 : 1;
                dht = true;
            }
            else if (o.WitnessAddress is { } address && !accounts.Contains(o.Witness) && !addresses.Contains(ObservedEndpoint.Normalize(address)))
            {
                accounts.Add(o.Witness);
                addresses.Add(ObservedEndpoint.Normalize(address));
                count++;
            }
        }

        return count;
    }

    private static ReachabilityReport Ipv4(List<AddressObservation> observations, ReachabilityInputs inputs)
    {
        var listenPort = inputs.Listen!.Port;
        var agreed = observations.GroupBy(o => o.Observed.Address)
            .Select(g => (Address: g.Key, Reports: g.ToList(), Witnesses: Witnesses(g)))
            .Where(g => g.Witnesses >= Agreement)
            .OrderByDescending(g => g.Witnesses)
            .ThenByDescending(g => g.Reports.Max(o => o.At))
            .FirstOrDefault();
        if (agreed.Reports is null)
        {
            return Unconfirmed(observations, inputs);
        }

        var (address, reports, _) = agreed;
        if (inputs.InterfaceAddresses.Any(a => ObservedEndpoint.Normalize(a).Equals(address)))
        {
            var endpoint = new IPEndPoint(address, listenPort);
            return new(ReachabilityKind.Public, endpoint, $"reachable at {endpoint} (a public address)", null);
        }

        // Peers that dialed in reached the listen port at that address: a port forwarded by hand,
        // or a 1:1 NAT. The port is the one they dialed.
        var inbound = reports.Where(o => o.Direction == ConnectionDirection.Inbound).ToList();
        if (Witnesses(inbound) >= Agreement)
        {
            var port = inbound.GroupBy(o => o.Observed.Port).MaxBy(g => g.Count())!.Key;
            var endpoint = new IPEndPoint(address, port);
            return new(ReachabilityKind.Public, endpoint, $"reachable at {endpoint} (contacts connected to it from outside: a forwarded port)", null);
        }

        // Behind a NAT. Only connections this node opened show what the NAT does with a port it
        // picked; each witness counts once, on the side its latest report falls.
        var outbound = reports.Where(o => o.Direction == ConnectionDirection.Outbound).ToList();
        var kept = Witnesses(outbound.Where(o => o.PortKept));
        var changed = Witnesses(outbound.Where(o => !o.PortKept));
        var seen = new IPEndPoint(address, 0);
        if (kept >= Agreement && kept > changed)
        {
            return new(ReachabilityKind.Punchable, seen, $"behind a NAT without port mapping (seen at {address}, ports kept): {RelayClause}", null);
        }

        if ((changed >= Agreement && changed >= kept) || SameLocalPortMappedApart(outbound))
        {
            return new(ReachabilityKind.Symmetric, seen, $"behind a NAT that changes ports (symmetric; seen at {address}): {RelayClause}", null);
        }

        return new(ReachabilityKind.Unknown, seen, $"behind a NAT without port mapping (seen at {address}; whether it keeps ports is not yet known): {RelayClause}", null);
    }

    /// <summary>
    /// No address has two witnesses. The DHT's word alone decides nothing either, but it is
    /// already two DHT nodes agreeing, so the sentence names it as what it is, a lead not yet
    /// confirmed; a lone contact's word is not even repeated, since anyone can say anything.
    /// </summary>
    private static ReachabilityReport Unconfirmed(List<AddressObservation> observations, ReachabilityInputs inputs)
    {
        if (observations.LastOrDefault(o => o.Source == ObservationSource.Dht) is not { } dht)
        {
            return new(ReachabilityKind.Unknown, null, "not yet known: waiting for contacts or the DHT to say how they see this node", null);
        }

        var address = dht.Observed.Address;
        return inputs.InterfaceAddresses.Any(a => ObservedEndpoint.Normalize(a).Equals(address))
            ? new(ReachabilityKind.Unknown, new IPEndPoint(address, inputs.Listen!.Port), $"not yet confirmed: the DHT sees this node at its own address {address}, and no contact has said so yet", null)
            : new(ReachabilityKind.Unknown, new IPEndPoint(address, 0), $"not yet confirmed: the DHT sees this node at {address}, behind a NAT without port mapping, and no contact has said so yet: {RelayClause}", null);
    }

    /// <summary>Two independent witnesses saw one local port of this node's at two different external ports: a mapping per destination.</summary>
    private static bool SameLocalPortMappedApart(List<AddressObservation> outbound) =>
        outbound.Where(o => o.Source == ObservationSource.Peer)
            .GroupBy(o => o.Local.Port)
            .Any(g => Witnesses(g.GroupBy(o => o.Observed.Port).Select(p => p.First())) >= Agreement);

    /// <summary>
    /// IPv6 has no NAT to ask about: what matters is whether a firewall lets peers in. An inbound
    /// connection over IPv6 from a public address is this node's own proof (its socket accepted
    /// it); its local endpoint is where the peer reached it. Without one, the node only knows that
    /// contacts see it at one of its own IPv6 addresses and that none has come in over it yet.
    /// </summary>
    private static Ipv6Finding? Ipv6(List<AddressObservation> observations, ReachabilityInputs inputs)
    {
        if (inputs.Listen is null || observations.Count == 0)
        {
            return null;
        }

        var inbound = observations
            .Where(o => o.Direction == ConnectionDirection.Inbound
                && o.Local.Address is { AddressFamily: AddressFamily.InterNetworkV6, IsIPv4MappedToIPv6: false } local
                && ExternalAddressPolicy.IsPublic(local)
                && o.WitnessAddress is { } witness && ExternalAddressPolicy.IsPublic(witness))
            .OrderByDescending(o => o.At)
            .FirstOrDefault();
        if (inbound is not null)
        {
            var at = new IPEndPoint(inbound.Local.Address, inbound.Local.Port);
            return new Ipv6Finding(at, $"reachable over IPv6 at {at} (a contact connected in over IPv6)");
        }

        var own = observations.Select(o => o.Observed.Address)
            .FirstOrDefault(a => ExternalAddressPolicy.IsPublic(a) && inputs.InterfaceAddresses.Contains(a));
        return own is null
            ? null
            : new Ipv6Finding(null, $"IPv6 at {own} behind a firewall or not yet tried: no contact has connected in over IPv6");
    }

    private static ReachabilityReport WithIpv6(ReachabilityReport report, Ipv6Finding? ipv6) =>
        ipv6 is null ? report : report with { Sentence = $"{report.Sentence}; {ipv6.Sentence}", Ipv6 = ipv6.Sentence };

    private sealed record Ipv6Finding(IPEndPoint? Reachable, string Sentence);
}
