using System.Net;
using System.Net.NetworkInformation;
using SecureChat.Node.Reachability;
using SecureChat.Protocol.Messages;
using SecureChat.Storage;

namespace SecureChat.Node;

/// <summary>How the outside sees this node: observations from contacts and the DHT, and the classification of them.</summary>
public sealed partial class ChatNode
{
    private readonly ObservedAddresses _observed = new();

    /// <summary>The sentence last announced as <see cref="ReachabilityChanged"/>, so that an unchanged classification is not announced again.</summary>
    private string? _announcedReachability;

    /// <summary>How contacts can reach this node now, and why (docs/discovery.md, "Classification").</summary>
    public ReachabilityReport Reachability() =>
        ReachabilityClassifier.Classify(
            new ReachabilityInputs(Observations(), InterfaceAddresses(), ListenEndPoint, PortMapping?.Tcp),
            Options.Time.GetUtcNow());

    /// <summary>What contacts and the DHT said about where they see this node, oldest first, the DHT's last.</summary>
    public IReadOnlyList<AddressObservation> Observations()
    {
        var observations = _observed.Snapshot().ToList();
        if (_dht is { } dht && dht.ObservedAddress is { } seen)
        {
            // BEP 42's address is the DHT's current word (two DHT nodes agreeing), on its UDP socket.
            var local = dht.Host.LocalEndPoint;
            observations.Add(new AddressObservation(
                ObservationSource.Dht, AddressObservation.DhtWitness, null,
                new IPEndPoint(ObservedEndpoint.Normalize(local.Address), local.Port),
                new IPEndPoint(ObservedEndpoint.Normalize(seen.Address), seen.Port),
                ConnectionDirection.Outbound, Options.Time.GetUtcNow(), Live: true));
        }

        return observations;
    }

    /// <summary>How a contact is connected now; null while it is not.</summary>
    public ContactConnection? ConnectionOf(Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        return _links.TryGetValue(contact.Account, out var link) && link.Session is { IsOnline: true } session ? session.Description : null;
    }

    /// <summary>
    /// A contact's hello said where it sees this node (a claim, counted by the classification
    /// only beside an independent one). Announces the classification when it changed.
    /// </summary>
    internal void Observe(AddressObservation observation)
    {
        _observed.Add(observation);
        AnnounceReachability();
    }

    /// <summary>The connection an observation was made on ended: from now on it ages out.</summary>
    internal void ObservationEnded(AddressObservation observation) => _observed.Ended(observation, Options.Time.GetUtcNow());

    /// <summary>
    /// Publishes <see cref="ReachabilityChanged"/> when the sentence differs from the one last
    /// published. Whatever changes an input of the classification (an observation, the port
    /// mapping) calls it.
    /// </summary>
    internal void AnnounceReachability()
    {
        var report = Reachability();
        if (Interlocked.Exchange(ref _announcedReachability, report.Sentence) != report.Sentence)
        {
            Events.Publish(new ReachabilityChanged(report.Kind, report.Sentence));
        }
    }

    /// <summary>The addresses of this machine's interfaces that are up, loopback excepted, both IP versions.</summary>
    private List<IPAddress> InterfaceAddresses()
    {
        try
        {
            return [.. NetworkInterface.GetAllNetworkInterfaces()
                .Where(i => i.OperationalStatus == OperationalStatus.Up && i.NetworkInterfaceType != NetworkInterfaceType.Loopback)
                .SelectMany(i => i.GetIPProperties().UnicastAddresses)
                .Select(a => a.Address)
                .Where(a => !IPAddress.IsLoopback(a))];
        }
        catch (NetworkInformationException)
        {
            return [];
        }
    }
}
