using System.Buffers.Binary;
using System.Net;
using SecureChat.Net.PortMapping;

namespace SecureChat.Fuzz.Targets;

/// <summary>
/// A router's NAT-PMP answer (RFC 6886), picked by the first byte: 0 to the external address
/// request, 1 to a UDP map request for port 40000, 2 to a TCP one.
/// </summary>
internal sealed class NatPmpTarget : IFuzzTarget
{
    private const int Port = 40000;

    public string Name => "natpmp";

    public bool Run(byte[] input)
    {
        if (input.Length == 0)
        {
            return false;
        }

        var rest = input.AsSpan(1);
        if (input[0] % 3 == 0)
        {
            var reply = NatPmpCodec.DecodeExternalAddressResponse(rest);
            CheckFailure(reply.Value is null, reply.Failure, reply.Sentence);
            FuzzInvariantException.Check(reply.Value is null || ExternalAddressPolicy.IsPublic(reply.Value.Address), "An accepted external address is not public.");
            return reply.Value is not null;
        }

        var protocol = input[0] % 3 == 1 ? MappingProtocol.Udp : MappingProtocol.Tcp;
        var mapping = NatPmpCodec.DecodeMapResponse(rest, protocol, Port);
        CheckFailure(mapping.Value is null, mapping.Failure, mapping.Sentence);
        FuzzInvariantException.Check(mapping.Value is null || (mapping.Value.InternalPort == Port && mapping.Value.Protocol == protocol), "An accepted mapping answers another port or protocol.");
        return mapping.Value is not null;
    }

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        yield return ("external-address", [0, 0, 128, 0, 0, 0, 0, 14, 16, 198, 18, 0, 5]);
        yield return ("map-udp", [1, .. MapAnswer(NatPmpCodec.MapUdpOpcode)]);
        yield return ("map-tcp", [2, .. MapAnswer(NatPmpCodec.MapTcpOpcode)]);
    }

    private static byte[] MapAnswer(byte opcode)
    {
        var answer = new byte[NatPmpCodec.MapResponseLength];
        answer[1] = (byte)(NatPmpCodec.ResponseBit + opcode);
        BinaryPrimitives.WriteUInt32BigEndian(answer.AsSpan(4), 300);
        BinaryPrimitives.WriteUInt16BigEndian(answer.AsSpan(8), Port);
        BinaryPrimitives.WriteUInt16BigEndian(answer.AsSpan(10), Port + 1);
        BinaryPrimitives.WriteUInt32BigEndian(answer.AsSpan(12), 7200);
        return answer;
    }

    /// <summary>A rejection carries a failure kind and a sentence; an acceptance neither.</summary>
    internal static void CheckFailure(bool rejected, MappingFailure failure, string sentence) =>
        FuzzInvariantException.Check(rejected == (failure != MappingFailure.None) && (!rejected || !string.IsNullOrWhiteSpace(sentence)), "A rejection without a failure kind or sentence, or an acceptance with one.");
}

/// <summary>
/// A router's PCP answer (RFC 6887) to a MAP request with a fixed nonce for port 40000: byte 0
/// picks TCP or UDP (bit 0) and a deletion's answer (bit 1), the rest is the datagram.
/// </summary>
internal sealed class PcpTarget : IFuzzTarget
{
    private const int Port = 40000;
    private static readonly byte[] Nonce = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

    public string Name => "pcp";

    public bool Run(byte[] input)
    {
        if (input.Length == 0)
        {
            return false;
        }

        var protocol = (input[0] & 1) == 0 ? MappingProtocol.Tcp : MappingProtocol.Udp;
        var deleting = (input[0] & 2) != 0;
        var rest = input.AsSpan(1);
        _ = PcpCodec.IsAnnounce(rest);
        var reply = PcpCodec.DecodeMapResponse(rest, Nonce, protocol, Port, deleting);
        NatPmpTarget.CheckFailure(reply.Value is null, reply.Failure, reply.Sentence);
        if (reply.Value is { } mapping)
        {
            FuzzInvariantException.Check(mapping.InternalPort == Port && mapping.Protocol == protocol, "An accepted mapping answers another port or protocol.");
            FuzzInvariantException.Check(deleting || (ExternalAddressPolicy.IsPublic(mapping.External.Address) && mapping.External.Port > 0 && mapping.LifetimeSeconds > 0), "An accepted grant is not public or has no port or lifetime.");
            FuzzInvariantException.Check(rest.Slice(24, 12).SequenceEqual(Nonce), "An accepted answer carries another nonce.");
        }

        return reply.Value is not null;
    }

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        yield return ("map-tcp", [0, .. Answer(6, 3600)]);
        yield return ("map-udp", [1, .. Answer(17, 3600)]);
        yield return ("delete-tcp", [2, .. Answer(6, 0)]);
    }

    private static byte[] Answer(byte protocolNumber, uint lifetime)
    {
        var answer = new byte[PcpCodec.MapLength];
        answer[0] = PcpCodec.Version;
        answer[1] = PcpCodec.ResponseBit | PcpCodec.MapOpcode;
        BinaryPrimitives.WriteUInt32BigEndian(answer.AsSpan(4), lifetime);
        BinaryPrimitives.WriteUInt32BigEndian(answer.AsSpan(8), 300);
        Nonce.CopyTo(answer, 24);
        answer[36] = protocolNumber;
        BinaryPrimitives.WriteUInt16BigEndian(answer.AsSpan(40), Port);
        BinaryPrimitives.WriteUInt16BigEndian(answer.AsSpan(42), Port + 1);
        PcpCodec.WriteAddress(IPAddress.Parse("198.18.0.5"), answer.AsSpan(44, 16));
        return answer;
    }
}
