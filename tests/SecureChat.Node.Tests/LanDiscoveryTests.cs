using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using SecureChat.Node.Discovery;
using SecureChat.Protocol.Discovery;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.Node.Tests;

/// <summary>
/// LAN discovery between in-process nodes (docs/discovery.md section 5): contacts that know each
/// other only by ID find each other through multicast beacons on the loopback interface, and a
/// node that is not a contact learns nothing from them. The DHT is off; every socket is on
/// loopback, the beacon port is a random free one, and the beacons go out every second.
/// </summary>
public sealed class LanDiscoveryTests : IAsyncLifetime
{
    /// <summary>A few beacon intervals: how long finding a contact on the LAN may take here.</summary>
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(10);

    private readonly DiscoveryOptions _discovery;
    private readonly NodeHome _alice;
    private readonly NodeHome _bob;
    private readonly NodeHome _carol;

    public LanDiscoveryTests(ITestOutputHelper output)
    {
        _discovery = new DiscoveryOptions
        {
            Dht = false,
            Lan = true,
            LanInterface = IPAddress.Loopback,
            LanPort = FreeUdpPort(),
            BeaconInterval = TimeSpan.FromSeconds(1),
        };
        var options = NodeHome.FastOptions with { Discovery = _discovery };
        _alice = new NodeHome("alice", new TestOutputLogger(output, "alice"), options);
        _bob = new NodeHome("bob", new TestOutputLogger(output, "bob"), options);
        _carol = new NodeHome("carol", new TestOutputLogger(output, "carol"), options);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _alice.DisposeAsync();
        await _bob.DisposeAsync();
        await _carol.DisposeAsync();
    }

    [Fact]
    public async Task Start_ContactsKnownOnlyById_FindEachOtherByBeaconsAndMessagesArrive()
    {
        var aliceNode = _alice.Start();
        var bobNode = _bob.Start();
        Assert.True(aliceNode.LanDiscovery && bobNode.LanDiscovery, $"LAN discovery did not start on UDP {_discovery.LanPort} (see the log).");

        var bob = aliceNode.AddContact(_bob.Account, "bob", null);
        var alice = bobNode.AddContact(_alice.Account, "alice", null);
        Assert.Empty(bob.Endpoints);
        Assert.Empty(alice.Endpoints);

        // Online with each other, on a connection whose dialer used the port the other's beacon
        // announced (the other side sees an ephemeral port). Both dial at once, so the two
        // connections cross and one replaces the other: the check waits for them to settle.
        await Eventually.HoldsAsync(
            () => aliceNode.IsOnline(bob) && bobNode.IsOnline(alice)
                && (PortOf(aliceNode.OnlineEndpoint(bob)) == _bob.Port || PortOf(bobNode.OnlineEndpoint(alice)) == _alice.Port),
            "online with each other through LAN beacons, at an announced port",
            () => $"Alice sees bob at {aliceNode.OnlineEndpoint(bob) ?? "none"} (he listens on {_bob.Endpoint}), bob sees alice at {bobNode.OnlineEndpoint(alice) ?? "none"} (she listens on {_alice.Endpoint}).",
            Within);

        aliceNode.Send(bob, "found you on the LAN");
        await Eventually.HoldsAsync(
            () => _bob.History(_alice).Any(m => m is { Outgoing: false, Text: "found you on the LAN" }),
            "alice's message received by bob",
            () => $"Alice's outbox holds {_alice.Store.Outbox.Count()}.",
            Within);
        bobNode.Send(alice, "and I you");
        await Eventually.HoldsAsync(
            () => _alice.History(_bob).Any(m => m is { Outgoing: false, Text: "and I you" }),
            "bob's answer received by alice",
            () => $"Bob's outbox holds {_bob.Store.Outbox.Count()}.",
            Within);
    }

    [Fact]
    public async Task Start_NotAContactOfTheBeaconSender_NeverReachesIt()
    {
        var aliceNode = _alice.Start();
        await using var aliceTrail = new EventTrail(aliceNode);
        var bobNode = _bob.Start();
        var carolNode = _carol.Start();
        Assert.True(aliceNode.LanDiscovery && bobNode.LanDiscovery && carolNode.LanDiscovery, $"LAN discovery did not start on UDP {_discovery.LanPort} (see the log).");
        await using var aliceBeacons = BeaconWatch.Start(_discovery, AliceToBobTagKey());

        // Carol has alice's ID and beacons to her; alice does not know carol.
        var bob = aliceNode.AddContact(_bob.Account, "bob", null);
        var aliceForBob = bobNode.AddContact(_alice.Account, "alice", null);
        var aliceForCarol = carolNode.AddContact(_alice.Account, "alice", null);

        // Beacons do go round: bob, on the same group and port as carol, finds alice.
        await Eventually.HoldsAsync(
            () => aliceNode.IsOnline(bob) && bobNode.IsOnline(aliceForBob),
            "alice and bob online through LAN beacons",
            state: null,
            Within);
        var seen = aliceBeacons.Count;
        await Eventually.HoldsAsync(
            () => aliceBeacons.Count >= seen + 3,
            "seen three more of alice's beacons",
            () => $"Seen {aliceBeacons.Count - seen}.",
            Within);

        Assert.False(carolNode.IsOnline(aliceForCarol), "Carol reached alice, who never told her where she is.");
        Assert.Null(_alice.FindContact(_carol));
        // Bob, when alice dialed him, checked the port her hello names with a handshake he leaves
        // after its second message (docs/protocol.md 6.1): alice may note that as an interrupted
        // inbound handshake, which names no contact. Nothing else went wrong at alice's.
        Assert.DoesNotContain(aliceTrail.Of<ConnectionProblem>(), p => p.ContactAccount is not null || p.KeyChanged);
        Assert.DoesNotContain(aliceTrail.Of<PresenceChanged>(), e => e.ContactAccount == _carol.Account.Text);
        Assert.DoesNotContain(aliceTrail.Of<ContactChanged>(), e => e.Contact.Account == _carol.Account.Text);
        Assert.Empty(_carol.ContactOf(_alice).Endpoints);
    }

    /// <summary>
    /// A beacon whose "sent at" has its top bit flipped (one damaged bit, or a hostile sender) puts
    /// now - sent at at the one value with no absolute value; a receiver must shrug it off and go on
    /// recognising its contacts' beacons.
    /// </summary>
    [Fact]
    public async Task Start_BeaconWithSentAtTopBitFlippedArrivesFirst_ContactsStillFindEachOther()
    {
        var aliceNode = _alice.Start();
        var bobNode = _bob.Start();
        Assert.True(aliceNode.LanDiscovery && bobNode.LanDiscovery, $"LAN discovery did not start on UDP {_discovery.LanPort} (see the log).");
        await using var watch = BeaconWatch.Start(_discovery, RandomNumberGenerator.GetBytes(32));

        // One for each second the receivers' clocks may read while these arrive.
        var now = DateTimeOffset.UtcNow;
        var hostile = new List<byte[]>();
        for (var second = -1; second <= 2; second++)
        {
            var beacon = LanBeacon.Build([RandomNumberGenerator.GetBytes(32)], 7313, now.AddSeconds(second))[0];
            beacon[20] ^= 0x80;
            hostile.Add(beacon);
        }

        await BeaconWatch.SendAsync(_discovery, hostile);
        await Eventually.HoldsAsync(() => watch.Received >= hostile.Count, "the hostile beacons on the group", () => $"Seen {watch.Received}.", Within);

        var bob = aliceNode.AddContact(_bob.Account, "bob", null);
        var alice = bobNode.AddContact(_alice.Account, "alice", null);
        await Eventually.HoldsAsync(
            () => aliceNode.IsOnline(bob) && bobNode.IsOnline(alice),
            "online with each other through LAN beacons after the hostile ones",
            state: null,
            Within);
    }

    private static int? PortOf(string? endpoint) => endpoint is null ? null : IPEndPoint.Parse(endpoint).Port;

    /// <summary>The key of the tag alice's beacons carry for bob, computed on bob's side.</summary>
    private byte[] AliceToBobTagKey()
    {
        using var pair = PairSecret.Derive(_bob.Identity.AccountPrivateKey, _bob.Account, _alice.Account)
            ?? throw new Xunit.Sdk.XunitException("No pair secret for alice and bob.");
        return LanBeacon.TagKey(pair.Span, _alice.Account, _bob.Account);
    }

    /// <summary>A UDP port in 20000–60000 that nothing on loopback holds now.</summary>
    private static int FreeUdpPort()
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var port = RandomNumberGenerator.GetInt32(20000, 60001);
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                probe.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException)
            {
                // Taken; draw again.
            }
        }

        throw new InvalidOperationException("No free UDP port found in 20000-60000.");
    }

    /// <summary>
    /// Listens on the beacon group, on loopback, like a node would, and counts the beacons that carry
    /// one tag: a clock of the sender's beacon rounds that a test can wait on instead of sleeping.
    /// </summary>
    private sealed class BeaconWatch : IAsyncDisposable
    {
        private readonly Socket _socket;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _receiving;
        private int _count;
        private int _received;

        private BeaconWatch(Socket socket, byte[] tagKey)
        {
            _socket = socket;
            _receiving = ReceiveAsync(tagKey, _stop.Token);
        }

        public int Count => Volatile.Read(ref _count);

        /// <summary>Every datagram on the group, whoever it is for.</summary>
        public int Received => Volatile.Read(ref _received);

        /// <summary>Multicasts datagrams to the beacon group from loopback, as a node would.</summary>
        public static async Task SendAsync(DiscoveryOptions options, IEnumerable<byte[]> datagrams)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.Bind(new IPEndPoint(options.LanInterface, 0));
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastInterface, options.LanInterface.GetAddressBytes());
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastTimeToLive, 1);
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastLoopback, true);
            foreach (var datagram in datagrams)
            {
                await socket.SendToAsync(datagram, SocketFlags.None, new IPEndPoint(options.LanGroup, options.LanPort));
            }
        }

        public static BeaconWatch Start(DiscoveryOptions options, byte[] tagKey)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(new IPEndPoint(options.LanGroup, options.LanPort));
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.AddMembership, new MulticastOption(options.LanGroup, options.LanInterface));
            return new BeaconWatch(socket, tagKey);
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _receiving;
            _socket.Dispose();
            _stop.Dispose();
        }

        private async Task ReceiveAsync(byte[] tagKey, CancellationToken cancellationToken)
        {
            var buffer = new byte[2048];
            while (true)
            {
                int received;
                try
                {
                    received = await _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                Interlocked.Increment(ref _received);
                if (LanBeacon.Recognise(buffer.AsSpan(0, received), [tagKey], DateTimeOffset.UtcNow).Senders.Count > 0)
                {
                    Interlocked.Increment(ref _count);
                }
            }
        }
    }
}
