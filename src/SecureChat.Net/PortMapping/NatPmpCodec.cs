using System.Buffers.Binary;
using System.Net;

namespace SecureChat.Net.PortMapping;

/// <summary>NAT-PMP's result codes (RFC 6886 section 3.5).</summary>
public enum NatPmpResultCode : ushort
{
    Success = 0,
    UnsupportedVersion = 1,
    NotAuthorized = 2,
    NetworkFailure = 3,
    OutOfResources = 4,
    UnsupportedOpcode = 5,
}

/// <summary>The answer to "what is your external address?" (RFC 6886 section 3.2).</summary>
public sealed record NatPmpExternalAddress(uint Epoch, IPAddress Address);

/// <summary>The answer to a map request (RFC 6886 section 3.3): the router's port and the lifetime it granted.</summary>
public sealed record NatPmpMapping(MappingProtocol Protocol, uint Epoch, int InternalPort, int ExternalPort, uint LifetimeSeconds);

/// <summary>
/// NAT-PMP's messages (RFC 6886), version 0, big-endian, sent to the gateway's UDP port 5351.
/// <code>
/// External address request (2 bytes):   | vers = 0 | op = 0 |
/// External address response (12 bytes): | vers = 0 | op = 128 | result code (16) |
///                                       | seconds since start of epoch (32) |
///                                       | external IPv4 address (32) |
/// Map request (12 bytes):   | vers = 0 | op = 1 (UDP) or 2 (TCP) | reserved (16) |
///                           | internal port (16) | suggested external port (16) |
///                           | requested lifetime in seconds (32) |
/// Map response (16 bytes):  | vers = 0 | op = 128 + request op | result code (16) |
///                           | seconds since start of epoch (32) |
///                           | internal port (16) | mapped external port (16) |
///                           | lifetime in seconds (32) |
/// </code>
/// An error answer may stop after the epoch (8 bytes, section 3.5's "Unsupported Version" form).
/// </summary>
public static class NatPmpCodec
{
    public const int ServerPort = 5351;
    public const byte Version = 0;
    public const byte ExternalAddressOpcode = 0;
    public const byte MapUdpOpcode = 1;
    public const byte MapTcpOpcode = 2;
    public const byte ResponseBit = 128;
    public const int ExternalAddressResponseLength = 12;
    public const int MapRequestLength = 12;
    public const int MapResponseLength = 16;
    private const int ErrorResponseLength = 8;

    public static byte[] EncodeExternalAddressRequest() => [Version, ExternalAddressOpcode];

    /// <summary>A map request; lifetime 0 with suggested port 0 deletes the mapping (section 3.4).</summary>
    public static byte[] EncodeMapRequest(MappingProtocol protocol, int internalPort, int suggestedExternalPort, uint lifetimeSeconds)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(internalPort, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(internalPort, 65535);
        ArgumentOutOfRangeException.ThrowIfNegative(suggestedExternalPort);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(suggestedExternalPort, 65535);
        var request = new byte[MapRequestLength];
        request[0] = Version;
        request[1] = MapOpcode(protocol);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(4), (ushort)internalPort);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(6), (ushort)suggestedExternalPort);
        BinaryPrimitives.WriteUInt32BigEndian(request.AsSpan(8), lifetimeSeconds);
        return request;
    }

    public static byte MapOpcode(MappingProtocol protocol) => protocol == MappingProtocol.Udp ? MapUdpOpcode : MapTcpOpcode;

    /// <summary>
    /// Reads the answer to an external address request. The address must be public
    /// (<see cref="ExternalAddressPolicy"/>): a router behind another NAT reports a private or shared one.
    /// </summary>
    public static RouterReply<NatPmpExternalAddress> DecodeExternalAddressResponse(ReadOnlySpan<byte> datagram)
    {
        if (!CheckHeader(datagram, ExternalAddressOpcode, ExternalAddressResponseLength, out var failure))
        {
            return RouterReply<NatPmpExternalAddress>.Fail(failure.Failure, failure.Sentence);
        }

        var epoch = BinaryPrimitives.ReadUInt32BigEndian(datagram[4..]);
        var address = new IPAddress(datagram.Slice(8, 4));
        return ExternalAddressPolicy.IsPublic(address)
            ? RouterReply<NatPmpExternalAddress>.Ok(new NatPmpExternalAddress(epoch, address))
            : RouterReply<NatPmpExternalAddress>.Fail(MappingFailure.NotPublic, $"The router's external address {address} is not reachable from the internet (it is behind another NAT or has no address yet).");
    }

    /// <summary>Reads the answer to a map request for <paramref name="internalPort"/>; an answer about another port or protocol is <see cref="MappingFailure.Malformed"/>.</summary>
    public static RouterReply<NatPmpMapping> DecodeMapResponse(ReadOnlySpan<byte> datagram, MappingProtocol protocol, int internalPort)
    {
        if (!CheckHeader(datagram, MapOpcode(protocol), MapResponseLength, out var failure))
        {
            return RouterReply<NatPmpMapping>.Fail(failure.Failure, failure.Sentence);
        }

        var epoch = BinaryPrimitives.ReadUInt32BigEndian(datagram[4..]);
        int answeredPort = BinaryPrimitives.ReadUInt16BigEndian(datagram[8..]);
        int externalPort = BinaryPrimitives.ReadUInt16BigEndian(datagram[10..]);
        var lifetime = BinaryPrimitives.ReadUInt32BigEndian(datagram[12..]);
        if (answeredPort != internalPort)
        {
            return RouterReply<NatPmpMapping>.Fail(MappingFailure.Malformed, $"The router answered about port {answeredPort}, not the port {internalPort} that was asked for.");
        }

        // A deletion is answered with external port 0 and lifetime 0; a grant needs both.
        return RouterReply<NatPmpMapping>.Ok(new NatPmpMapping(protocol, epoch, answeredPort, externalPort, lifetime));
    }

    /// <summary>Checks version, opcode, result code and length; a non-zero result code is a refusal with its sentence.</summary>
    private static bool CheckHeader(ReadOnlySpan<byte> datagram, byte requestOpcode, int successLength, out (MappingFailure Failure, string Sentence) failure)
    {
        failure = default;
        if (datagram.Length < ErrorResponseLength)
        {
            failure = (MappingFailure.Malformed, $"The router's NAT-PMP answer is {datagram.Length} bytes, too short to hold a header.");
            return false;
        }

        if (datagram[0] != Version)
        {
            failure = (MappingFailure.Malformed, $"The router answered with NAT-PMP version {datagram[0]}, not 0.");
            return false;
        }

        if (datagram[1] != ResponseBit + requestOpcode)
        {
            failure = (MappingFailure.Malformed, $"The router answered opcode {datagram[1]} to a request with opcode {requestOpcode}.");
            return false;
        }

        var code = BinaryPrimitives.ReadUInt16BigEndian(datagram[2..]);
        if (code != (ushort)NatPmpResultCode.Success)
        {
            failure = (MappingFailure.Refused, $"The router refused: {Describe(code)}.");
            return false;
        }

        if (datagram.Length != successLength)
        {
            failure = (MappingFailure.Malformed, $"The router's NAT-PMP answer is {datagram.Length} bytes where {successLength} were due.");
            return false;
        }

        return true;
    }

    /// <summary>Section 3.5's meaning of each result code, as a person reads it.</summary>
    public static string Describe(ushort code) => (NatPmpResultCode)code switch
    {
        NatPmpResultCode.UnsupportedVersion => "it does not speak NAT-PMP version 0 (result 1)",
        NatPmpResultCode.NotAuthorized => "port mapping is switched off or not allowed for this computer (result 2)",
        NatPmpResultCode.NetworkFailure => "it has no working connection to the internet yet (result 3)",
        NatPmpResultCode.OutOfResources => "it has no room for another mapping (result 4)",
        NatPmpResultCode.UnsupportedOpcode => "it does not support this request (result 5)",
        _ => $"result code {code}, which NAT-PMP does not define",
    };
}
