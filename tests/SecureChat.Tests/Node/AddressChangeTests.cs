using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.Tests.Node;

/// <summary>
/// A contact's address changes mid-conversation, end to end with real processes. B sits behind a
/// NAT made of <see cref="TcpRelay"/>s: first at 127.0.0.2:P1, then at 127.0.0.3:P2 (B's node moves
/// its listener to another port through <c>POST /api/listen</c>, and the old mapping dies, cutting
/// the connection). A, at 127.0.0.1, knows B only at the old address; B's connections to A leave
/// through the NAT, from B's current address, and reach A's listener through 127.0.0.4 (where B
/// learned A from A's own dial). The promise: messages A queues meanwhile are not lost while A's
/// dials to the old address fail; B dials in from the new address, A tries the port B's hello
/// claims there and keeps the address once B's key answers (A's contact shows 127.0.0.3:P2) and the queue is delivered exactly once, in order; and when B
/// can no longer dial out, A's own dial to the new address carries the later messages.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(NodeProcesses.Collection)]
public sealed class AddressChangeTests
{
    private static readonly IPAddress OldAddress = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress NewAddress = IPAddress.Parse("127.0.0.3");

    /// <summary>Where B reaches A's listener; A's dials to B come from here.</summary>
    private static readonly IPAddress AAddress = IPAddress.Parse("127.0.0.4");

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly ITestOutputHelper _output;

    public AddressChangeTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public async Task Send_ContactMovesToAnotherAddressAndPort_QueuedMessagesDeliveredOnceAndNewAddressLearned()
    {
        var clock = Stopwatch.StartNew();
        using var aHome = new TemporaryHome();
        using var bHome = new TemporaryHome();
        var identities = await Task.WhenAll(SecureChatCli.InitAsync(aHome, "A"), SecureChatCli.InitAsync(bHome, "B"));
        // The NAT relays in front of both nodes, and A's contact record, name the ports before the nodes start.
        var aListen = LoopbackPort.Unused();
        var bOldPort = LoopbackPort.Unused();
        var oldEndpoint = $"{OldAddress}:{bOldPort}";
        await NodeCli.AddContactAsync(aHome, identities[1], oldEndpoint);
        await NodeCli.KnowAsync(bHome, identities[0]);

        // B's first NAT: its port mapping (A's dials arrive from 127.0.0.4) and its way out to A (from 127.0.0.2).
        var relays = new List<TcpRelay>();
        var natIn = Relay(relays, new IPEndPoint(OldAddress, bOldPort), bOldPort, AAddress);
        var natOut = Relay(relays, new IPEndPoint(AAddress, aListen), aListen, OldAddress);
        await using var a = await RunningNode.StartAsync(aHome, "A", aListen, verbose: true);
        await using var b = await RunningNode.StartAsync(bHome, "B", bOldPort, verbose: true);
        try
        {
            var fromA = new List<ApiMessage>();
            var fromB = new List<ApiMessage>();
            for (var i = 0; i < 10; i++)
            {
                fromA.Add(await a.Api.SendAsync("B", Text("a-before", i)));
            }

            await WaitDeliveredAsync(a, b, "B", "A", fromA);

            // B learned A at 127.0.0.4 from A's dial, and answers there through its NAT.
            using (var contact = await b.Api.GetJsonAsync("api/contacts/A"))
            {
                Assert.Contains($"{AAddress}:{aListen}", Endpoints(contact));
            }

            for (var i = 0; i < 5; i++)
            {
                fromB.Add(await b.Api.SendAsync("A", Text("b-before", i)));
            }

            await WaitDeliveredAsync(b, a, "A", "B", fromB);

            // The move: B listens on another port, and the old mapping dies with the connection through it.
            // The new NAT relay is set up for the port before B moves there.
            var bNewPort = LoopbackPort.Unused();
            var newEndpoint = $"{NewAddress}:{bNewPort}";
            using (var moved = await b.Api.PostJsonAsync("api/listen", new { host = "127.0.0.1", port = bNewPort }))
            {
                Assert.Equal($"127.0.0.1:{bNewPort}", moved.RootElement.GetProperty("listen").GetString());
            }

            await Drop(relays, natIn);
            await Drop(relays, natOut);
            _output.WriteLine($"B moved from {oldEndpoint} to {newEndpoint} at {clock.Elapsed.TotalSeconds:F1} s");

            // Meanwhile A queues; its dials to the old address fail, and nothing is lost.
            for (var i = 0; i < 30; i++)
            {
                fromA.Add(await a.Api.SendAsync("B", Text("a-moving", i)));
            }

            await Eventually.UntilAsync(
                "A tries B's old address and fails",
                Deadline,
                () => Task.FromResult(a.Process.Stderr),
                log => log.Contains($"at {oldEndpoint}:", StringComparison.Ordinal) && log.Contains("Could not reach", StringComparison.Ordinal),
                log => ChildProcess.Tail(log, 3000));
            Assert.Equal(30L, await a.Api.OutboxAsync());
            Assert.Equal(fromA.Select(m => m.Id), (await a.Api.ConversationAsync("B")).Where(m => m.Direction == "out").Select(m => m.Id));

            // B's new NAT: B dials A from 127.0.0.3 and announces its new port; a message of B's own wakes its dialer.
            natIn = Relay(relays, new IPEndPoint(NewAddress, bNewPort), bNewPort, AAddress);
            natOut = Relay(relays, new IPEndPoint(AAddress, aListen), aListen, NewAddress);
            fromB.Add(await b.Api.SendAsync("A", Text("b-moved", 0)));
            await WaitDeliveredAsync(a, b, "B", "A", fromA);
            await WaitDeliveredAsync(b, a, "A", "B", fromB);
            // A dials the address B's hello claims, beside the running connection, and keeps it once B's key answers there.
            var learned = await Eventually.UntilAsync(
                "A learns B's new address by reaching B there",
                Deadline,
                async () =>
                {
                    using var contact = await a.Api.GetJsonAsync("api/contacts/B");
                    return Endpoints(contact);
                },
                endpoints => endpoints.Contains(newEndpoint),
                endpoints => $"A knows B at {string.Join(", ", endpoints)}\n{ChildProcess.Tail(a.Process.Stderr, 3000)}");
            _output.WriteLine($"A knows B at {string.Join(", ", learned)}");
            Assert.Contains(newEndpoint, learned);

            // B can no longer dial out, and every connection is cut: the next messages go over A's own dial to the new address.
            var dialedByA = natIn.Relayed;
            await Drop(relays, natOut);
            natIn.CutAll();
            for (var i = 0; i < 10; i++)
            {
                fromA.Add(await a.Api.SendAsync("B", Text("a-after", i)));
            }

            await WaitDeliveredAsync(a, b, "B", "A", fromA);
            Assert.True(natIn.Relayed > dialedByA, $"A did not dial B at {newEndpoint}");
            _output.WriteLine($"all delivered at {clock.Elapsed.TotalSeconds:F1} s; {natIn.Relayed} connections through B's new address");

            await b.StopAsync(bHome);
            await a.StopAsync(aHome);
            a.Process.AssertNoStackTrace();
            b.Process.AssertNoStackTrace();
        }
        finally
        {
            foreach (var relay in relays)
            {
                await relay.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// Waits until <paramref name="sender"/> shows every message of <paramref name="sent"/> delivered,
    /// then checks the receiver holds exactly them, once each, in order, among its incoming ones.
    /// </summary>
    private static async Task WaitDeliveredAsync(RunningNode sender, RunningNode receiver, string receiverName, string senderName, List<ApiMessage> sent)
    {
        await Eventually.UntilAsync(
            $"{senderName} shows its {sent.Count} messages delivered",
            Deadline,
            async () => (await sender.Api.ConversationAsync(receiverName)).Where(m => m.Direction == "out").ToList(),
            all => all.Count == sent.Count && all.All(m => m.State is "delivered" or "read"),
            all => $"{all.Count} messages, states {string.Join(", ", all.GroupBy(m => m.State).Select(g => $"{g.Key} {g.Count()}"))}\n{ChildProcess.Tail(sender.Process.Stderr, 3000)}\n{ChildProcess.Tail(receiver.Process.Stderr, 3000)}");
        var received = (await receiver.Api.ConversationAsync(senderName)).Where(m => m.Direction == "in").ToList();
        Assert.Equal(sent.Select(m => (m.Id, m.Text)), received.Select(m => (m.Id, m.Text)));
    }

    private static List<string?> Endpoints(System.Text.Json.JsonDocument contact) =>
        [.. contact.RootElement.GetProperty("endpoints").EnumerateArray().Select(e => e.GetString())];

    /// <summary>A relay at <paramref name="listen"/> to 127.0.0.1:<paramref name="targetPort"/>, its connections coming from <paramref name="source"/>.</summary>
    private static TcpRelay Relay(List<TcpRelay> relays, IPEndPoint listen, int targetPort, IPAddress source)
    {
        try
        {
            var relay = TcpRelay.Start(listen, new IPEndPoint(IPAddress.Loopback, targetPort), source);
            relays.Add(relay);
            return relay;
        }
        catch (SocketException ex)
        {
            throw new InvalidOperationException($"Could not listen on {listen} ({ex.SocketErrorCode}): this test needs 127.0.0.0/8 on the loopback interface.", ex);
        }
    }

    /// <summary>Takes a relay down: its address stops answering and its connections are reset.</summary>
    private static async Task Drop(List<TcpRelay> relays, TcpRelay relay)
    {
        relays.Remove(relay);
        await relay.DisposeAsync();
    }

    private static string Text(string phase, int i) => string.Create(CultureInfo.InvariantCulture, $"{phase} {i:D3}");
}
