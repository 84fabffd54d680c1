using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace SecureChat.NetSim.Tests;

/// <summary>
/// A classic STUN server (RFC 3489's Binding with CHANGE-REQUEST, as RFC 5780 keeps it) on a
/// public host with two addresses and two ports: it answers each Binding request with the
/// source it saw (MAPPED-ADDRESS and XOR-MAPPED-ADDRESS), from the address and port the request
/// asked for. A router that runs miniupnpd on an address of a reserved range learns so that it is
/// reachable from every source, which it requires before it maps any port (docs/netsim.md).
/// Hostile input does not matter here: only the simulated internet can reach it, and anything that
/// is not a well-formed Binding request is ignored.
/// </summary>
internal sealed class StunServer : IDisposable
{
    public const int PrimaryPort = 3478;
    public const int AlternatePort = 3479;

    private const ushort BindingRequest = 0x0001;
    private const ushort BindingResponse = 0x0101;
    private const ushort MappedAddress = 0x0001;
    private const ushort ChangeRequest = 0x0003;
    private const ushort XorMappedAddress = 0x0020;
    private const uint MagicCookie = 0x2112A442;

    /// <summary>The four sockets, indexed by (change IP ? 2 : 0) + (change port ? 1 : 0).</summary>
    private readonly Socket[] _sockets;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _answering;

    public StunServer(SimHost host, IPAddress primary, IPAddress alternate)
    {
        var made = new List<Socket>();
        try
        {
            foreach (var (address, port) in new[] { (primary, PrimaryPort), (primary, AlternatePort), (alternate, PrimaryPort), (alternate, AlternatePort) })
            {
                made.Add(NamespaceSockets.Udp(host.Namespace, new IPEndPoint(address, port)));
            }
        }
        catch
        {
            made.ForEach(s => s.Dispose());
            throw;
        }

        _sockets = [.. made];
        Primary = new IPEndPoint(primary, PrimaryPort);
        _answering = [.. _sockets.Select(AnswerAsync)];
    }

    /// <summary>Where clients send their requests.</summary>
    public IPEndPoint Primary { get; }

    /// <summary>Both addresses of the server.</summary>
    public IReadOnlyList<IPAddress> Addresses => [((IPEndPoint)_sockets[0].LocalEndPoint!).Address, ((IPEndPoint)_sockets[2].LocalEndPoint!).Address];

    /// <summary>How many requests were answered: a test can tell that a router did ask.</summary>
    public int Answered => Volatile.Read(ref _answered);

    private int _answered;

    public void Dispose()
    {
        _stop.Cancel();
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }

        // The loops end on the closed sockets; their outcome does not matter any more.
        Task.WaitAll([.. _answering.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default))], TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }

    /// <summary>
    /// The answer to <paramref name="request"/> from <paramref name="source"/>, and which socket
    /// must send it; null for anything but a Binding request.
    /// </summary>
    internal static (byte[] Answer, int Socket)? Answer(ReadOnlySpan<byte> request, IPEndPoint source)
    {
        if (request.Length < 20 || BinaryPrimitives.ReadUInt16BigEndian(request) != BindingRequest
            || BinaryPrimitives.ReadUInt16BigEndian(request[2..]) + 20 != request.Length || source.AddressFamily != AddressFamily.InterNetwork)
        {
            return null;
        }

        var change = 0;
        for (var at = 20; at + 4 <= request.Length;)
        {
            var type = BinaryPrimitives.ReadUInt16BigEndian(request[at..]);
            var length = BinaryPrimitives.ReadUInt16BigEndian(request[(at + 2)..]);
            if (at + 4 + length > request.Length)
            {
                return null;
            }

            if (type == ChangeRequest && length == 4)
            {
                var flags = request[at + 7];
                change = ((flags & 0x04) != 0 ? 2 : 0) + ((flags & 0x02) != 0 ? 1 : 0);
            }

            at += 4 + ((length + 3) & ~3);
        }

        var answer = new byte[20 + 12 + 12];
        BinaryPrimitives.WriteUInt16BigEndian(answer, BindingResponse);
        BinaryPrimitives.WriteUInt16BigEndian(answer.AsSpan(2), 24);
        // The magic cookie and transaction ID are the request's, whatever they are (RFC 3489 had no cookie).
        request[4..20].CopyTo(answer.AsSpan(4));
        var address = source.Address.GetAddressBytes();
        WriteAddress(answer.AsSpan(20), MappedAddress, (ushort)source.Port, address);
        var xored = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(xored, BinaryPrimitives.ReadUInt32BigEndian(address) ^ MagicCookie);
        WriteAddress(answer.AsSpan(32), XorMappedAddress, (ushort)(source.Port ^ (MagicCookie >> 16)), xored);
        return (answer, change);
    }

    private static void WriteAddress(Span<byte> into, ushort type, ushort port, byte[] address)
    {
        BinaryPrimitives.WriteUInt16BigEndian(into, type);
        BinaryPrimitives.WriteUInt16BigEndian(into[2..], 8);
        into[4] = 0;
        into[5] = 1;
        BinaryPrimitives.WriteUInt16BigEndian(into[6..], port);
        address.CopyTo(into[8..]);
    }

    private async Task AnswerAsync(Socket socket)
    {
        var buffer = new byte[1500];
        while (!_stop.IsCancellationRequested)
        {
            var got = await socket.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
            var source = (IPEndPoint)got.RemoteEndPoint;
            if (Answer(buffer.AsSpan(0, got.ReceivedBytes), source) is { } reply)
            {
                await _sockets[reply.Socket].SendToAsync(reply.Answer, source, _stop.Token);
                Interlocked.Increment(ref _answered);
            }
        }
    }
}
