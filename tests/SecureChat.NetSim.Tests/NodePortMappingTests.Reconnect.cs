using System.Diagnostics;
using System.Globalization;
using System.Net;
using SecureChat.Testing;

namespace SecureChat.NetSim.Tests;

/// <summary>
/// A contact that was connected when the node's router took a new address comes back on its own:
/// both ends notice the dead connection through keepalive, the contact's dial of the old endpoint
/// fails, its lookup finds the record the node republished, and what either side sent meanwhile
/// arrives once.
/// </summary>
public sealed partial class NodePortMappingTests
{
    [Fact]
    public async Task Run_RouterAddressChanges_AConnectedContactReconnectsAndMessagesSentAfterArriveOnceBothWays()
    {
        const int ListenPort = 45101;
        const int DhtPort = 6881;
        using var net = SimulatedInternet.Create();
        var home = net.AddHome("home", HomeKind.UpnpRouter);
        var contactHome = net.AddHome("eim", HomeKind.EimNat);
        var dht = BootstrapNodes.Add(net, DhtPort, ipv6: false);
        var bootstrap = dht.EndPoints;
        try
        {
            await dht.StartAsync(7000);

            // The contact sits behind a NAT that maps nothing: the connection is always its dial
            // to the endpoint the node's router forwards, and after the change only its own
            // redial, to an endpoint it learns from the DHT, can bring the two together again.
            await using var node = await SimNode.CreateAsync(home.Host, "mapped");
            await using var contact = await SimNode.CreateAsync(contactHome.Host, "contact");
            await Task.WhenAll(node.AddByIdAsync(contact), contact.AddByIdAsync(node));
            await node.StartAsync(ListenPort, ListenPort + 1, bootstrap, ["--port-mapping", "natpmp", "--port-mapping-check", CheckSeconds.ToString(CultureInfo.InvariantCulture)]);
            var before = (await MappedAsync(net, home, node, m => m.Tcp is not null, "the TCP port mapped")).Tcp!;
            await PublishedAfterAsync(node, contact, "Port mapping: mapped");
            await contact.StartAsync(ListenPort + 100, ListenPort + 101, bootstrap, ["--no-port-mapping"]);
            await ExchangeAsync(node, contact, "before the change", TimeSpan.FromSeconds(90));
            var first = await contact.ConnectedSinceAsync(node) ?? throw new InvalidOperationException("The contact delivered and received without a connection.");
            var firstOnNode = await node.ConnectedSinceAsync(contact);

            var clock = Stopwatch.StartNew();
            var renumbered = net.RenumberRouter(home);
            output.WriteLine($"router renumbered from {before.External.Address} to {renumbered}");

            // Sent at once, into the connection that no longer leads anywhere: each stays in its
            // sender's outbox until the next connection carries it.
            var exchange = ExchangeAsync(node, contact, "after the change", TimeSpan.FromSeconds(180));
            await Eventually.UntilAsync(
                "the contact's connection to the node ended",
                TimeSpan.FromSeconds(180),
                () => contact.ConnectedSinceAsync(node),
                since => since != first,
                _ => $"{ChildProcess.Tail(contact.Transcript)}\n{MappingLines(node)}");
            output.WriteLine($"the contact's first connection had ended {clock.Elapsed.TotalSeconds:0.0} s after the renumbering");
            var again = await Eventually.UntilAsync(
                "the contact connected to the node again",
                TimeSpan.FromSeconds(180),
                () => contact.ConnectedSinceAsync(node),
                since => since > first,
                _ => $"{ChildProcess.Tail(contact.Transcript)}\n{MappingLines(node)}");
            output.WriteLine($"the contact was connected again {clock.Elapsed.TotalSeconds:0.0} s after the renumbering (its new connection since {again:HH:mm:ss.fff})");
            await exchange;
            output.WriteLine($"both messages sent after the change had arrived {clock.Elapsed.TotalSeconds:0.0} s after it");

            Assert.True(await node.ConnectedSinceAsync(contact) > firstOnNode, "the node still counts its first connection to the contact as its current one");
            var kept = await contact.EndpointsOfAsync(node);
            output.WriteLine($"the contact keeps the node at [{kept}]");
            Assert.Contains(new IPEndPoint(renumbered, before.External.Port).ToString(), kept, StringComparison.Ordinal);
            Assert.Equal(1, (await node.ReceivedTextsAsync(contact)).Count(t => t == "after the change, to mapped"));
            Assert.Equal(1, (await contact.ReceivedTextsAsync(node)).Count(t => t == "after the change, to contact"));
        }
        finally
        {
            await dht.DisposeAsync();
        }
    }

    /// <summary>Each node sends the other "<paramref name="label"/>, to NAME"; waits until both hold the other's message.</summary>
    private static async Task ExchangeAsync(SimNode node, SimNode contact, string label, TimeSpan within)
    {
        var toNode = await contact.SendAsync(node, $"{label}, to {node.Name}");
        var toContact = await node.SendAsync(contact, $"{label}, to {contact.Name}");
        await Eventually.UntilAsync($"{node.Name} holds the message '{label}'", within, () => node.HasMessageAsync(toNode), has => has, _ => ChildProcess.Tail(contact.Transcript));
        await Eventually.UntilAsync($"{contact.Name} holds the message '{label}'", within, () => contact.HasMessageAsync(toContact), has => has, _ => ChildProcess.Tail(node.Transcript));
    }
}
