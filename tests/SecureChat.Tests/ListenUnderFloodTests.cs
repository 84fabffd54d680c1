using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using SecureChat.Testing;
using Xunit.Abstractions;
using static SecureChat.Tests.SecureChatCli;

namespace SecureChat.Tests;

/// <summary>
/// The terminal <c>securechat listen</c> under a flood from its peer's own address (a carrier NAT,
/// a campus, a relay): 1,000 junk connections from 127.0.0.1, half silent and half sending random
/// bytes, are held open while a <c>securechat connect</c> from 127.0.0.1 gets in and delivers a line.
/// </summary>
[Trait("Speed", "Slow")]
public sealed class ListenUnderFloodTests
{
    private const int FloodSize = 1000;

    private static readonly TimeSpan DeliveryLimit = TimeSpan.FromSeconds(2);

    private readonly ITestOutputHelper _output;

    public ListenUnderFloodTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public async Task Listen_ThousandJunkConnectionsFromThePeersOwnAddress_ThePeerStillConnectsAndDeliversWithinTwoSeconds()
    {
        using var hostHome = new TemporaryHome();
        using var guestHome = new TemporaryHome();
        using var earlyHome = new TemporaryHome();
        var identities = await Task.WhenAll(InitAsync(hostHome, "Host"), InitAsync(guestHome, "Guest"), InitAsync(earlyHome, "Early"));
        var (listener, port) = await ListenAsync(hostHome, "listener Host");
        await using var _ = listener;
        var target = new IPEndPoint(IPAddress.Loopback, port);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        // The listener has taken a peer before, as one under attack has been running: what is
        // timed below is the flood's toll, not the first run of the code.
        await using (var early = Connect(earlyHome, "connector Early", Address(port)))
        {
            await early.SendLineAsync("warming the listener");
            await listener.WaitForLineAsync(Received("Early", "warming the listener"), ChatProcess.Timeout);
            await early.ExpectExitAsync(0);
        }

        // The guest's process starts and dials first (its start-up is not what is timed), and its
        // handshake is held at the door until the flood is in place.
        await using var door = HeldDial.Open();
        await using var connector = Connect(guestHome, "connector Guest", door.EndPoint.ToString());
        await connector.SendLineAsync("through the flood from my own address");
        await door.WaitForDialAsync(deadline.Token);

        var flooding = Stopwatch.StartNew();
        using var flood = await LoopbackFlood.OpenSilentOrJunkAsync(target, FloodSize, _ => IPAddress.Loopback, deadline.Token);
        _output.WriteLine($"flood: {flood.Connected} connections held, {flood.Refused} refused at once, in {flooding.Elapsed.TotalSeconds:F1} s");

        // The newest connection from 127.0.0.1 is the guest's: the flood's oldest handshakes give way to it.
        var clock = Stopwatch.StartNew();
        await door.ReleaseAsync(target, deadline.Token);
        var connecting = WhenAsync(listener.WaitForLineAsync(Connected(identities[1], $"from {Loopback}:"), ChatProcess.Timeout), clock);
        await listener.WaitForLineAsync(Received("Guest", "through the flood from my own address"), ChatProcess.Timeout);
        var delivered = clock.Elapsed;
        var connected = await connecting;
        _output.WriteLine($"connected {connected.TotalMilliseconds:F0} ms and delivered {delivered.TotalMilliseconds:F0} ms after the guest's handshake went on");
        Assert.True(delivered <= DeliveryLimit, $"The guest's line arrived {delivered.TotalMilliseconds:F0} ms after its handshake went on under the flood; the limit is {DeliveryLimit.TotalSeconds} s.");

        // Both ends close cleanly with the flood still held.
        await connector.ExpectExitAsync(0);
        await listener.WaitForLineAsync(l => l.StartsWith("* disconnected: Guest ", StringComparison.Ordinal), ChatProcess.Timeout);
        await listener.ExpectExitAsync(0);
        connector.AssertNoStackTrace();
        listener.AssertNoStackTrace();
    }

    private static async Task<TimeSpan> WhenAsync(Task done, Stopwatch clock)
    {
        await done;
        return clock.Elapsed;
    }

    /// <summary>
    /// A dial held at the door: takes one connection and keeps its bytes until released, then
    /// connects to the target from 127.0.0.1 and relays both ways. A process can start and dial
    /// before a flood is set up, and its handshake meets the flood when the test chooses.
    /// </summary>
    private sealed class HeldDial : IAsyncDisposable
    {
        private readonly TcpListener _door = new(IPAddress.Loopback, 0);
        private readonly List<Task> _pumps = [];
        private Socket? _held;
        private Socket? _onward;

        private HeldDial()
        {
        }

        public IPEndPoint EndPoint => (IPEndPoint)_door.LocalEndpoint;

        public static HeldDial Open()
        {
            var door = new HeldDial();
            door._door.Start();
            return door;
        }

        /// <summary>Waits for the one dial and its first bytes (the initiator speaks first).</summary>
        public async Task WaitForDialAsync(CancellationToken cancellationToken)
        {
            _held = await _door.AcceptSocketAsync(cancellationToken);
            var first = new byte[1];
            var read = await _held.ReceiveAsync(first, SocketFlags.Peek, cancellationToken);
            Assert.Equal(1, read);
        }

        /// <summary>Connects to <paramref name="target"/> from 127.0.0.1 and lets the bytes through.</summary>
        public async Task ReleaseAsync(IPEndPoint target, CancellationToken cancellationToken)
        {
            var held = _held ?? throw new InvalidOperationException("Nothing has dialed yet.");
            _onward = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            _onward.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            await _onward.ConnectAsync(target, cancellationToken);
            _pumps.Add(PumpAsync(held, _onward));
            _pumps.Add(PumpAsync(_onward, held));
        }

        public async ValueTask DisposeAsync()
        {
            _door.Stop();
            _held?.Dispose();
            _onward?.Dispose();
            await Task.WhenAll(_pumps).WaitAsync(ChatProcess.Timeout);
            _door.Dispose();
        }

        private static async Task PumpAsync(Socket from, Socket to)
        {
            var buffer = new byte[16 * 1024];
            try
            {
                int read;
                while ((read = await from.ReceiveAsync(buffer, SocketFlags.None)) > 0)
                {
                    await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
                }

                to.Shutdown(SocketShutdown.Send);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // One side went away, or the test is over: the relay ends with it.
            }
        }
    }
}
