using System.Net;
using System.Net.Sockets;

namespace SecureChat.Net;

/// <summary>
/// Addresses as a dual-stack node should see them. A socket that takes IPv4 and IPv6 (an IPv6
/// socket with <see cref="Socket.DualMode"/>, as the listener and .NET's default client socket
/// are) reports an IPv4 peer as an IPv4-mapped IPv6 address (<c>::ffff:a.b.c.d</c>, RFC 4291
/// section 2.5.5.2). The same peer would then count, pin and show under two names; every address
/// the node records, compares or shows goes through <see cref="Normalize(IPAddress)"/> first.
/// </summary>
public static class DualStack
{
    /// <summary>The IPv4 address of an IPv4-mapped one; any other address as it is.</summary>
    public static IPAddress Normalize(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
    }

    /// <summary>The endpoint with its address normalized (<see cref="Normalize(IPAddress)"/>); anything but an IP endpoint as it is.</summary>
    public static EndPoint? Normalize(EndPoint? endPoint) =>
        endPoint is IPEndPoint { Address.IsIPv4MappedToIPv6: true } ip ? new IPEndPoint(ip.Address.MapToIPv4(), ip.Port) : endPoint;

    /// <summary>
    /// True for an IPv6 address others on the internet can reach this host at: global unicast
    /// (2000::/3), which includes the documentation prefix 2001:db8::/32 the simulated internet
    /// uses. Link-local addresses (fe80::/10) reach only the local link and need a zone to dial;
    /// unique local ones (fc00::/7) reach only the site, where the IPv4 LAN address already
    /// reaches this node, and would take one of the few places in a rendezvous record.
    /// </summary>
    public static bool IsGlobalUnicast(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.AddressFamily != AddressFamily.InterNetworkV6 || address.IsIPv4MappedToIPv6)
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        return (bytes[0] & 0xE0) == 0x20;
    }
}
