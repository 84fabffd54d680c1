using System.Net;
using System.Net.Sockets;
using SecureChat.Net.PortMapping;

namespace SecureChat.Node.Reachability;

/// <summary>
/// How a contact is connected now, as this node's socket knows it: who dialed, over which IP
/// version, and the two ends. Facts of this side only; the contact's own view is its business.
/// </summary>
/// <param name="Direction">Outbound when this node dialed the contact; inbound when the contact dialed in.</param>
/// <param name="Remote">The contact's end as this node's socket sees it; null over a transport without addresses.</param>
/// <param name="Local">This node's end of the connection; null over a transport without addresses.</param>
/// <param name="Since">When the hellos were exchanged.</param>
public sealed record ContactConnection(ConnectionDirection Direction, IPEndPoint? Remote, IPEndPoint? Local, DateTimeOffset Since)
{
    /// <summary><c>IPv4</c>, <c>IPv6</c>, or <c>other</c> for a transport without IP addresses.</summary>
    public string Family => Remote?.AddressFamily switch
    {
        AddressFamily.InterNetwork => "IPv4",
        AddressFamily.InterNetworkV6 => "IPv6",
        _ => "other",
    };

    /// <summary>
    /// One sentence for a person: "direct over IPv4, dialed by this node to 198.18.5.2:7311 (its
    /// public or mapped address)", "direct over IPv6, the contact dialed in from [2001:db8::20]:40112
    /// (from the internet)".
    /// </summary>
    public string Sentence
    {
        get
        {
            if (Remote is not { } remote)
            {
                return Direction == ConnectionDirection.Outbound ? "connected, dialed by this node" : "connected, the contact dialed in";
            }

            var where = ExternalAddressPolicy.IsPublic(remote.Address)
                ? Direction == ConnectionDirection.Outbound ? "its public or mapped address" : "from the internet"
                : "on the local network";
            return Direction == ConnectionDirection.Outbound
                ? $"direct over {Family}, dialed by this node to {remote} ({where})"
                : $"direct over {Family}, the contact dialed in from {remote} ({where})";
        }
    }
}
