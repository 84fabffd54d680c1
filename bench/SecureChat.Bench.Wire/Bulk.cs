using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using SecureChat.Net;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Identity;

namespace SecureChat.Bench.Wire;

/// <summary>
/// <c>bulk_ratio_vs_tcp</c>: a stream of bytes from this process to a sink process, once over a
/// raw TCP socket and once through the secure channel (Noise transport, ChaCha20-Poly1305, the
/// largest messages a frame carries), alternating, timed until the sink says it has every byte.
/// </summary>
internal static class Bulk
{
    private const int TcpChunk = 64 * 1024;

    public static async Task<IEnumerable<Figure>> RunAsync(long bytes, int rounds, TextWriter log)
    {
        var tcp = new List<double>();
        var channel = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            tcp.Add(await RawTcpAsync(bytes).ConfigureAwait(false));
            channel.Add(await ChannelAsync(bytes).ConfigureAwait(false));
            log.WriteLine($"bulk round {round + 1}: raw TCP {tcp[^1] / 1e6:F0} MB/s, channel {channel[^1] / 1e6:F0} MB/s");
        }

        var tcpRate = Stats.Median(tcp);
        var channelRate = Stats.Median(channel);
        var note = $"{bytes / (1 << 20):N0} MiB per stream, median of {rounds}";
        return
        [
            new Figure("bulk_ratio_vs_tcp", channelRate / tcpRate, "×", "bytes/s through the secure channel between two processes, over raw TCP's",
                Target: "≥ 0.6", Note: note),
            new Figure("bulk_channel_mb_per_s", channelRate / 1e6, "MB/s", "a stream through the secure channel between two processes",
                BaselineKey: "bulk_tcp_mb_per_s", Baseline: tcpRate / 1e6, BaselineUnit: "MB/s", BaselineWhat: "raw TCP between the same two processes", Note: note),
        ];
    }

    private static async Task<double> RawTcpAsync(long bytes)
    {
        await using var sink = ChildProcess.Start("sink-tcp", bytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var port = int.Parse((await sink.ExpectAsync("listening").ConfigureAwait(false))[0], System.Globalization.CultureInfo.InvariantCulture);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)).ConfigureAwait(false);
        var buffer = new byte[TcpChunk];
        Random.Shared.NextBytes(buffer);
        var clock = Stopwatch.StartNew();
        for (long sent = 0; sent < bytes;)
        {
            var size = (int)Math.Min(buffer.Length, bytes - sent);
            sent += await socket.SendAsync(buffer.AsMemory(0, size)).ConfigureAwait(false);
        }

        var done = new byte[1];
        if (await socket.ReceiveAsync(done).ConfigureAwait(false) != 1)
        {
            throw new InvalidOperationException("The TCP sink closed before it had every byte.");
        }

        return bytes / clock.Elapsed.TotalSeconds;
    }

    private static async Task<double> ChannelAsync(long bytes)
    {
        await using var sink = ChildProcess.Start("sink-channel", bytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var port = int.Parse((await sink.ExpectAsync("listening").ConfigureAwait(false))[0], System.Globalization.CultureInfo.InvariantCulture);
        using var identity = LocalIdentity.Create("bulk sender", DateTimeOffset.UtcNow);
        await using var connection = await ChannelDialer.ConnectAsync(
            new PeerEndpoint("127.0.0.1", port), identity, ReadOnlyMemory<byte>.Empty, _ => null, new ChannelOptions(), CancellationToken.None).ConfigureAwait(false);
        var buffer = new byte[ChannelSession.MaxMessageSize];
        Random.Shared.NextBytes(buffer);
        var clock = Stopwatch.StartNew();
        for (long sent = 0; sent < bytes;)
        {
            var size = (int)Math.Min(buffer.Length, bytes - sent);
            await connection.SendAsync(buffer.AsMemory(0, size)).ConfigureAwait(false);
            sent += size;
        }

        if (await connection.ReceiveAsync().ConfigureAwait(false) is not [1])
        {
            throw new InvalidOperationException("The channel sink closed before it had every byte.");
        }

        var rate = bytes / clock.Elapsed.TotalSeconds;
        await connection.CloseAsync().ConfigureAwait(false);
        return rate;
    }

    /// <summary>The other end of a raw TCP stream: reads the given number of bytes, then answers one byte.</summary>
    public static async Task SinkTcpAsync(long bytes)
    {
        using var socket = await AcceptOneAsync().ConfigureAwait(false);
        var buffer = new byte[256 * 1024];
        for (long received = 0; received < bytes;)
        {
            var n = await socket.ReceiveAsync(buffer).ConfigureAwait(false);
            if (n == 0)
            {
                throw new InvalidOperationException("The sender closed early.");
            }

            received += n;
        }

        await socket.SendAsync(new byte[] { 1 }).ConfigureAwait(false);
        socket.Shutdown(SocketShutdown.Both);
    }

    /// <summary>
    /// A child's raw TCP end: listens on a free loopback port, says it (<c>listening PORT</c>) to
    /// the parent, and takes the one connection that comes.
    /// </summary>
    public static async Task<Socket> AcceptOneAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        Console.WriteLine($"listening {((IPEndPoint)listener.LocalEndPoint!).Port}");
        var socket = await listener.AcceptAsync().ConfigureAwait(false);
        socket.NoDelay = true;
        return socket;
    }

    /// <summary>The other end of a secure channel stream: receives messages up to the byte count, then answers one byte.</summary>
    public static async Task SinkChannelAsync(long bytes)
    {
        using var identity = LocalIdentity.Create("bulk sink", DateTimeOffset.UtcNow);
        await using var listener = ChannelListener.Start("127.0.0.1", 0, identity, _ => null, new ChannelOptions(), NullLogger.Instance);
        Console.WriteLine($"listening {listener.LocalEndPoint.Port}");
        var inbound = await listener.AcceptAsync().ConfigureAwait(false);
        await using var connection = inbound.Connection ?? throw new InvalidOperationException("The handshake failed.", inbound.Failure);
        for (long received = 0; received < bytes;)
        {
            var message = await connection.ReceiveAsync().ConfigureAwait(false) ?? throw new InvalidOperationException("The sender closed early.");
            received += message.Length;
        }

        await connection.SendAsync(new byte[] { 1 }).ConfigureAwait(false);
        while (await connection.ReceiveAsync().ConfigureAwait(false) is not null)
        {
        }
    }
}
