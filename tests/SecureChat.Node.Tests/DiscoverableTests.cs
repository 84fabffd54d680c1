using System.Net;
using SecureChat.Node.Discovery;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.Node.Tests;

/// <summary>
/// The opt-in public record (docs/discovery.md section 4), on a loopback swarm of DHT nodes: a
/// stranger who has only the ID of a <c>--discoverable</c> node reaches it and its message
/// arrives; a node that did not opt in cannot be found by a stranger, who meanwhile finds one that did.
/// </summary>
public sealed class DiscoverableTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(20);
    private DhtSwarm _swarm = null!;
    private readonly List<NodeHome> _homes = [];

    public async Task InitializeAsync() => _swarm = await DhtSwarm.StartAsync(10);

    public async Task DisposeAsync()
    {
        foreach (var home in _homes)
        {
            await home.DisposeAsync();
        }

        await _swarm.DisposeAsync();
    }

    [Fact]
    public async Task Stranger_HasOnlyTheIdOfADiscoverableNode_ConnectsAndItsMessageArrives()
    {
        var alice = Home("alice", discoverable: true);
        var stranger = Home("stranger", discoverable: false);
        var aliceNode = alice.Start();
        var strangerNode = stranger.Start();

        // Alice has never heard of the stranger; the stranger has only her ID.
        var contact = strangerNode.AddContact(alice.Account, "alice", null);
        strangerNode.Send(contact, "hello, I found you by your ID");
        await Eventually.HoldsAsync(
            () => alice.FindContact(stranger) is { } known && alice.History(stranger).Any(m => m is { Outgoing: false, Text: "hello, I found you by your ID" }),
            "the stranger's message reaches alice",
            () => $"The stranger's outbox holds {stranger.Store.Outbox.Count()}; DHT joined: {strangerNode.DhtJoined}.",
            Within);
    }

    [Fact]
    public async Task Stranger_HasOnlyTheIdOfANodeThatDidNotOptIn_CannotFindIt()
    {
        var alice = Home("alice", discoverable: false);
        var carol = Home("carol", discoverable: true);
        var stranger = Home("stranger", discoverable: false);
        var aliceNode = alice.Start();
        carol.Start();
        var strangerNode = stranger.Start();
        var contact = strangerNode.AddContact(alice.Account, "alice", null);
        strangerNode.Send(contact, "anyone there?");

        // The stranger looks both up at once. Carol opted in, so finding her proves that the
        // stranger's lookups ran and that the swarm serves what was published: alice, looked up
        // alongside, would have been found the same way had she published anything.
        strangerNode.Send(strangerNode.AddContact(carol.Account, "carol", null), "found you");
        await Eventually.HoldsAsync(
            () => carol.History(stranger).Any(m => m is { Outgoing: false, Text: "found you" }) && stranger.Store.Outbox.Count() == 1,
            "the stranger's message reaches carol, who opted in, and she acknowledges it",
            () => $"The stranger's outbox holds {stranger.Store.Outbox.Count()}; DHT joined: alice {aliceNode.DhtJoined}, stranger {strangerNode.DhtJoined}.",
            Within);
        Assert.False(strangerNode.IsOnline(contact));
        Assert.Null(alice.FindContact(stranger));
        Assert.Equal(1, stranger.Store.Outbox.Count());
    }

    private NodeHome Home(string name, bool discoverable)
    {
        var options = NodeHome.FastOptions with
        {
            Discovery = new DiscoveryOptions
            {
                Dht = true,
                DhtEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
                Bootstrap = [_swarm.First],
                Discoverable = discoverable,
                Lan = false,
                PublishCheck = TimeSpan.FromSeconds(1),
            },
        };
        var home = new NodeHome(name, new TestOutputLogger(output, name), options);
        _homes.Add(home);
        return home;
    }
}
