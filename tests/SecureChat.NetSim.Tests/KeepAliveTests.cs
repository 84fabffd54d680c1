using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using SecureChat.Net;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.NetSim.Tests;

/// <summary>
/// A TCP connection whose peer vanishes without a word (its packets dropped from one moment on, as
/// when the peer's router takes a new address) ends within the time its <see cref="TcpKeepAlive"/>
/// sets, on the idle side and on the side with data in flight alike; the same connection without
/// keepalive is still open when they have ended. Only the simulated internet can drop a peer's
/// packets without touching the machine's own network.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(SimulatedInternetCollection.Name)]
public sealed class KeepAliveTests(ITestOutputHelper output)
{
    /// <summary>Short, so that the test waits seconds: first probe after 2 s of silence, 1 s apart, 5 s without an acknowledgement.</summary>
    private static readonly TcpKeepAlive Short = new(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1), 3, TimeSpan.FromSeconds(5));

    /// <summary>Far above <see cref="Short"/>'s 5 s, far below the hours an idle connection lives without keepalive.</summary>
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task PeerVanishes_IdleAndSendingConnectionsEndWithinTheKeepalive_WithoutItOneStaysOpen()
    {
        using var net = SimulatedInternet.Create();
        var near = net.AddPublicHost("near");
        var far = net.AddPublicHost("far");
        using var door = NamespaceSockets.Tcp(far.Namespace, AddressFamily.InterNetwork);
        door.Bind(new IPEndPoint(far.V4, 0));
        door.Listen();
        var port = ((IPEndPoint)door.LocalEndPoint!).Port;

        await using var idle = await ConnectAsync(near, door, port, Short);
        await using var sending = await ConnectAsync(near, door, port, Short);
        await using var plain = await ConnectAsync(near, door, port, keepAlive: null);

        // From here on nothing passes between the two hosts, in either direction, and nothing tells either end.
        Shell.Run("ip", ["netns", "exec", far.Namespace, "nft", "-f", "-"], $$"""
            table inet vanish {
              chain input { type filter hook input priority -10; ip saddr {{near.V4}} drop; }
              chain output { type filter hook output priority -10; ip daddr {{near.V4}} drop; }
            }
            """);
        var clock = Stopwatch.StartNew();
        var idleEnd = EndOfAsync(idle.Near);
        var plainEnd = EndOfAsync(plain.Near);
        await sending.Near.Output.WriteAsync(new byte[] { 1, 2, 3 });
        var sendingEnd = EndOfAsync(sending.Near);

        var idleEnded = await idleEnd.WaitAsync(Deadline);
        output.WriteLine($"the idle connection ended after {clock.Elapsed.TotalSeconds:0.0} s: {idleEnded}");
        var sendingEnded = await sendingEnd.WaitAsync(Deadline);
        output.WriteLine($"the connection with data in flight ended after {clock.Elapsed.TotalSeconds:0.0} s: {sendingEnded}");
        Assert.Equal(nameof(SocketError.TimedOut), idleEnded);
        Assert.Equal(nameof(SocketError.TimedOut), sendingEnded);
        if (plainEnd.IsCompleted)
        {
            Assert.Fail($"the connection without keepalive ended too: {await plainEnd}");
        }
    }

    /// <summary>Dials <paramref name="door"/> from <paramref name="near"/>; both ends get <paramref name="keepAlive"/>, as the node's dialer and listener give them.</summary>
    private static async Task<Pair> ConnectAsync(SimHost near, Socket door, int port, TcpKeepAlive? keepAlive)
    {
        var socket = NamespaceSockets.Tcp(near.Namespace, AddressFamily.InterNetwork);
        using var deadline = new CancellationTokenSource(ChildProcess.Timeout);
        var accepting = door.AcceptAsync(deadline.Token);
        await socket.ConnectAsync(new IPEndPoint(((IPEndPoint)door.LocalEndPoint!).Address, port), deadline.Token);
        var pair = new Pair(new TcpTransport(socket, keepAlive), new TcpTransport(await accepting, keepAlive));

        // One byte each way: the connection works before the peer vanishes.
        await pair.Far.Output.WriteAsync(new byte[] { 42 }, deadline.Token);
        var read = await pair.Near.Input.ReadAsync(deadline.Token);
        Assert.Equal(42, read.Buffer.FirstSpan[0]);
        pair.Near.Input.AdvanceTo(read.Buffer.End);
        return pair;
    }

    /// <summary>Reads until the connection ends; says how it ended (the kernel's ETIMEDOUT, as a socket error, is what keepalive gives).</summary>
    private static async Task<string> EndOfAsync(TcpTransport transport)
    {
        try
        {
            while (true)
            {
                var result = await transport.Input.ReadAsync();
                transport.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    return "ended by the peer";
                }
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            return (ex as SocketException ?? ex.InnerException as SocketException)?.SocketErrorCode.ToString() ?? ex.Message;
        }
    }

    private sealed record Pair(TcpTransport Near, TcpTransport Far) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Near.DisposeAsync();
            await Far.DisposeAsync();
        }
    }
}
