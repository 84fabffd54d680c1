using System.Net;
using SecureChat.Net;

namespace SecureChat.Node.Discovery;

/// <summary>How a node finds its contacts and lets them find it: the Mainline DHT and LAN beacons.</summary>
public sealed record DiscoveryOptions
{
    /// <summary>Join the Mainline DHT: publish a sealed rendezvous record for every contact, and look contacts up there.</summary>
    public bool Dht { get; init; } = true;

    /// <summary>The local UDP endpoint of the DHT node.</summary>
    public IPEndPoint DhtEndPoint { get; init; } = new(IPAddress.Any, PeerEndpoint.DefaultPort);

    /// <summary>The nodes to join the DHT through (resolved); empty means the public routers.</summary>
    public IReadOnlyList<IPEndPoint> Bootstrap { get; init; } = [];

    /// <summary>Where to keep the nodes the DHT node knew (<c>dht.json</c>), so a restart rejoins without the routers; null: nowhere.</summary>
    public string? DhtStateFile { get; init; }

    /// <summary>Also publish a plain record under the account key, so anyone who has the ID can connect. Off unless asked for.</summary>
    public bool Discoverable { get; init; }

    /// <summary>Announce this node to contacts on the local network with multicast beacons, and listen for theirs.</summary>
    public bool Lan { get; init; } = true;

    /// <summary>The interface address beacons go out on and are received on (Any: the system's choice).</summary>
    public IPAddress LanInterface { get; init; } = IPAddress.Any;

    public IPAddress LanGroup { get; init; } = IPAddress.Parse("239.255.73.11");

    public int LanPort { get; init; } = 7313;

    /// <summary>How often beacons go out.</summary>
    public TimeSpan BeaconInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How often the publisher checks whether a record needs publishing (new contact, new address, new day).</summary>
    public TimeSpan PublishCheck { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Records are put again this often: DHT nodes drop items after about two hours.</summary>
    public TimeSpan Republish { get; init; } = TimeSpan.FromMinutes(30);
}
