using System.Net;
using Microsoft.Extensions.Time.Testing;
using SecureChat.Net;
using SecureChat.Protocol.Identity;
using SecureChat.Testing;

namespace SecureChat.Node.Tests.Links;

/// <summary>
/// A contact reachable at several addresses is dialed as RFC 8305 asks (<see cref="HappyEyeballs"/>):
/// IPv6 and IPv4 taking turns, the next attempt 250 ms after the one before or as soon as it
/// fails, the first whole dial winning. On the fake clock "250 ms" is the clock's reading, not a sleep.
/// </summary>
public sealed partial class ContactLinkTests
{
    private static readonly PeerEndpoint BobAt4 = new("198.51.100.7", 7311);
    private static readonly PeerEndpoint BobAt6 = new("2001:db8::7", 7311);

    /// <summary>
    /// The contact's IPv6 address drops every connect (a firewall, a broken route): the IPv4 one,
    /// stored first, is still dialed second, exactly 250 ms after the IPv6 one on the clock, and
    /// the link is online without the clock moving further; the IPv6 attempt is then cancelled
    /// rather than left to time out.
    /// </summary>
    [Fact]
    public async Task Dial_Ipv6BlackHoled_Ipv4StartsAfter250MsAndConnects()
    {
        var time = new FakeTimeProvider(Epoch);
        var (alice, bob) = Pair(time);
        _network.BlackHole(BobAt6);
        _network.Listen(BobAt4, bob);
        Know(alice, bob, BobAt4, BobAt6);
        bob.Start();
        alice.Start();
        var link = alice.Node.FindLink(bob.Account)!;

        await Eventually.HoldsAsync(() => _network.Attempts.Count == 1, "the first dial");
        Assert.Equal(BobAt6, _network.Attempts[0]);
        time.Advance(TimeSpan.FromMilliseconds(249));
        Assert.Single(_network.Attempts);
        time.Advance(TimeSpan.FromMilliseconds(1));

        await Eventually.HoldsAsync(() => link.IsOnline, "online through IPv4");
        Assert.Equal([BobAt6, BobAt4], _network.Attempts);
        Assert.Equal(_network.AttemptTimes[0] + HappyEyeballs.AttemptDelay, _network.AttemptTimes[1]);
        Assert.Equal(Epoch + HappyEyeballs.AttemptDelay, time.GetUtcNow());
        await Eventually.HoldsAsync(() => _network.Abandoned.Contains(BobAt6), "the black-holed attempt cancelled");
        Assert.Equal(BobAt4.ToString(), alice.ContactOf(bob).Endpoints[0]);
    }

    /// <summary>
    /// An attempt that finishes its handshake after another address won (it was under way when
    /// the race ended) is closed, not left open beside the connection in use, and does not take
    /// that connection's place.
    /// </summary>
    [Fact]
    public async Task Dial_LoserConnectsLate_LateConnectionClosedAndWinnerKept()
    {
        var time = new FakeTimeProvider(Epoch);
        var (alice, bob) = Pair(time);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var kept = new List<SecureConnection>();
        _network.Slow(BobAt6, bob.Identity, release.Task, kept);
        _network.Listen(BobAt4, bob);
        Know(alice, bob, BobAt4, BobAt6);
        bob.Start();
        alice.Start();
        var link = alice.Node.FindLink(bob.Account)!;
        await Eventually.HoldsAsync(() => _network.Attempts.Count == 1, "the first dial");

        time.Advance(HappyEyeballs.AttemptDelay);
        await Eventually.HoldsAsync(() => link.IsOnline, "online through IPv4");
        var winner = link.Session!.Connection;
        release.SetResult();

        await Eventually.HoldsAsync(() => { lock (kept) { return kept.Count == 1; } }, "the late connection made");
        using var timeout = new CancellationTokenSource(Eventually.Deadline);
        while (await kept[0].ReceiveAsync(timeout.Token) is not null)
        {
            // Nothing but the close may come on it.
        }

        Assert.NotNull(kept[0].PeerClose);
        await kept[0].DisposeAsync();
        Assert.True(link.IsOnline);
        Assert.Same(winner, link.Session?.Connection);
    }

    /// <summary>
    /// Another key answers at the contact's IPv6 address (its address moved to someone else, or
    /// someone intercepts): that attempt fails on the key check, the person is warned as before,
    /// and the IPv4 attempt starts at once, without waiting out the 250 ms, and connects.
    /// </summary>
    [Fact]
    public async Task Dial_WrongKeyAtOneAddress_WarnsAndConnectsThroughTheOther()
    {
        var time = new FakeTimeProvider(Epoch);
        var (alice, bob) = Pair(time);
        using var mallory = LocalIdentity.Create("mallory", Epoch);
        _network.Refuse(BobAt6, mallory);
        _network.Listen(BobAt4, bob);
        Know(alice, bob, BobAt4, BobAt6);
        bob.Start();
        alice.Start();
        var link = alice.Node.FindLink(bob.Account)!;

        await Eventually.HoldsAsync(() => link.IsOnline, "online through IPv4");
        Assert.Equal([BobAt6, BobAt4], _network.Attempts);
        Assert.Equal(Epoch, time.GetUtcNow());
        Assert.NotNull(alice.Node.KeyWarning(alice.ContactOf(bob)));
    }

    /// <summary>
    /// Four black holes hold the four places for attempts in flight: a fifth address waits until
    /// one of them gives up (at its connect timeout), then starts at once.
    /// </summary>
    [Fact]
    public async Task Dial_ManyBlackHoles_AttemptsInFlightBounded()
    {
        var time = new FakeTimeProvider(Epoch);
        var (alice, bob) = Pair(time);
        var holes = Enumerable.Range(1, HappyEyeballs.MaxInFlight).Select(i => new PeerEndpoint($"198.51.100.{i}", 7311)).ToList();
        foreach (var hole in holes)
        {
            _network.BlackHole(hole);
        }

        _network.Listen(BobAt4, bob);
        Know(alice, bob, [.. holes, BobAt4]);
        bob.Start();
        alice.Start();
        var link = alice.Node.FindLink(bob.Account)!;
        await Eventually.HoldsAsync(() => _network.Attempts.Count == 1, "the first dial");
        for (var i = 1; i < HappyEyeballs.MaxInFlight; i++)
        {
            time.Advance(HappyEyeballs.AttemptDelay);
            await Eventually.HoldsAsync(() => _network.Attempts.Count == i + 1, $"dial {i + 1}");
        }

        time.Advance(HappyEyeballs.AttemptDelay);
        Assert.Equal(HappyEyeballs.MaxInFlight, _network.Attempts.Count);

        // The first black hole times out at its connect timeout; the last address starts then.
        var first = _network.AttemptTimes[0];
        time.Advance(first + alice.Node.Options.Channel.ConnectTimeout - time.GetUtcNow());
        await Eventually.HoldsAsync(() => link.IsOnline, "online through the fifth address");
        Assert.Equal([.. holes, BobAt4], _network.Attempts);
        Assert.Equal(first + alice.Node.Options.Channel.ConnectTimeout, _network.AttemptTimes[^1]);
    }

    /// <summary>
    /// A typed host name with an A and an AAAA record: the addresses are raced as a contact's
    /// are (IPv6 first, black-holed here; IPv4 250 ms later), and the contact is pinned at the
    /// name as typed.
    /// </summary>
    [Fact]
    public async Task ConnectAsync_HostNameWithTwoAddresses_RacesThemAndPinsTheName()
    {
        var time = new FakeTimeProvider(Epoch);
        var (alice, bob) = Pair(time, BobAt4.Host, BobAt6.Host);
        _network.BlackHole(BobAt6);
        _network.Listen(BobAt4, bob);
        bob.Start();
        var aliceNode = alice.Start();
        using var deadline = new CancellationTokenSource(Eventually.Deadline);

        var connecting = aliceNode.ConnectAsync(new PeerEndpoint("bob.example", 7311), bob.Account, deadline.Token);
        await Eventually.HoldsAsync(() => _network.Attempts.Count == 1, "the first dial");
        time.Advance(HappyEyeballs.AttemptDelay);
        var contact = await connecting;

        Assert.Equal([BobAt6, BobAt4], _network.Attempts);
        Assert.Equal(bob.Account.Text, contact.Account);
        Assert.Equal("bob.example:7311", contact.Endpoints[0]);
        Assert.Contains(BobAt6, _network.Abandoned);
    }

    /// <summary>No address of a typed name leads to the account asked for: the refused key is what the person is told, not the address where nothing answered.</summary>
    [Fact]
    public async Task ConnectAsync_NoAddressAnswersAsExpected_ThrowsTheKeyRefusal()
    {
        var time = new FakeTimeProvider(Epoch);
        var (alice, bob) = Pair(time, BobAt4.Host, BobAt6.Host);
        using var mallory = LocalIdentity.Create("mallory", Epoch);
        _network.Refuse(BobAt4, mallory);
        var aliceNode = alice.Start();
        using var deadline = new CancellationTokenSource(Eventually.Deadline);

        var error = await Assert.ThrowsAsync<Protocol.Channel.ChannelException>(() => aliceNode.ConnectAsync(new PeerEndpoint("bob.example", 7311), bob.Account, deadline.Token));

        Assert.Equal(Protocol.Channel.ChannelError.PeerKeyMismatch, error.Error);
        Assert.Equal([BobAt6, BobAt4], _network.Attempts);
        Assert.Null(alice.FindContact(bob));
    }

    /// <summary>
    /// RFC 8305 section 4: IPv6 first, then the families take turns; within a family the
    /// caller's rank comes first, then public addresses before private ones, then the given order.
    /// A host name counts with IPv4.
    /// </summary>
    [Fact]
    public void Order_MixedAddresses_InterleavesFamiliesIpv6FirstPublicBeforePrivate()
    {
        (string Host, int Rank)[] candidates =
        [
            ("192.168.1.20", 1),
            ("198.51.100.7", 1),
            ("fd00::20", 1),
            ("2001:db8::7", 1),
            ("chat.example", 1),
            ("10.0.0.9", 0),
            ("::ffff:203.0.113.5", 1),
        ];

        var ordered = HappyEyeballs.Order(candidates, c => new PeerEndpoint(c.Host, 7311), c => c.Rank);

        Assert.Equal(
            ["2001:db8::7", "10.0.0.9", "fd00::20", "198.51.100.7", "chat.example", "::ffff:203.0.113.5", "192.168.1.20"],
            ordered.Select(c => c.Host));
    }

    /// <summary>Alice knows bob (his device pinned) at <paramref name="endpoints"/>, in that order; bob knows alice with no address, so only alice dials.</summary>
    private static void Know(NodeHome alice, NodeHome bob, params PeerEndpoint[] endpoints)
    {
        alice.Store.Contacts.Add(bob.Account, "bob", endpoints[^1].ToString(), Epoch);
        foreach (var endpoint in endpoints.Reverse().Skip(1))
        {
            alice.Store.Contacts.Pin(bob.Identity.Certificate, "bob", endpoint.ToString(), Epoch);
        }

        if (endpoints.Length == 1)
        {
            alice.Store.Contacts.Pin(bob.Identity.Certificate, "bob", endpoints[0].ToString(), Epoch);
        }

        Assert.Equal(endpoints.Select(e => e.ToString()), alice.ContactOf(bob).Endpoints);
        bob.Store.Contacts.Add(alice.Account, "alice", null, Epoch);
    }

    private (NodeHome Alice, NodeHome Bob) Pair(TimeProvider time, params string[] bobExampleIs)
    {
        var options = Options(time) with
        {
            Resolve = (name, _) => name == "bob.example"
                ? Task.FromResult(bobExampleIs.Select(IPAddress.Parse).ToArray())
                : throw new NetworkException(NetworkError.HostNotFound, $"The host name '{name}' could not be resolved."),
        };
        return (Home("alice", options), Home("bob", options));
    }
}
