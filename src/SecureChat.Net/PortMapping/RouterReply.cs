using System.Net;
using System.Net.Sockets;

namespace SecureChat.Net.PortMapping;

/// <summary>
/// What a NAT-PMP or PCP decoder made of a router's datagram: the decoded value, or the failure
/// and its sentence. A decoder never throws on a router's bytes.
/// </summary>
public readonly record struct RouterReply<T>(T? Value, MappingFailure Failure, string Sentence)
    where T : class
{
    public bool Succeeded => Value is not null;

    public static RouterReply<T> Ok(T value) => new(value, MappingFailure.None, "");

    public static RouterReply<T> Fail(MappingFailure failure, string sentence) => new(null, failure, sentence);
}

/// <summary>Whether an external address a router reports is one the internet can reach.</summary>
public static class ExternalAddressPolicy
{
    /// <summary>
    /// The simulated internet's public segment (198.18.0.0/15, RFC 2544's benchmarking range) is
    /// treated as public: inside the test world it is the internet, and a real router never reports
    /// it as its external address, so accepting it costs nothing outside tests.
    /// </summary>
    private static bool IsBenchmarking(ReadOnlySpan<byte> b) => b[0] == 198 && (b[1] & 0xFE) == 18;

    /// <summary>
    /// False for an address a mapping there would not make this node reachable at: unspecified,
    /// private (RFC 1918), shared (RFC 6598, a carrier's NAT), loopback, link-local, multicast or
    /// reserved, and the IPv6 counterparts (unique local, link-local, loopback, unspecified).
    /// </summary>
    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        Span<byte> b = stackalloc byte[16];
        if (!address.TryWriteBytes(b, out var length))
        {
            return false;
        }

        if (address.AddressFamily == AddressFamily.InterNetwork && length == 4)
        {
            if (IsBenchmarking(b))
            {
                return true;
            }

            return !(b[0] == 0 // "this network", including 0.0.0.0
                || b[0] == 10
                || (b[0] == 172 && (b[1] & 0xF0) == 16)
                || (b[0] == 192 && b[1] == 168)
                || (b[0] == 100 && (b[1] & 0xC0) == 64)
                || b[0] == 127
                || (b[0] == 169 && b[1] == 254)
                || b[0] >= 224); // multicast, reserved and broadcast
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6 && length == 16)
        {
            return !(IPAddress.IPv6None.Equals(address) || IPAddress.IPv6Loopback.Equals(address)
                || address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast
                || address.IsIPv6UniqueLocal);
        }

        return false;
    }
}
