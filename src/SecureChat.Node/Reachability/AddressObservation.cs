using System.Net;

namespace SecureChat.Node.Reachability;

/// <summary>Who said where this node is seen.</summary>
public enum ObservationSource
{
    /// <summary>A peer, in the <c>observed_endpoint</c> of its hello on a TCP connection.</summary>
    Peer,

    /// <summary>The Mainline DHT (BEP 42's <c>ip</c>), on the DHT's UDP socket: already two DHT nodes at different addresses agreeing.</summary>
    Dht,
}

/// <summary>Which side opened the connection an observation was made on.</summary>
public enum ConnectionDirection
{
    /// <summary>This node dialed: the local port is one the system picked, which a NAT keeps or changes.</summary>
    Outbound,

    /// <summary>The peer dialed this node's listen port: proof that the port was reachable from where the peer is.</summary>
    Inbound,
}

/// <summary>
/// One report of where this node is seen from outside. <see cref="Observed"/> is the witness's
/// word (a claim); <see cref="Local"/> and <see cref="WitnessAddress"/> are this node's own
/// socket's facts, which is what lets the classification tell a kept port from a changed one and
/// count distinct witnesses.
/// </summary>
/// <param name="Source">A peer's hello, or the DHT.</param>
/// <param name="Witness">The peer's account ID; <c>dht</c> for the DHT.</param>
/// <param name="WitnessAddress">Where the peer's connection came from, as this node's socket saw it; null for the DHT (many nodes).</param>
/// <param name="Local">This node's end of the connection (or the DHT's UDP socket): the address and port the witness's view is compared with.</param>
/// <param name="Observed">Where the witness says it sees this node.</param>
/// <param name="Direction">Which side dialed (the DHT's exchanges count as outbound: this node sends first).</param>
/// <param name="At">When the observation was made, or when the connection it was made on ended.</param>
/// <param name="Live">True while the connection it was made on is up (and for the DHT's current word): it does not go stale.</param>
public sealed record AddressObservation(
    ObservationSource Source,
    string Witness,
    IPAddress? WitnessAddress,
    IPEndPoint Local,
    IPEndPoint Observed,
    ConnectionDirection Direction,
    DateTimeOffset At,
    bool Live)
{
    /// <summary>The name of the DHT as a witness.</summary>
    public const string DhtWitness = "dht";

    /// <summary>True when the witness sees the port this node's socket has: no NAT, or a NAT that kept the port.</summary>
    public bool PortKept => Observed.Port == Local.Port;
}
