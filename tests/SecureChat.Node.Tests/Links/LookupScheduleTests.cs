using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.Time.Testing;
using SecureChat.Net;
using SecureChat.Node.Discovery;
using SecureChat.Protocol.Identity;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.Node.Tests.Links;

/// <summary>
/// When a contact link looks its contact up (docs/discovery.md, "Time to first contact"): not
/// before the DHT has joined, at once when it has; at once and twice more half a second apart
/// when this node has just published its own record for the contact; and otherwise on a backoff
/// that grows to 15 minutes, so that offline contacts cost the DHT little. The locator is a fake
/// that counts lookups and never finds anyone; the clock is a fake that only the test moves.
/// </summary>
public sealed class LookupScheduleTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly DateTimeOffset Epoch = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);

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
    /// Before the DHT has joined a lookup can only come back empty, and each empty one would push
    /// the next out: the link waits, however long, and looks up the moment the DHT says it is ready.
    /// </summary>
    [Fact]
    public async Task LocatorReady_LinkWaitedForTheDht_LooksUpAtOnce()
    {
        var time = new FakeTimeProvider(Epoch);
        var locator = new CountingLocator(time) { IsReady = false };
        var alice = Home("alice", Options(time, locator));
        using var bob = LocalIdentity.Create("bob", Epoch);
        alice.Store.Contacts.Add(bob.Account, "bob", null, Epoch);
        var node = alice.Start();
        var link = node.FindLink(bob.Account)!;
        await Eventually.HoldsAsync(() => link.Session is null && !link.Dialing && link.DialDueAt is null, "the link waiting, with nothing to dial");

        time.Advance(TimeSpan.FromMinutes(1));
        await Eventually.HoldsAsync(() => link.DialDueAt is null && !link.Dialing, "the link still waiting after a minute");
        Assert.Empty(locator.Lookups);

        locator.IsReady = true;
        node.LocatorReady();

        await Eventually.HoldsAsync(() => locator.Lookups.Count == 1, "a lookup as soon as the DHT is ready");
        Assert.Equal([Epoch + TimeSpan.FromMinutes(1)], locator.Lookups);
        Assert.Equal([true], locator.FirstCopy);
    }

    /// <summary>
    /// After this node published its record for the contact, the contact's record is most likely
    /// there too (both started together): the link looks up at once, then twice more half a second
    /// apart, whatever its backoff had reached; after those, the backoff goes on from where it was,
    /// not from its start, so that a publish does not make an offline contact cheap to ask about again.
    /// </summary>
    [Fact]
    public async Task PublishedFor_LookupsBackedOff_ThreeQuickLookupsThenTheBackoffAsBefore()
    {
        var time = new FakeTimeProvider(Epoch);
        var locator = new CountingLocator(time);
        var alice = Home("alice", Options(time, locator));
        using var bob = LocalIdentity.Create("bob", Epoch);
        alice.Store.Contacts.Add(bob.Account, "bob", null, Epoch);
        var node = alice.Start();
        var link = node.FindLink(bob.Account)!;
        await Eventually.HoldsAsync(() => locator.Lookups.Count == 1, "the first lookup, at start");
        for (var done = 1; done < 5; done++)
        {
            var due = await SettledAsync(link, time);
            time.Advance(due - time.GetUtcNow());
            await Eventually.HoldsAsync(() => locator.Lookups.Count == done + 1, $"lookup {done + 1}");
        }

        var before = await SettledAsync(link, time) - time.GetUtcNow();
        Assert.True(before >= TimeSpan.FromSeconds(32), $"After five empty lookups the next is {before} away: the lookups have not backed off (2 s doubling).");
        var published = time.GetUtcNow();

        node.PublishedFor(bob.Account);

        await Eventually.HoldsAsync(() => locator.Lookups.Count == 6, "a lookup right after the publish");
        Assert.Equal(published, time.GetUtcNow());
        var gaps = new List<TimeSpan>();
        for (var quick = 0; quick < 3; quick++)
        {
            var due = await SettledAsync(link, time);
            gaps.Add(due - time.GetUtcNow());
            time.Advance(due - time.GetUtcNow());
            var expected = 7 + quick;
            await Eventually.HoldsAsync(() => locator.Lookups.Count == expected, $"lookup {expected}");
        }

        output.WriteLine($"Waits after the publish: {string.Join(", ", gaps.Select(g => g.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture)))} ms (before it: {before.TotalSeconds:0.0} s)");
        Assert.All(gaps.Take(2), gap => Assert.InRange(gap, TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(625)));

        // The three after the publish take the first copy of the record; the backoff's lookups
        // (the DHT was ready from the start: no locate-soon before them) take the newest.
        Assert.Equal([false, false, false, false, false, true, true, true, false], locator.FirstCopy);
        Assert.True(gaps[2] >= TimeSpan.FromSeconds(64), $"The third wait after the publish was {gaps[2]}: the backoff started over instead of going on from 32 s.");
    }

    /// <summary>
    /// A contact that stays offline is looked up rarely: over an hour, about a dozen times (2 s
    /// doubling to 15 minutes), not every few seconds. With a thousand such contacts that is about
    /// three lookups a second in the first minutes and one every second after.
    /// </summary>
    [Fact]
    public async Task Locate_ContactOfflineForAnHour_LooksUpAboutADozenTimes()
    {
        var time = new FakeTimeProvider(Epoch);
        var locator = new CountingLocator(time);
        var alice = Home("alice", Options(time, locator));
        using var bob = LocalIdentity.Create("bob", Epoch);
        alice.Store.Contacts.Add(bob.Account, "bob", null, Epoch);
        var link = alice.Start().FindLink(bob.Account)!;
        await Eventually.HoldsAsync(() => locator.Lookups.Count == 1, "the first lookup, at start");

        while (true)
        {
            var due = await SettledAsync(link, time);
            if (due - Epoch > TimeSpan.FromHours(1))
            {
                break;
            }

            var count = locator.Lookups.Count;
            time.Advance(due - time.GetUtcNow());
            await Eventually.HoldsAsync(() => locator.Lookups.Count == count + 1, $"lookup {count + 1} at {due - Epoch}");
        }

        output.WriteLine($"Lookups in the first hour, at: {string.Join(", ", locator.Lookups.Select(t => (t - Epoch).TotalSeconds.ToString("0", CultureInfo.InvariantCulture)))} s");
        Assert.InRange(locator.Lookups.Count, 9, 14);
    }

    /// <summary>Waits until the link neither holds a session nor dials, with its next round planned; returns when that is.</summary>
    private static async Task<DateTimeOffset> SettledAsync(ContactLink link, FakeTimeProvider time)
    {
        DateTimeOffset due = default;
        await Eventually.HoldsAsync(
            () => link.Session is null && !link.Dialing && link.DialDueAt is { } next && next > time.GetUtcNow() && (due = next) == next,
            "the link waiting for its next round",
            () => $"dialing {link.Dialing}, next round {link.DialDueAt}, now {time.GetUtcNow()}");
        return due;
    }

    private NodeOptions Options(TimeProvider time, IContactLocator locator) => new()
    {
        ListenHost = null,
        Dialer = _network,
        Locator = locator,
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

    /// <summary>A locator that finds no one and notes when it was asked.</summary>
    private sealed class CountingLocator(TimeProvider time) : IContactLocator
    {
        private readonly ConcurrentQueue<DateTimeOffset> _lookups = new();
        private readonly ConcurrentQueue<bool> _first = new();
        private volatile bool _ready = true;

        public bool IsReady
        {
            get => _ready;
            set => _ready = value;
        }

        public IReadOnlyList<DateTimeOffset> Lookups => [.. _lookups];

        /// <summary>For each lookup, whether it asked for the first copy of the record rather than the newest.</summary>
        public IReadOnlyList<bool> FirstCopy => [.. _first];

        public bool Ready => _ready;

        public Task<IReadOnlyList<IPEndPoint>> LocateAsync(AccountId contact, bool first, CancellationToken cancellationToken)
        {
            _lookups.Enqueue(time.GetUtcNow());
            _first.Enqueue(first);
            return Task.FromResult<IReadOnlyList<IPEndPoint>>([]);
        }
    }
}
