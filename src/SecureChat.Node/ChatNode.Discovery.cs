using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using SecureChat.Node.Discovery;
using SecureChat.Protocol.Identity;

namespace SecureChat.Node;

/// <summary>Where contacts are found (DHT, LAN hints) and the addresses this node advertises.</summary>
public sealed partial class ChatNode
{
    /// <summary>True once a lookup can find anything: the node runs a DHT node (or a test gave a locator) and it has joined (see <see cref="IContactLocator.Ready"/>).</summary>
    internal bool LocateReady => Locator is { Ready: true };

    private IContactLocator? Locator => Options.Locator ?? _dht;

    /// <summary>Where a contact says it can be reached, from the DHT; empty when it is not found (or there is no DHT).</summary>
    internal async Task<IReadOnlyList<IPEndPoint>> LocateAsync(AccountId contact, bool first, CancellationToken cancellationToken)
    {
        if (Locator is not { } locator)
        {
            return [];
        }

        try
        {
            return await locator.LocateAsync(contact, first, cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            return [];
        }
    }

    /// <summary>
    /// The locator has just become ready (the DHT joined): every link that waited for it looks its
    /// contact up now, once; after that each follows its own backoff.
    /// </summary>
    internal void LocatorReady()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        foreach (var link in _links.Values)
        {
            link.LocateSoon(quick: 0);
        }
    }

    /// <summary>
    /// This node has just published, for the first time or with new endpoints, where
    /// <paramref name="contact"/> can reach it. That is the moment the contact's own record is most
    /// likely there too (two nodes that start together publish together), so the link looks the
    /// contact up at once and a few times more a moment apart (<see cref="ContactLink.QuickLocatesAfterPublish"/>).
    /// </summary>
    internal void PublishedFor(AccountId contact)
    {
        if (Volatile.Read(ref _disposed) == 0 && _links.TryGetValue(contact.Text, out var link))
        {
            link.LocateSoon(ContactLink.QuickLocatesAfterPublish);
        }
    }

    /// <summary>A contact may be reachable at an address (a LAN beacon saw it): dial it now unless already connected.</summary>
    internal void Hint(AccountId contact, IPEndPoint endPoint, string source)
    {
        if (Volatile.Read(ref _disposed) != 0 || !_links.TryGetValue(contact.Text, out var link) || link.IsOnline)
        {
            return;
        }

        _logger.LogDebug("{Source} says {Contact} is at {EndPoint}", source, contact.Fingerprint, endPoint);
        link.Hint(endPoint);
    }

    /// <summary>Where contacts can reach this node, as it tells them over the DHT (see <see cref="OwnEndpoints"/>); empty while it does not listen.</summary>
    public IReadOnlyList<IPEndPoint> AdvertisedEndPoints() => OwnEndpoints(_dht?.ObservedAddress);

    /// <summary>
    /// The endpoints this node tells contacts about: its listen address when it is a specific one;
    /// when it listens on every address, each interface's (loopback excepted) and the address DHT
    /// nodes see it at, all with the listen port.
    /// </summary>
    internal List<IPEndPoint> OwnEndpoints(IPEndPoint? observed)
    {
        if (ListenEndPoint is not { } listening)
        {
            return [];
        }

        if (!listening.Address.Equals(IPAddress.Any) && !listening.Address.Equals(IPAddress.IPv6Any))
        {
            return [listening];
        }

        var endpoints = new List<IPEndPoint>();
        if (observed is not null)
        {
            endpoints.Add(new IPEndPoint(observed.Address, listening.Port));
        }

        try
        {
            endpoints.AddRange(NetworkInterface.GetAllNetworkInterfaces()
                .Where(i => i.OperationalStatus == OperationalStatus.Up && i.NetworkInterfaceType != NetworkInterfaceType.Loopback)
                .SelectMany(i => i.GetIPProperties().UnicastAddresses)
                .Where(a => a.Address.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a.Address))
                .Select(a => new IPEndPoint(a.Address, listening.Port)));
        }
        catch (NetworkInformationException ex)
        {
            _logger.LogDebug("Could not list network interfaces: {Reason}", ex.Message);
        }

        return [.. endpoints.Distinct().Take(Protocol.Discovery.EndpointList.MaxEndpoints)];
    }
}
