using System.Net;
using System.Net.Sockets;

namespace SecureChat.Net.PortMapping;

/// <summary>
/// One request to the router over UDP and the wait for its answer, retransmitted on RFC 6886
/// section 3.1's schedule (250 ms, doubling) but bounded to <see cref="Attempts"/> tries, so a
/// home without such a router costs under four seconds rather than RFC 6886's full minute. The
/// socket is connected to the gateway, so the kernel drops datagrams from anyone else.
/// </summary>
internal static class GatewayExchange
{
    public const int Attempts = 4;
    public static readonly TimeSpan FirstWait = TimeSpan.FromMilliseconds(250);

    /// <summary>Bigger than any NAT-PMP answer and PCP's 1100-byte maximum, so an oversized answer is seen as such.</summary>
    private const int ReceiveBuffer = 1500;

    /// <summary>
    /// Sends <paramref name="request"/> and returns the first answer <paramref name="decode"/>
    /// accepts or that the router refused with; answers <paramref name="ignore"/> names (PCP's
    /// ANNOUNCE) and malformed ones (an answer to an older request among them) do not end the wait,
    /// but the last malformed one is what is reported if nothing better comes. Silence is
    /// <see cref="MappingFailure.NoRouter"/>. Only cancellation throws.
    /// </summary>
    public static async Task<RouterReply<T>> AskAsync<T>(Socket socket, byte[] request, Func<byte[], RouterReply<T>> decode, Func<byte[], bool> ignore, string method, TimeProvider time, CancellationToken cancellationToken)
        where T : class
    {
        var buffer = new byte[ReceiveBuffer];
        RouterReply<T>? lastMalformed = null;
        var wait = FirstWait;
        for (var attempt = 0; attempt < Attempts; attempt++, wait *= 2)
        {
            // The wait starts before the send, so that an answer (or a test's clock) cannot come first.
            using var window = new CancellationTokenSource(wait, time);
            try
            {
                await socket.SendAsync(request, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException ex)
            {
                return RouterReply<T>.Fail(MappingFailure.NoRouter, $"Could not send a {method} request to the gateway {socket.RemoteEndPoint}: {ex.SocketErrorCode}.");
            }

            using var linked = CancellationTokenSource.CreateLinkedTokenSource(window.Token, cancellationToken);
            while (true)
            {
                int received;
                try
                {
                    received = await socket.ReceiveAsync(buffer, SocketFlags.None, linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    break;
                }
                catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionRefused or SocketError.ConnectionReset)
                {
                    // An ICMP "port unreachable": the gateway is there but runs no such server.
                    return RouterReply<T>.Fail(MappingFailure.NoRouter, $"The gateway {socket.RemoteEndPoint} does not answer {method} (port unreachable).");
                }
                catch (SocketException ex)
                {
                    return RouterReply<T>.Fail(MappingFailure.NoRouter, $"Waiting for the gateway's {method} answer failed: {ex.SocketErrorCode}.");
                }

                var datagram = buffer.AsSpan(0, received).ToArray();
                if (ignore(datagram))
                {
                    continue;
                }

                var reply = decode(datagram);
                if (reply.Failure == MappingFailure.Malformed)
                {
                    lastMalformed = reply;
                    continue;
                }

                return reply;
            }
        }

        return lastMalformed ?? RouterReply<T>.Fail(MappingFailure.NoRouter, $"Nothing answered {method} at the gateway {socket.RemoteEndPoint} after {Attempts} tries.");
    }

    /// <summary>A UDP socket of the gateway's family, bound to any port, connected to <paramref name="gateway"/>.</summary>
    public static Socket OpenDefault(IPEndPoint gateway)
    {
        var socket = new Socket(gateway.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.Bind(new IPEndPoint(gateway.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

/// <summary>Finds the default IPv4 gateway from the kernel's routing table.</summary>
public static class DefaultGateway
{
    /// <summary>
    /// The gateway of the default route in <c>/proc/net/route</c> (Linux), or null when there is
    /// none or the file cannot be read. The table's addresses are hexadecimal in host byte order
    /// (little-endian on every machine SecureChat runs on).
    /// </summary>
    public static IPAddress? FindIPv4(string routeTable = "/proc/net/route")
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(routeTable);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        return ParseRouteTable(lines);
    }

    /// <summary>Reads the table's lines: "Iface Destination Gateway Flags …", the first line a heading.</summary>
    public static IPAddress? ParseRouteTable(IEnumerable<string> lines)
    {
        const int RouteUp = 0x1, RouteGateway = 0x2;
        foreach (var line in lines.Skip(1))
        {
            var fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 4
                || !uint.TryParse(fields[1], System.Globalization.NumberStyles.HexNumber, null, out var destination)
                || !uint.TryParse(fields[2], System.Globalization.NumberStyles.HexNumber, null, out var gateway)
                || !int.TryParse(fields[3], System.Globalization.NumberStyles.HexNumber, null, out var flags))
            {
                continue;
            }

            if (destination == 0 && gateway != 0 && (flags & (RouteUp | RouteGateway)) == (RouteUp | RouteGateway))
            {
                Span<byte> bytes = stackalloc byte[4];
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes, gateway);
                return new IPAddress(bytes);
            }
        }

        return null;
    }
}
