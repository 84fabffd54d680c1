using System.Net;
using SecureChat.Protocol.Channel;
using SecureChat.Testing;

namespace SecureChat.Net.Tests;

/// <summary>
/// The listener under a flood of 1,000 junk, silent and half-sent connections from loopback: a
/// real peer still connects, and what the flood holds stays within the admission limits.
/// </summary>
[Trait("Speed", "Slow")]
public sealed class ListenerFloodTests
{
    private const int FloodSize = 1000;

    [Fact]
    public async Task Listen_FloodFromOneAddress_HoldsOnlyThatAddressesShare_AndAPeerStillConnects()
    {
        await using var loop = new Loopback();

        // A long handshake timeout: every silent or trickling connection the flood loses is cut for a newer one.
        var options = new ChannelOptions { HandshakeTimeout = TimeSpan.FromMinutes(1) };
        var listener = loop.Listen(options);
        var flooder = IPAddress.Parse("127.0.0.2");

        using var flood = await LoopbackFlood.OpenAsync(listener.LocalEndPoint, FloodSize, _ => flooder, Preamble.Encode(ChannelPattern.XX), loop.Token);

        var counters = await AllSeenAsync(listener, FloodSize);
        Assert.InRange(counters.Pending, 1, options.MaxPendingHandshakesPerAddress);
        Assert.Equal(0, counters.Refused);
        Assert.InRange(counters.Evicted, (2 * FloodSize / 3) - options.MaxPendingHandshakesPerAddress, FloodSize);
        await AssertAPeerConnectsAsync(loop, listener);
    }

    [Fact]
    public async Task Listen_FloodFromThePeersOwnAddress_CutsOnlyTheFloodsHandshakes_AndThePeerStillConnects()
    {
        await using var loop = new Loopback();
        var options = new ChannelOptions { HandshakeTimeout = TimeSpan.FromMinutes(1) };
        var listener = loop.Listen(options);

        // Alice dials from 127.0.0.1 too: strangers behind the same NAT, silent, junk or trickling.
        using var flood = await LoopbackFlood.OpenAsync(listener.LocalEndPoint, FloodSize, _ => IPAddress.Loopback, Preamble.Encode(ChannelPattern.XX), loop.Token);

        var counters = await AllSeenAsync(listener, FloodSize);
        Assert.InRange(counters.Pending, 1, options.MaxPendingHandshakesPerAddress);
        Assert.Equal(0, counters.Refused);
        var dialing = loop.DialAsync(listener);
        await using var accepted = await NextConnectionAsync(listener, loop.Token);
        var alice = await dialing;
        Assert.Equal(loop.Alice.Account, accepted.PeerAccount);

        // Authenticated, she holds her place however many strangers from her address come after.
        var evicted = listener.Admission.Evicted;
        var second = 3 * options.MaxPendingHandshakesPerAddress;
        using var more = await LoopbackFlood.OpenAsync(listener.LocalEndPoint, second, _ => IPAddress.Loopback, Preamble.Encode(ChannelPattern.XX), loop.Token);
        await AllSeenAsync(listener, FloodSize + 1 + second);
        await alice.SendAsync("hello"u8.ToArray(), loop.Token);
        Assert.Equal("hello"u8.ToArray(), await accepted.ReceiveAsync(loop.Token));
        Assert.Equal(1, listener.Admission.Open);
        Assert.Equal(0, listener.Admission.Refused);
        Assert.True(listener.Admission.Evicted > evicted, "The second flood from her address cut none of its own handshakes.");
    }

    [Fact]
    public async Task Listen_FloodFromAThousandAddresses_CutsTheOldestHandshakes_AndAPeerStillConnects()
    {
        await using var loop = new Loopback();
        var options = new ChannelOptions();
        var listener = loop.Listen(options);

        using var flood = await LoopbackFlood.OpenAsync(listener.LocalEndPoint, FloodSize, i => new IPAddress([127, 1, (byte)(i / 250), (byte)(2 + (i % 250))]), Preamble.Encode(ChannelPattern.XX), loop.Token);

        // A third of the flood sends junk and fails at once; the silent and trickling two thirds
        // outnumber the slots, so the oldest of them are cut.
        var counters = await AllSeenAsync(listener, FloodSize);
        Assert.InRange(counters.Pending, 1, options.MaxPendingHandshakes);
        Assert.Equal(0, counters.Refused);
        Assert.InRange(counters.Evicted, (2 * FloodSize / 3) - options.MaxPendingHandshakes, FloodSize);
        await AssertAPeerConnectsAsync(loop, listener);
        Assert.InRange(listener.Admission.Pending, 0, options.MaxPendingHandshakes);
    }

    [Fact]
    public async Task Listen_PeerTricklingItsHandshake_IsCutAtTheHandshakeTimeout()
    {
        await using var loop = new Loopback();
        var listener = loop.Listen(new ChannelOptions { HandshakeTimeout = TimeSpan.FromMilliseconds(500) });
        using var slow = new System.Net.Sockets.TcpClient();
        await slow.ConnectAsync(IPAddress.Loopback, listener.LocalEndPoint.Port, loop.Token);
        var stream = slow.GetStream();
        var preamble = Preamble.Encode(ChannelPattern.XX);

        // One byte every 50 ms: never idle long, yet the handshake as a whole has a deadline.
        var accepting = listener.AcceptAsync(loop.Token).AsTask();
        byte[] drip = [.. preamble, 0xff, 0xff, .. new byte[64]];
        var sent = 0;
        while (!accepting.IsCompleted && sent < drip.Length)
        {
            await stream.WriteAsync(drip.AsMemory(sent++, 1), loop.Token);
            await Task.WhenAny(accepting, Task.Delay(50, loop.Token));
        }

        var inbound = await accepting;
        Assert.Equal(ChannelError.HandshakeTimeout, Assert.IsType<ChannelException>(inbound.Failure).Error);
        Assert.InRange(sent, 2, drip.Length - 1);
        Assert.Equal(0, listener.Admission.Pending);
    }

    /// <summary>The counters once the listener has taken every connection of the flood off its backlog.</summary>
    private static Task<AdmissionCounters> AllSeenAsync(ChannelListener listener, int connections) =>
        Eventually.UntilAsync(
            $"the listener takes all {connections} connections off its backlog",
            Eventually.Deadline,
            () => Task.FromResult(listener.Admission),
            counters => counters.Admitted + counters.Refused >= connections,
            counters => $"{counters.Admitted + counters.Refused} taken");

    /// <summary>Alice dials from 127.0.0.1 and the listener hands over her connection, skipping the flood's failures.</summary>
    private static async Task AssertAPeerConnectsAsync(Loopback loop, ChannelListener listener)
    {
        var dialing = loop.DialAsync(listener);
        await using var connection = await NextConnectionAsync(listener, loop.Token);
        Assert.Equal(loop.Alice.Account, connection.PeerAccount);
        var alice = await dialing;
        await alice.SendAsync("hello"u8.ToArray(), loop.Token);
        Assert.Equal("hello"u8.ToArray(), await connection.ReceiveAsync(loop.Token));
        Assert.Equal(1, listener.Admission.Open);
    }

    /// <summary>The next connection that finished its handshake, skipping the flood's failures.</summary>
    private static async Task<SecureConnection> NextConnectionAsync(ChannelListener listener, CancellationToken cancellationToken)
    {
        while (true)
        {
            var inbound = await listener.AcceptAsync(cancellationToken);
            if (inbound.Connection is { } connection)
            {
                return connection;
            }
        }
    }
}
