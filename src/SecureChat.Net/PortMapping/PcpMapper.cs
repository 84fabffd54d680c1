using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace SecureChat.Net.PortMapping;

/// <summary>
/// Port mapping through PCP (RFC 6887): a MAP request over UDP to the gateway's port 5351. Each
/// mapping has its own 12-byte nonce, kept here so that a renewal or a deletion names the same
/// mapping (section 11.2); an answer with another nonce is not ours. Every answer is checked by
/// <see cref="PcpCodec"/>; a failure is a <see cref="MappingResult"/>, only cancellation throws.
/// </summary>
public sealed class PcpMapper : IPortMapper
{
    private readonly IPEndPoint _gateway;
    private readonly TimeProvider _time;
    private readonly Func<Socket> _openSocket;
    private readonly ConcurrentDictionary<(MappingProtocol, int), byte[]> _nonces = new();

    /// <param name="gateway">The router, normally <see cref="DefaultGateway.FindIPv4"/> on port <see cref="NatPmpCodec.ServerPort"/>.</param>
    /// <param name="time">The clock a lease's expiry and the retransmission waits are read from.</param>
    /// <param name="openSocket">Opens an unconnected UDP socket (tests open it inside a network namespace); by default one bound to any port.</param>
    public PcpMapper(IPEndPoint gateway, TimeProvider time, Func<Socket>? openSocket = null)
    {
        _gateway = gateway;
        _time = time;
        _openSocket = openSocket ?? (() => GatewayExchange.OpenDefault(gateway));
    }

    public PcpMapper(IPAddress gateway, TimeProvider time)
        : this(new IPEndPoint(gateway, NatPmpCodec.ServerPort), time)
    {
    }

    public string Method => "PCP";

    public async Task<MappingResult> MapAsync(MappingProtocol protocol, int internalPort, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(internalPort, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(internalPort, 65535);
        ArgumentOutOfRangeException.ThrowIfLessThan(lifetime, TimeSpan.FromSeconds(1));
        var nonce = _nonces.GetOrAdd((protocol, internalPort), _ => RandomNumberGenerator.GetBytes(PcpCodec.NonceLength));
        var seconds = (uint)Math.Min(lifetime.TotalSeconds, uint.MaxValue);
        var answer = await ExchangeAsync(nonce, protocol, internalPort, seconds, deleting: false, cancellationToken).ConfigureAwait(false);
        if (answer.Value is not { } granted)
        {
            return MappingResult.Failed(answer.Failure, answer.Sentence);
        }

        var expires = _time.GetUtcNow() + TimeSpan.FromSeconds(granted.LifetimeSeconds);
        return MappingResult.Mapped(new PortMappingLease(protocol, internalPort, granted.External, expires, Method) { Epoch = granted.Epoch });
    }

    /// <summary>Section 15: a MAP with the mapping's nonce and lifetime 0 deletes it.</summary>
    public async Task<MappingResult> UnmapAsync(PortMappingLease lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        if (!_nonces.TryGetValue((lease.Protocol, lease.InternalPort), out var nonce))
        {
            return MappingResult.Failed(MappingFailure.Refused, $"This PCP client holds no {lease.Protocol} mapping of port {lease.InternalPort} to give back (its nonce is gone), so the router keeps it until it expires.");
        }

        var answer = await ExchangeAsync(nonce, lease.Protocol, lease.InternalPort, 0, deleting: true, cancellationToken).ConfigureAwait(false);
        if (answer.Value is null)
        {
            return MappingResult.Failed(answer.Failure, answer.Sentence);
        }

        _nonces.TryRemove((lease.Protocol, lease.InternalPort), out _);
        return new MappingResult(null, MappingFailure.None, $"removed the {lease.Protocol} mapping of port {lease.InternalPort} at {lease.External} through {Method}");
    }

    private async Task<RouterReply<PcpMapping>> ExchangeAsync(byte[] nonce, MappingProtocol protocol, int internalPort, uint seconds, bool deleting, CancellationToken cancellationToken)
    {
        Socket? socket = null;
        IPAddress client;
        try
        {
            socket = _openSocket();
            socket.Connect(_gateway);

            // The client's address in the header must be the source the router sees (section 8.1).
            client = ((IPEndPoint)socket.LocalEndPoint!).Address;
        }
        catch (SocketException ex)
        {
            socket?.Dispose();
            return RouterReply<PcpMapping>.Fail(MappingFailure.NoRouter, $"Could not reach the gateway {_gateway} for {Method}: {ex.SocketErrorCode}.");
        }

        using (socket)
        {
            var request = PcpCodec.EncodeMapRequest(nonce, protocol, internalPort, seconds, client);
            return await GatewayExchange.AskAsync(socket, request, d => PcpCodec.DecodeMapResponse(d, nonce, protocol, internalPort, deleting), d => PcpCodec.IsAnnounce(d), Method, _time, cancellationToken).ConfigureAwait(false);
        }
    }
}
