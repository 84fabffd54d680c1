using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using SecureChat.Protocol.Identity;

namespace SecureChat.Node;

/// <summary>Where contacts are found (DHT, LAN hints) and the addresses this node advertises.</summary>
public sealed partial class ChatNode
{
    /// <summary>True when the node can look contacts up (it runs a DHT node).</summary>
    internal bool CanLocate => _dht is not null;

    /// <summary>Where a contact says it can be reached, from the DHT; empty when it is not found (or there is no DHT).</summary>
    internal async Task<IReadOnlyList<IPEndPoint>> LocateAsync(AccountId contact, CancellationToken cancellationToken)
    {
        if (_dht is null)
        {
            return [];
        }

        try
        {
            return await _dht.LocateAsync(contact, cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            return [];
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
    /// The endpoints this node tells contacts about: first the one its router maps to the listen
    /// port (<see cref="PortMapping"/>); then its listen address when it is a specific one; when it
    /// listens on every address, the address DHT nodes see it at and each interface's (loopback
    /// excepted), all with the listen port.
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
            return mapped is null ? [listening] : [mapped, listening];
        }

        var endpoints = new List<IPEndPoint>(mapped is null ? [] : [mapped]);
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
