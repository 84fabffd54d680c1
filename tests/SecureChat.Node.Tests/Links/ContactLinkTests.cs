using System.Net;
using Microsoft.Extensions.Time.Testing;
using SecureChat.Net;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Identity;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.Node.Tests.Links;

/// <summary>
/// The contact link as an actor (docs/design-notes.md, "The contact link"): when it dials and how
/// it backs off, which of two connections it keeps, and what its stop closes. The nodes run on
/// in-memory pipes (<see cref="MemoryNetwork"/>), with no socket; where the test is about time,
/// on a fake clock that only the test moves.
/// </summary>
public sealed partial class ContactLinkTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly DateTimeOffset Epoch = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);
    private static readonly PeerEndpoint AliceAt = new("127.0.0.1", 7002);
    private static readonly PeerEndpoint BobAt = new("127.0.0.1", 7001);

    private readonly MemoryNetwork _network = new();
    private readonly List<IAsyncDisposable> _homes = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var home in _homes)
        {
            await home.DisposeAsync();
        }

        await _network.SettleAsync();
    }

    /// <summary>
    /// A peer that finishes the handshake and closes before the hellos (a node that refuses
    /// strangers) must be redialed with the backoff, 250 ms doubling to 30 s, not after a pause of
    /// at most 100 ms as after a connection that had been online. Over a minute of fake time that
    /// is eight dials; spinning would be hundreds (the loop stops counting at twenty).
    /// </summary>
    [Fact]
    public async Task Ended_SessionsRefusedBeforeTheHello_RedialsBackOffInsteadOfSpinning()
    {
        var time = new FakeTimeProvider(Epoch);
        var alice = Home("alice", Options(time));
        using var bob = LocalIdentity.Create("bob", Epoch);
        _network.Refuse(BobAt, bob);
        alice.Store.Contacts.Add(bob.Account, "bob", BobAt.ToString(), Epoch);
        var link = alice.Start().FindLink(bob.Account)!;
        await Eventually.HoldsAsync(() => _network.Attempts.Count == 1, "the first dial, at start");

        var gaps = new List<TimeSpan>();
        while (_network.Attempts.Count < 20)
        {
            var due = await SettledAsync(link, time);
            if (due - Epoch > TimeSpan.FromMinutes(1))
            {
                break;
            }

            var dials = _network.Attempts.Count;
            gaps.Add(due - time.GetUtcNow());
            time.Advance(due - time.GetUtcNow());
            await Eventually.HoldsAsync(() => _network.Attempts.Count > dials, $"redial {dials} at {due - Epoch}");
        }

        output.WriteLine($"Waits between dials: {string.Join(", ", gaps.Select(g => g.TotalMilliseconds.ToString("0", System.Globalization.CultureInfo.InvariantCulture)))} ms");
        Assert.InRange(_network.Attempts.Count, 7, 9);
        for (var i = 0; i < gaps.Count; i++)
        {
            var floor = TimeSpan.FromTicks(Math.Min(TimeSpan.FromMilliseconds(250).Ticks << i, TimeSpan.FromSeconds(30).Ticks));
            Assert.True(gaps[i] >= floor, $"Wait {i} was {gaps[i]}, below the backoff's {floor}.");
        }
    }

    /// <summary>A message queued for a contact the link has backed off from is dialed at once, without the clock moving.</summary>
    [Fact]
    public async Task Kick_DialerBackedOff_DialsAtOnce()
    {
        var time = new FakeTimeProvider(Epoch);
        var alice = Home("alice", Options(time));
        using var bob = LocalIdentity.Create("bob", Epoch);
        var contact = alice.Store.Contacts.Add(bob.Account, "bob", BobAt.ToString(), Epoch);
        var node = alice.Start();
        var link = node.FindLink(bob.Account)!;
        await Eventually.HoldsAsync(() => _network.Attempts.Count == 1, "the first dial, at start");
        for (var failed = 1; failed < 6; failed++)
        {
            var due = await SettledAsync(link, time);
            time.Advance(due - time.GetUtcNow());
            await Eventually.HoldsAsync(() => _network.Attempts.Count == failed + 1, $"redial {failed}");
        }

        var next = await SettledAsync(link, time);
        Assert.True(next - time.GetUtcNow() >= TimeSpan.FromSeconds(4), $"After six failures the next dial is {next - time.GetUtcNow()} away: the dialer has not backed off.");
        var now = time.GetUtcNow();

        node.Send(contact, "are you there?");

        await Eventually.HoldsAsync(() => _network.Attempts.Count == 7, "a dial right after the send");
        Assert.Equal(now, time.GetUtcNow());
    }

    /// <summary>An address a beacon or a lookup gave is dialed at once and before the stored one.</summary>
    [Fact]
    public async Task Hint_DialerWaiting_HintDialedAtOnceBeforeTheStoredEndpoint()
    {
        var time = new FakeTimeProvider(Epoch);
        var alice = Home("alice", Options(time));
        using var bob = LocalIdentity.Create("bob", Epoch);
        alice.Store.Contacts.Add(bob.Account, "bob", BobAt.ToString(), Epoch);
        var node = alice.Start();
        var link = node.FindLink(bob.Account)!;
        await Eventually.HoldsAsync(() => _network.Attempts.Count == 1, "the first dial, at start");
        await SettledAsync(link, time);
        var hinted = new IPEndPoint(IPAddress.Parse("127.0.0.2"), 7003);

        node.Hint(bob.Account, hinted, "a test");

        await Eventually.HoldsAsync(() => _network.Attempts.Count == 3, "the hint and the stored endpoint dialed");
        Assert.Equal([BobAt, new PeerEndpoint("127.0.0.2", 7003), BobAt], _network.Attempts);
    }

    /// <summary>
    /// Both nodes dial each other at once and both connections finish their handshakes: each side
    /// keeps the one dialed by the account whose key sorts first, so they keep the same one.
    /// </summary>
    [Fact]
    public async Task Attach_CrossingDials_BothKeepTheConnectionDialedByTheFirstKey()
    {
        var options = Options(TimeProvider.System);
        var alice = Home("alice", options);
        var bob = Home("bob", options);
        _network.Listen(AliceAt, alice);
        _network.Listen(BobAt, bob);
        alice.Store.Contacts.Add(bob.Account, "bob", BobAt.ToString(), DateTimeOffset.UtcNow);
        bob.Store.Contacts.Add(alice.Account, "alice", AliceAt.ToString(), DateTimeOffset.UtcNow);

        // The first two dials wait for each other, so both handshakes finish: the dials cross.
        var bothDialing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var waiting = 0;
        _network.BeforeHandshake = async index =>
        {
            if (index < 2)
            {
                if (Interlocked.Increment(ref waiting) == 2)
                {
                    bothDialing.TrySetResult();
                }

                await bothDialing.Task;
            }
        };
        alice.Start();
        bob.Start();

        var aliceLink = alice.Node.FindLink(bob.Account)!;
        var bobLink = bob.Node.FindLink(alice.Account)!;
        var first = alice.Account.PublicKey.SequenceCompareTo(bob.Account.PublicKey) < 0 ? aliceLink : bobLink;

        // Both may pass through the other connection first (each takes whichever arrives first);
        // they must end on the one the first key dialed. Were the choice not the same on both
        // sides, each would keep its own and this would never hold.
        await Eventually.HoldsAsync(
            () => aliceLink.IsOnline && bobLink.IsOnline
                && _network.Pairs.Exists(p => p.Joins(aliceLink.Session?.Connection, bobLink.Session?.Connection) && p.Dialed == first.Session?.Connection),
            "both online on the connection dialed by the first key",
            () => $"{_network.Pairs.Count} connections made; alice online {aliceLink.IsOnline}, bob online {bobLink.IsOnline}.");
        var pairs = _network.Pairs;
        Assert.True(pairs.Count >= 2 && pairs[0].Dialed.PeerAccount != pairs[1].Dialed.PeerAccount, "The first two connections were not dialed one by each side: the dials did not cross.");

        // And they stay on it: a message goes through, on the same connection.
        alice.Node.Send(alice.ContactOf(bob), "one connection");
        await Eventually.HoldsAsync(() => bob.History(alice).Count == 1, "the message delivered");
        Assert.True(_network.Pairs.Exists(p => p.Joins(aliceLink.Session?.Connection, bobLink.Session?.Connection)));
    }

    /// <summary>A second connection dialed the same way as the running one replaces it on both sides; the old one ends.</summary>
    [Fact]
    public async Task Attach_NewerSameDirection_ReplacesTheOldOnBothSides()
    {
        var options = Options(TimeProvider.System);
        var alice = Home("alice", options);
        var bob = Home("bob", options);
        _network.Listen(BobAt, bob);
        alice.Store.Contacts.Add(bob.Account, "bob", BobAt.ToString(), DateTimeOffset.UtcNow);

        // Bob knows alice but no address of hers: only alice dials.
        bob.Store.Contacts.Add(alice.Account, "alice", null, DateTimeOffset.UtcNow);
        alice.Start();
        bob.Start();
        var aliceLink = alice.Node.FindLink(bob.Account)!;
        var bobLink = bob.Node.FindLink(alice.Account)!;
        await Eventually.HoldsAsync(() => aliceLink.IsOnline && bobLink.IsOnline, "both online");
        var (oldAlice, oldBob) = (aliceLink.Session!, bobLink.Session!);
        Assert.True(_network.Pairs[0].Joins(oldAlice.Connection, oldBob.Connection));

        using var timeout = new CancellationTokenSource(Eventually.Deadline);
        await alice.Node.ConnectAsync(BobAt, bob.Account, timeout.Token);

        await Eventually.HoldsAsync(
            () => aliceLink.IsOnline && bobLink.IsOnline && _network.Pairs.Count == 2 && _network.Pairs[1].Joins(aliceLink.Session?.Connection, bobLink.Session?.Connection),
            "both online on the newer connection",
            () => $"{_network.Pairs.Count} connections made.");
        await oldAlice.Completion.WaitAsync(timeout.Token);
        await oldBob.Completion.WaitAsync(timeout.Token);
    }

    /// <summary>
    /// The stop closes the running session, and a connection handed to the link while it stops
    /// (before or after the stop is posted) or after it stopped is closed, never left open.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task StopAsync_AttachRacingTheStop_ClosesTheSessionAndTheConnection(bool attachFirst)
    {
        var options = Options(TimeProvider.System);
        var alice = Home("alice", options);
        var bob = Home("bob", options);
        _network.Listen(BobAt, bob);
        alice.Store.Contacts.Add(bob.Account, "bob", BobAt.ToString(), DateTimeOffset.UtcNow);
        bob.Store.Contacts.Add(alice.Account, "alice", null, DateTimeOffset.UtcNow);
        bob.Start();
        alice.Start();
        var aliceLink = alice.Node.FindLink(bob.Account)!;
        var bobLink = bob.Node.FindLink(alice.Account)!;
        await Eventually.HoldsAsync(() => aliceLink.IsOnline && bobLink.IsOnline, "both online");
        var running = aliceLink.Session!;
        using var timeout = new CancellationTokenSource(Eventually.Deadline);
        var racing = await _network.HandshakeAsync(alice.Identity, bob.Identity, options.Channel, timeout.Token);

        Task stopping, attaching;
        if (attachFirst)
        {
            attaching = aliceLink.AttachAsync(racing.Dialed, alice.ContactOf(bob));
            stopping = aliceLink.StopAsync(CloseReason.Shutdown, "the node stopped");
        }
        else
        {
            stopping = aliceLink.StopAsync(CloseReason.Shutdown, "the node stopped");
            attaching = aliceLink.AttachAsync(racing.Dialed, alice.ContactOf(bob));
        }

        await Task.WhenAll(stopping, attaching).WaitAsync(timeout.Token);
        await running.Completion.WaitAsync(timeout.Token);
        Assert.False(aliceLink.IsOnline);
        Assert.Null(aliceLink.Session);
        await Eventually.HoldsAsync(() => !bobLink.IsOnline, "bob sees alice go");
        await AssertClosedAsync(racing.Accepted, timeout.Token);

        var late = await _network.HandshakeAsync(alice.Identity, bob.Identity, options.Channel, timeout.Token);
        await aliceLink.AttachAsync(late.Dialed, alice.ContactOf(bob)).WaitAsync(timeout.Token);
        await AssertClosedAsync(late.Accepted, timeout.Token);
    }

    /// <summary>Reads the far end of a connection to its end: its peer must have closed it.</summary>
    private static async Task AssertClosedAsync(SecureConnection far, CancellationToken cancellationToken)
    {
        while (await far.ReceiveAsync(cancellationToken) is not null)
        {
            // A hello may have gone out before the close.
        }

        Assert.NotNull(far.PeerClose);
        await far.DisposeAsync();
    }

    /// <summary>Waits until the link neither holds a session nor dials, with its next dial planned; returns when that is.</summary>
    private static async Task<DateTimeOffset> SettledAsync(ContactLink link, FakeTimeProvider time)
    {
        DateTimeOffset due = default;
        await Eventually.HoldsAsync(
            () => link.Session is null && !link.Dialing && link.DialDueAt is { } next && next > time.GetUtcNow() && (due = next) == next,
            "the link waiting to redial",
            () => $"session {(link.Session is null ? "none" : "held")}, dialing {link.Dialing}, next dial {link.DialDueAt}, now {time.GetUtcNow()}");
        return due;
    }

    private NodeOptions Options(TimeProvider time) => new()
    {
        ListenHost = null,
        Dialer = _network,
        MinRedialDelay = TimeSpan.FromMilliseconds(250),
        MaxRedialDelay = TimeSpan.FromSeconds(30),
        Channel = new ChannelOptions { Time = time, CloseTimeout = TimeSpan.FromSeconds(1) },
    };

    private NodeHome Home(string name, NodeOptions options)
    {
        var home = new NodeHome(name, new TestOutputLogger(output, name), options);
        _homes.Add(home);
        return home;
    }
}
