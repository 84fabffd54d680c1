using System.Buffers.Binary;
using System.Net;

namespace SecureChat.Net.PortMapping;

/// <summary>PCP's result codes (RFC 6887 section 7.4).</summary>
public enum PcpResultCode : byte
{
    Success = 0,
    UnsupportedVersion = 1,
    NotAuthorized = 2,
    MalformedRequest = 3,
    UnsupportedOpcode = 4,
    UnsupportedOption = 5,
    MalformedOption = 6,
    NetworkFailure = 7,
    NoResources = 8,
    UnsupportedProtocol = 9,
    UserExceededQuota = 10,
    CannotProvideExternal = 11,
    AddressMismatch = 12,
    ExcessiveRemotePeers = 13,
}

/// <summary>A MAP answer (RFC 6887 section 11.1): the external endpoint assigned and the lifetime granted.</summary>
public sealed record PcpMapping(MappingProtocol Protocol, int InternalPort, IPEndPoint External, uint LifetimeSeconds, uint Epoch);

/// <summary>
/// PCP version 2's MAP messages (RFC 6887), big-endian, to the gateway's UDP port 5351. Addresses
/// are 16 bytes; an IPv4 address is written IPv4-mapped (::ffff:a.b.c.d, section 5).
/// <code>
/// Request header (24 bytes):  | vers = 2 | R = 0, opcode (7) | reserved (16) |
///                             | requested lifetime (32) | client's IP address (128) |
/// Response header (24 bytes): | vers = 2 | R = 1, opcode (7) | reserved (8) | result code (8) |
///                             | lifetime (32) | epoch time (32) | reserved (96) |
/// MAP body (36 bytes):        | mapping nonce (96) | protocol (8) | reserved (24) |
///                             | internal port (16) | suggested / assigned external port (16) |
///                             | suggested / assigned external IP address (128) |
/// </code>
/// Options may follow the body; SecureChat sends none and skips those in an answer.
/// </summary>
public static class PcpCodec
{
    public const byte Version = 2;
    public const byte AnnounceOpcode = 0;
    public const byte MapOpcode = 1;
    public const byte ResponseBit = 0x80;
    public const int NonceLength = 12;
    public const int HeaderLength = 24;
    public const int MapLength = HeaderLength + 36;

    /// <summary>Section 7: no PCP message is longer than 1100 bytes, and every one is a multiple of 4.</summary>
    public const int MaxMessageLength = 1100;

    /// <summary>IANA protocol numbers (section 11.1).</summary>
    public static byte ProtocolNumber(MappingProtocol protocol) => protocol == MappingProtocol.Udp ? (byte)17 : (byte)6;

    /// <summary>
    /// A MAP request from <paramref name="client"/> (the address the router sees the datagram come
    /// from). Lifetime 0 deletes the mapping the nonce names (section 15); the same nonce renews it.
    /// </summary>
    public static byte[] EncodeMapRequest(ReadOnlySpan<byte> nonce, MappingProtocol protocol, int internalPort, uint lifetimeSeconds, IPAddress client, int suggestedExternalPort = 0, IPAddress? suggestedExternal = null)
    {
        if (nonce.Length != NonceLength)
        {
            throw new ArgumentException($"A PCP mapping nonce is {NonceLength} bytes.", nameof(nonce));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(internalPort, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(internalPort, 65535);
        ArgumentOutOfRangeException.ThrowIfNegative(suggestedExternalPort);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(suggestedExternalPort, 65535);
        var request = new byte[MapLength];
        request[0] = Version;
        request[1] = MapOpcode;
        BinaryPrimitives.WriteUInt32BigEndian(request.AsSpan(4), lifetimeSeconds);
        WriteAddress(client, request.AsSpan(8, 16));
        nonce.CopyTo(request.AsSpan(24));
        request[36] = ProtocolNumber(protocol);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(40), (ushort)internalPort);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(42), (ushort)suggestedExternalPort);

        // No preference is written as the IPv4-mapped "any" address, ::ffff:0.0.0.0 (section 11.1),
        // which asks for an IPv4 mapping.
        WriteAddress(suggestedExternal ?? IPAddress.Any, request.AsSpan(44, 16));
        return request;
    }

    /// <summary>The 16-byte form of an address: IPv6 as is, IPv4 mapped into IPv6.</summary>
    public static void WriteAddress(IPAddress address, Span<byte> destination)
    {
        var v6 = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? address.MapToIPv6() : address;
        if (!v6.TryWriteBytes(destination, out var written) || written != 16)
        {
            throw new ArgumentException($"{address} has no 16-byte form.", nameof(address));
        }
    }

    /// <summary>Reads a 16-byte address, giving an IPv4 address back for the IPv4-mapped form.</summary>
    public static IPAddress ReadAddress(ReadOnlySpan<byte> source)
    {
        var address = new IPAddress(source[..16]);
        return address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
    }

    /// <summary>True for an ANNOUNCE response (opcode 0 with the R bit): a router saying it restarted, which a mapper ignores while it waits for its answer.</summary>
    public static bool IsAnnounce(ReadOnlySpan<byte> datagram) =>
        datagram.Length >= 2 && datagram[0] == Version && datagram[1] == (ResponseBit | AnnounceOpcode);

    /// <summary>
    /// Reads the answer to a MAP request: it must carry <paramref name="nonce"/>,
    /// <paramref name="protocol"/> and <paramref name="internalPort"/> (anything else answers another
    /// request, section 11.3), and on success a public external address.
    /// </summary>
    public static RouterReply<PcpMapping> DecodeMapResponse(ReadOnlySpan<byte> datagram, ReadOnlySpan<byte> nonce, MappingProtocol protocol, int internalPort, bool deleting = false)
    {
        if (datagram.Length < HeaderLength || datagram.Length > MaxMessageLength || datagram.Length % 4 != 0)
        {
            return Malformed($"The router's PCP answer is {datagram.Length} bytes: not a multiple of 4 between {HeaderLength} and {MaxMessageLength}.");
        }

        if (datagram[0] != Version)
        {
            return Malformed($"The router answered with PCP version {datagram[0]}, not {Version}.");
        }

        if (datagram[1] != (ResponseBit | MapOpcode))
        {
            return Malformed($"The router answered opcode 0x{datagram[1]:x2} to a MAP request.");
        }

        var code = datagram[3];
        var lifetime = BinaryPrimitives.ReadUInt32BigEndian(datagram[4..]);
        var epoch = BinaryPrimitives.ReadUInt32BigEndian(datagram[8..]);

        // Section 7.3: an error answer may stop after the header, so only now is MAP's body due.
        if (datagram.Length < MapLength)
        {
            return code != (byte)PcpResultCode.Success
                ? RouterReply<PcpMapping>.Fail(MappingFailure.Refused, $"The router refused: {Describe(code)}.")
                : Malformed($"The router's PCP MAP answer is {datagram.Length} bytes, shorter than the {MapLength} of a MAP answer.");
        }

        if (!datagram.Slice(24, NonceLength).SequenceEqual(nonce))
        {
            return Malformed("The router's PCP answer carries another request's mapping nonce.");
        }

        if (datagram[36] != ProtocolNumber(protocol))
        {
            return Malformed($"The router answered about protocol {datagram[36]}, not {protocol}.");
        }

        int answeredPort = BinaryPrimitives.ReadUInt16BigEndian(datagram[40..]);
        if (answeredPort != internalPort)
        {
            return Malformed($"The router answered about port {answeredPort}, not the port {internalPort} that was asked for.");
        }

        if (code != (byte)PcpResultCode.Success)
        {
            return RouterReply<PcpMapping>.Fail(MappingFailure.Refused, $"The router refused: {Describe(code)}.");
        }

        int externalPort = BinaryPrimitives.ReadUInt16BigEndian(datagram[42..]);
        var external = ReadAddress(datagram.Slice(44, 16));
        if (!deleting)
        {
            if (lifetime == 0 || externalPort == 0)
            {
                return Malformed($"The router granted a mapping with lifetime {lifetime} s on port {externalPort}.");
            }

            if (!ExternalAddressPolicy.IsPublic(external))
            {
                return RouterReply<PcpMapping>.Fail(MappingFailure.NotPublic, $"The router's external address {external} is not reachable from the internet (it is behind another NAT or has no address yet).");
            }
        }

        return RouterReply<PcpMapping>.Ok(new PcpMapping(protocol, answeredPort, new IPEndPoint(external, externalPort), lifetime, epoch));
    }

    private static RouterReply<PcpMapping> Malformed(string sentence) => RouterReply<PcpMapping>.Fail(MappingFailure.Malformed, sentence);

    /// <summary>Section 7.4's meaning of each result code, as a person reads it.</summary>
    public static string Describe(byte code) => (PcpResultCode)code switch
    {
        PcpResultCode.UnsupportedVersion => "it does not speak PCP version 2 (UNSUPP_VERSION)",
        PcpResultCode.NotAuthorized => "port mapping is switched off or not allowed for this computer (NOT_AUTHORIZED)",
        PcpResultCode.MalformedRequest => "it could not parse the request (MALFORMED_REQUEST)",
        PcpResultCode.UnsupportedOpcode => "it does not support MAP (UNSUPP_OPCODE)",
        PcpResultCode.UnsupportedOption => "it does not support an option (UNSUPP_OPTION)",
        PcpResultCode.MalformedOption => "an option was malformed (MALFORMED_OPTION)",
        PcpResultCode.NetworkFailure => "it has no working connection to the internet yet (NETWORK_FAILURE)",
        PcpResultCode.NoResources => "it has no room for another mapping (NO_RESOURCES)",
        PcpResultCode.UnsupportedProtocol => "it does not map this protocol (UNSUPP_PROTOCOL)",
        PcpResultCode.UserExceededQuota => "this computer has used up its mappings (USER_EX_QUOTA)",
        PcpResultCode.CannotProvideExternal => "it cannot give the external port or address asked for (CANNOT_PROVIDE_EXTERNAL)",
        PcpResultCode.AddressMismatch => "it saw the request come from another address than the one written in it, so a NAT sits between (ADDRESS_MISMATCH)",
        PcpResultCode.ExcessiveRemotePeers => "too many remote peers (EXCESSIVE_REMOTE_PEERS)",
        _ => $"result code {code}, which PCP does not define",
    };
}
