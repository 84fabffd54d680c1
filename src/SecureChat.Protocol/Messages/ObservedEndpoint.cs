using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace SecureChat.Protocol.Messages;

/// <summary>
/// The hello's <c>observed_endpoint</c> (docs/protocol.md 6.1): where one side saw the other's
/// connection come from, so that a node behind a NAT learns the address and port the NAT gave it.
/// <code>
/// +-----------------------------+-----------------+
/// | address, 4 (IPv4) or 16     | port, u16 BE    |
/// +-----------------------------+-----------------+
/// </code>
/// The length tells the family (6 or 18 bytes). An IPv4-mapped IPv6 address is written as the
/// IPv4 address it stands for, so a dual-stack socket and an IPv4 one describe a peer alike.
/// </summary>
public static class ObservedEndpoint
{
    /// <summary>The size of an IPv4 observation: 4 address bytes and the port.</summary>
    public const int V4Size = 6;

    /// <summary>The size of an IPv6 observation: 16 address bytes and the port.</summary>
    public const int V6Size = 18;

    /// <summary>The endpoint as the hello carries it; IPv4-mapped addresses are written as IPv4.</summary>
    public static byte[] Encode(IPEndPoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var address = Normalize(endpoint.Address);
        var size = address.AddressFamily == AddressFamily.InterNetwork ? 4 : 16;
        var output = new byte[size + 2];
        address.TryWriteBytes(output, out _);
        BinaryPrimitives.WriteUInt16BigEndian(output.AsSpan(size), (ushort)endpoint.Port);
        return output;
    }

    /// <summary>
    /// Reads an observation. Total: anything but 6 or 18 bytes, or a port of 0, gives null, and
    /// an IPv4-mapped IPv6 address comes back as IPv4. Older peers send nothing, which is null too.
    /// </summary>
    public static IPEndPoint? TryDecode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length is not (V4Size or V6Size))
        {
            return null;
        }

        var size = bytes.Length - 2;
        var port = BinaryPrimitives.ReadUInt16BigEndian(bytes[size..]);
        if (port == 0)
        {
            return null;
        }

        var address = Normalize(new IPAddress(bytes[..size]));
        return new IPEndPoint(address, port);
    }

    /// <summary>An IPv4-mapped IPv6 address as the IPv4 address it stands for; any other address as it is.</summary>
    public static IPAddress Normalize(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
    }
}
