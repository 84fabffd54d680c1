using System.Net;
using System.Net.Sockets;

namespace SecureChat.Net.PortMapping;

/// <summary>
/// Port mapping through NAT-PMP (RFC 6886): the router's external address (opcode 0), then the
/// mapping (opcode 1 or 2), each over UDP to the gateway's port 5351. Every answer is checked by
/// <see cref="NatPmpCodec"/>; a failure is a <see cref="MappingResult"/>, only cancellation throws.
/// </summary>
public sealed class NatPmpMapper : IPortMapper
{
    private readonly IPEndPoint _gateway;
    private readonly TimeProvider _time;
    private readonly Func<Socket> _openSocket;

    /// <param name="gateway">The router, normally <see cref="DefaultGateway.FindIPv4"/> on port <see cref="NatPmpCodec.ServerPort"/>.</param>
    /// <param name="time">The clock a lease's expiry and the retransmission waits are read from.</param>
    /// <param name="openSocket">Opens an unconnected UDP socket (tests open it inside a network namespace); by default one bound to any port.</param>
    public NatPmpMapper(IPEndPoint gateway, TimeProvider time, Func<Socket>? openSocket = null)
    {
        _gateway = gateway;
        _time = time;
        _openSocket = openSocket ?? (() => GatewayExchange.OpenDefault(gateway));
    }

    public NatPmpMapper(IPAddress gateway, TimeProvider time)
        : this(new IPEndPoint(gateway, NatPmpCodec.ServerPort), time)
    {
    }

    public string Method => "NAT-PMP";

    public async Task<MappingResult> MapAsync(MappingProtocol protocol, int internalPort, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(internalPort, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(internalPort, 65535);
        ArgumentOutOfRangeException.ThrowIfLessThan(lifetime, TimeSpan.FromSeconds(1));
        using var socket = Open(out var openFailure);
        if (socket is null)
        {
            return openFailure!;
        }

        var address = await GatewayExchange.AskAsync(socket, NatPmpCodec.EncodeExternalAddressRequest(), d => NatPmpCodec.DecodeExternalAddressResponse(d), _ => false, Method, _time, cancellationToken).ConfigureAwait(false);
        if (address.Value is not { } external)
        {
            return MappingResult.Failed(address.Failure, address.Sentence);
        }

        // Suggesting the internal port keeps the external one stable across renewals and restarts.
        var seconds = (uint)Math.Min(lifetime.TotalSeconds, uint.MaxValue);
        var request = NatPmpCodec.EncodeMapRequest(protocol, internalPort, internalPort, seconds);
        var mapping = await GatewayExchange.AskAsync(socket, request, d => NatPmpCodec.DecodeMapResponse(d, protocol, internalPort), _ => false, Method, _time, cancellationToken).ConfigureAwait(false);
        if (mapping.Value is not { } granted)
        {
            return MappingResult.Failed(mapping.Failure, mapping.Sentence);
        }

        if (granted.ExternalPort == 0 || granted.LifetimeSeconds == 0)
        {
            return MappingResult.Failed(MappingFailure.Malformed, $"The router granted a mapping with lifetime {granted.LifetimeSeconds} s on port {granted.ExternalPort}.");
        }

        var expires = _time.GetUtcNow() + TimeSpan.FromSeconds(granted.LifetimeSeconds);
        return MappingResult.Mapped(new PortMappingLease(protocol, internalPort, new IPEndPoint(external.Address, granted.ExternalPort), expires, Method) { Epoch = granted.Epoch });
    }

    /// <summary>RFC 6886 section 3.4: a map request with lifetime 0 and suggested port 0 deletes the mapping.</summary>
    public async Task<MappingResult> UnmapAsync(PortMappingLease lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        using var socket = Open(out var openFailure);
        if (socket is null)
        {
            return openFailure!;
        }

        var request = NatPmpCodec.EncodeMapRequest(lease.Protocol, lease.InternalPort, 0, 0);
        var answer = await GatewayExchange.AskAsync(socket, request, d => NatPmpCodec.DecodeMapResponse(d, lease.Protocol, lease.InternalPort), _ => false, Method, _time, cancellationToken).ConfigureAwait(false);
        if (answer.Value is null)
        {
            return MappingResult.Failed(answer.Failure, answer.Sentence);
        }

        return new MappingResult(null, MappingFailure.None, $"removed the {lease.Protocol} mapping of port {lease.InternalPort} at {lease.External} through {Method}");
    }

    private Socket? Open(out MappingResult? failure)
    {
        failure = null;
        Socket? socket = null;
        try
        {
            socket = _openSocket();
            socket.Connect(_gateway);
            return socket;
        }
        catch (SocketException ex)
        {
            socket?.Dispose();
            failure = MappingResult.Failed(MappingFailure.NoRouter, $"Could not reach the gateway {_gateway} for {Method}: {ex.SocketErrorCode}.");
            return null;
        }
    }
}
