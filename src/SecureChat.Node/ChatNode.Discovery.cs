using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using SecureChat.Net;
using SecureChat.Node.Discovery;
using SecureChat.Protocol.Identity;

namespace SecureChat.Node;

/// <summary>Where contacts are found (DHT, LAN hints) and the addresses this node advertises.</summary>
public sealed partial class ChatNode
{
    /// <summary>True once a lookup can find anything: the node runs a DHT node (or a test gave a locator) and it has joined (see <see cref="IContactLocator.Ready"/>).</summary>
    internal bool LocateReady => Locator is { Ready: true };

    private IContactLocator? Locator => Options.Locator ?? _dht;

    /// <summary>Where a contact says it can be reached, from the DHT (IPv4-mapped addresses as IPv4); empty when it is not found (or there is no DHT).</summary>
    internal async Task<IReadOnlyList<IPEndPoint>> LocateAsync(AccountId contact, bool first, CancellationToken cancellationToken)
    {
        if (Locator is not { } locator)
        {
            return [];
        }

        try
        {
            var found = await locator.LocateAsync(contact, first, cancellationToken).ConfigureAwait(false);
            return [.. found.Select(e => (IPEndPoint)DualStack.Normalize(e)!).Distinct()];
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

        endPoint = (IPEndPoint)DualStack.Normalize(endPoint)!;
        _logger.LogDebug("{Source} says {Contact} is at {EndPoint}", source, contact.Fingerprint, endPoint);
        link.Hint(endPoint);
    }

    /// <summary>Where contacts can reach this node, as it tells them over the DHT (see <see cref="OwnEndpoints"/>); empty while it does not listen.</summary>
    public IReadOnlyList<IPEndPoint> AdvertisedEndPoints() => OwnEndpoints(_dht?.ObservedAddress);

    /// <summary>
    /// The endpoints this node tells contacts about: first the one its router maps to the listen
    /// port (<see cref="PortMapping"/>); then its listen address when it is a specific one; when
    /// it listens on every address, the address DHT nodes see it at, then (when it listens on IPv6
    /// too) each interface's global IPv6 address, then each interface's IPv4 address (loopback
    /// excepted), all with the listen port (see <see cref="OrderOwnEndpoints"/>).
    /// </summary>
    internal List<IPEndPoint> OwnEndpoints(IPEndPoint? observed)
    {
        if (ListenEndPoint is not { } listening)
        {
            return [];
        }

        // The endpoint the router forwards comes first: it is the one the internet can reach.
        var mapped = MappedEndPoint(listening);
        if (!listening.Address.Equals(IPAddress.Any) && !listening.Address.Equals(IPAddress.IPv6Any))
        {
            var own = new IPEndPoint(DualStack.Normalize(listening.Address), listening.Port);
            return mapped is null ? [own] : [mapped, own];
        }

        var leading = new List<IPEndPoint>(mapped is null ? [] : [mapped]);
        if (observed is not null)
        {
            leading.Add(new IPEndPoint(observed.Address, listening.Port));
        }

        var interfaces = new List<IPAddress>();
        try
        {
            interfaces.AddRange(NetworkInterface.GetAllNetworkInterfaces()
                .Where(i => i.OperationalStatus == OperationalStatus.Up && i.NetworkInterfaceType != NetworkInterfaceType.Loopback)
                .SelectMany(i => i.GetIPProperties().UnicastAddresses)
                .Select(a => a.Address));
        }
        catch (NetworkInformationException ex)
        {
            _logger.LogDebug("Could not list network interfaces: {Reason}", ex.Message);
        }

        return OrderOwnEndpoints(leading, interfaces, listening.Port, withIpv6: listening.Address.Equals(IPAddress.IPv6Any));
    }

    /// <summary>
    /// The order of the endpoints a node advertises, which is the order a contact's dialer prefers
    /// among those of a family: <paramref name="leading"/> first (the public ones others see this
    /// node at: mapped by the router, observed), then the global unicast IPv6 addresses of
    /// <paramref name="interfaces"/> (with <paramref name="withIpv6"/>: a listener on IPv6 too),
    /// which reach this node from anywhere unless a firewall drops them, then their IPv4 addresses,
    /// which behind a NAT reach it only from the same network. Link-local and unique local IPv6
    /// addresses are left out (see <see cref="DualStack.IsGlobalUnicast"/>), as are loopback ones
    /// and, on an IPv4-only listener, every IPv6 one; IPv4-mapped addresses count as IPv4, each
    /// endpoint once, and at most
    /// <see cref="Protocol.Discovery.EndpointList.MaxEndpoints"/> in all.
    /// </summary>
    internal static List<IPEndPoint> OrderOwnEndpoints(IEnumerable<IPEndPoint> leading, IEnumerable<IPAddress> interfaces, int port, bool withIpv6)
    {
        var addresses = interfaces.Select(DualStack.Normalize).Where(a => !IPAddress.IsLoopback(a)).ToList();
        IEnumerable<IPEndPoint> ordered =
        [
            .. leading.Select(e => new IPEndPoint(DualStack.Normalize(e.Address), e.Port)).Where(e => withIpv6 || e.AddressFamily == AddressFamily.InterNetwork),
            .. addresses.Where(a => withIpv6 && DualStack.IsGlobalUnicast(a)).Select(a => new IPEndPoint(a, port)),
            .. addresses.Where(a => a.AddressFamily == AddressFamily.InterNetwork).Select(a => new IPEndPoint(a, port)),
        ];
        return [.. ordered.Distinct().Take(Protocol.Discovery.EndpointList.MaxEndpoints)];
    }
}
