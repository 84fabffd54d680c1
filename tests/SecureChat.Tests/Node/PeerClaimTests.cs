using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Messages;
using SecureChat.Protocol.Messages.Wire;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.Tests.Node;

/// <summary>
/// What a peer says is a claim (docs/protocol.md 6.2 and 6.3), checked here as an attacker would
/// make it: a <see cref="HostilePeer"/> with a key of its own talks to real <c>securechat run</c>
/// processes. A hello's listen port is only tried, never taken over a contact's proven address; a
/// Lamport value beyond the bounds is refused, not stored, and leaves the conversation working;
/// a send time from the future is not believed; and a store frozen by such a Lamport value from
/// an older version works again.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(NodeProcesses.Collection)]
public sealed class PeerClaimTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Hello_StrangerOnTheContactsAddressClaimsItsPort_ContactKeepsItsEndpoint()
    {
        using var aHome = new TemporaryHome();
        using var bHome = new TemporaryHome();
        var identities = await Task.WhenAll(SecureChatCli.InitAsync(aHome, "A"), SecureChatCli.InitAsync(bHome, "B"));
        // A is told B's address before B starts.
        var bPort = LoopbackPort.Unused();
        var bEndpoint = SecureChatCli.Address(bPort);
        await NodeCli.AddContactAsync(aHome, identities[1], bEndpoint);
        await using var a = await RunningNode.StartAsync(aHome, "A", RunningNode.AnyPort, verbose: true);
        var aPort = a.ListenPort;
        await using var b = await RunningNode.StartAsync(bHome, "B", bPort, verbose: true);
        using var stranger = HostilePeer.Create("B");
        try
        {
            await DeliveredAsync(a, b, "B", await a.Api.SendAsync("B", "before"));
            Assert.Equal([bEndpoint], await EndpointsAsync(a, "B"));

            // The stranger shares B's IP (127.0.0.1, as behind one NAT) and says it listens on B's port.
            await using (var link = await stranger.DialAsync(aPort, claimedListenPort: (uint)bPort))
            {
                await Eventually.UntilAsync(
                    "A tries the claimed address and finds another key there",
                    Deadline,
                    () => Task.FromResult(a.Process.Stderr),
                    log => log.Contains($"said it listens at {bEndpoint}, but a dial there did not reach its key", StringComparison.Ordinal),
                    log => ChildProcess.Tail(log, 3000));
            }

            Assert.Equal([bEndpoint], await EndpointsAsync(a, "B"));
            using (var contacts = await a.Api.GetJsonAsync("api/contacts"))
            {
                var holders = contacts.RootElement.EnumerateArray()
                    .Where(c => c.GetProperty("endpoints").EnumerateArray().Any(e => e.GetString() == bEndpoint))
                    .Select(c => c.GetProperty("id").GetString());
                Assert.Equal([identities[1].Id], holders);
            }

            await DeliveredAsync(a, b, "B", await a.Api.SendAsync("B", "after"));
            using (var contact = await a.Api.GetJsonAsync("api/contacts/B"))
            {
                Assert.True(
                    !contact.RootElement.TryGetProperty("keyWarning", out var warning) || warning.ValueKind == JsonValueKind.Null,
                    $"A warns of a key change for B: {contact.RootElement}");
            }

            Assert.DoesNotContain("used to be", a.Process.Stderr, StringComparison.Ordinal);
            await b.StopAsync(bHome);
            await a.StopAsync(aHome);
            a.Process.AssertNoStackTrace();
        }
        finally
        {
            output.WriteLine(ChildProcess.Tail(a.Process.Stderr, 4000));
        }
    }

    [Fact]
    public async Task Envelope_LamportBeyondTheBound_RefusedNotStoredAndLaterSendsWork()
    {
        using var aHome = new TemporaryHome();
        await SecureChatCli.InitAsync(aHome, "A");
        await using var a = await RunningNode.StartAsync(aHome, "A", RunningNode.AnyPort, verbose: true);
        var aPort = a.ListenPort;
        using var mallory = HostilePeer.Create("Mallory");

        // Mallory is a contact (a stranger would be a request, held apart): the bound is a contact's too.
        using (await a.Api.AddContactAsync(new CreatedIdentity("mallory", mallory.Id, string.Empty)))
        {
        }

        try
        {
            await using (var link = await mallory.DialAsync(aPort))
            {
                await link.SendAsync(mallory.TextEnvelope(a.Id, "from the end of time", ulong.MaxValue));
                var close = await link.WaitClosedAsync();
                Assert.Equal(CloseReason.ProtocolViolation, close.Reason);
                Assert.Contains("Lamport value 18446744073709551615", close.Text, StringComparison.Ordinal);
                Assert.EndsWith("refused, not stored, not acknowledged", close.Text, StringComparison.Ordinal);
            }

            // The node logs it as it closes; the line may still be on its way through the pipe.
            await a.Process.WaitForErrorLineAsync(line => line.Contains("Lamport value 18446744073709551615", StringComparison.Ordinal), ChildProcess.Timeout);
            Assert.Empty(await a.Api.ConversationAsync(mallory.Id));

            // The conversation's clock did not move: A queues (twice, as the second used to overflow) and sends as ever.
            var queued = new[] { await a.Api.SendAsync(mallory.Id, "first after"), await a.Api.SendAsync(mallory.Id, "second after") };
            Assert.All(queued, m => Assert.InRange(m.Lamport, 1, 10));
            await ReceiveAsync(a, mallory, queued, sentAt: DateTimeOffset.UtcNow.AddDays(30));

            // Its send time a month ahead is not believed: the text is kept, with its receive time.
            var kept = Assert.Single(await a.Api.ConversationAsync(mallory.Id), m => m.Direction == "in");
            Assert.Equal("hello again", kept.Text);
            Assert.Equal(kept.ReceivedAt, kept.SentAt);
            await a.StopAsync(aHome);
            a.Process.AssertNoStackTrace();
        }
        finally
        {
            output.WriteLine(ChildProcess.Tail(a.Process.Stderr, 4000));
        }
    }

    [Fact]
    public async Task Send_StoreHoldsAHugeLamportFromAnOlderVersion_ClockGoesOnFromTheSaneValues()
    {
        using var aHome = new TemporaryHome();
        await SecureChatCli.InitAsync(aHome, "A");
        using var mallory = HostilePeer.Create("Mallory");
        var a = await RunningNode.StartAsync(aHome, "A", RunningNode.AnyPort, verbose: true);

        // A restarts on the port it got, where its contacts know it.
        var aPort = a.ListenPort;
        using (await a.Api.AddContactAsync(new CreatedIdentity("mallory", mallory.Id, string.Empty)))
        {
        }

        try
        {
            await using (var link = await mallory.DialAsync(aPort))
            {
                await link.SendAsync(mallory.TextEnvelope(a.Id, "an ordinary message", 5));
                await Eventually.UntilAsync(
                    "A stores the message",
                    Deadline,
                    () => a.Api.ConversationAsync(mallory.Id),
                    all => all.Count == 1,
                    all => $"{all.Count} messages");
            }

            await a.StopAsync(aHome);
        }
        finally
        {
            await a.DisposeAsync();
        }

        // What a version before the bound stored for Lamport 2^64 - 1: the value clamped to 2^63 - 1.
        using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = aHome.FilePath("securechat.db"), Pooling = false }.ToString()))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE messages SET lamport = $huge WHERE outgoing = 0";
            command.Parameters.AddWithValue("$huge", long.MaxValue);
            Assert.Equal(1, command.ExecuteNonQuery());
        }

        await using var restarted = await RunningNode.StartAsync(aHome, "A", aPort, verbose: true);
        try
        {
            var queued = new[] { await restarted.Api.SendAsync(mallory.Id, "first after"), await restarted.Api.SendAsync(mallory.Id, "second after") };
            Assert.All(queued, m => Assert.InRange(m.Lamport, 1, 10));
            await ReceiveAsync(restarted, mallory, queued);
            await restarted.StopAsync(aHome);
            restarted.Process.AssertNoStackTrace();
        }
        finally
        {
            output.WriteLine(ChildProcess.Tail(restarted.Process.Stderr, 4000));
        }
    }

    /// <summary>
    /// The hostile peer dials the node again, writes one sane envelope (the node, the responder of a
    /// new session, can only send once it has received), and takes the queued texts, acknowledging
    /// each; then the node shows them delivered.
    /// </summary>
    private static async Task ReceiveAsync(RunningNode node, HostilePeer peer, ApiMessage[] queued, DateTimeOffset? sentAt = null)
    {
        using var deadline = new CancellationTokenSource(Deadline);
        await using var link = await peer.DialAsync(node.ListenPort, cancellationToken: deadline.Token);
        await link.SendAsync(peer.TextEnvelope(node.Id, "hello again", (ulong)queued[^1].Lamport + 1, sentAt), deadline.Token);
        var texts = new List<Envelope>();
        while (texts.Count < queued.Length)
        {
            var text = await link.ReceiveTextAsync(deadline.Token);
            Assert.True(text is not null, $"The node closed the connection: {link.Closed}\n{ChildProcess.Tail(node.Process.Stderr, 3000)}");
            texts.Add(text);
        }

        Assert.Equal(queued.Select(m => m.Text), texts.Select(t => t.Text.Content));
        Assert.All(texts, t => Assert.True(t.Lamport <= NodeWire.MaxLamport));
        await Eventually.UntilAsync(
            "the node shows its texts delivered",
            Deadline,
            async () => (await node.Api.ConversationAsync(peer.Id)).Where(m => m.Direction == "out").ToList(),
            all => all.Count == queued.Length && all.All(m => m.State is "delivered" or "read"),
            all => string.Join(", ", all.Select(m => m.State)));
    }

    private static async Task DeliveredAsync(RunningNode sender, RunningNode receiver, string receiverName, ApiMessage message) =>
        await Eventually.UntilAsync(
            $"'{message.Text}' delivered",
            Deadline,
            () => sender.Api.MessageAsync(message.Id),
            m => m?.State is "delivered" or "read",
            m => string.Create(CultureInfo.InvariantCulture, $"{m?.State}\n{ChildProcess.Tail(sender.Process.Stderr, 2000)}\n{ChildProcess.Tail(receiver.Process.Stderr, 2000)}"));

    private static async Task<List<string?>> EndpointsAsync(RunningNode node, string contact)
    {
        using var json = await node.Api.GetJsonAsync($"api/contacts/{contact}");
        return [.. json.RootElement.GetProperty("endpoints").EnumerateArray().Select(e => e.GetString())];
    }
}
