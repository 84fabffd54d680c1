using System.Net;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.NetSim.Tests;

/// <summary>
/// The node's half of IPv6 in the simulated internet: a public node listening dual-stack on
/// <c>[::]</c> is reached on one port by a node in an IPv6-only home behind a stateful firewall
/// (over IPv6) and by a node behind an IPv4 NAT (over IPv4), each dialing the address it was given;
/// messages go both ways on each connection, and the public node's invite link carries both its
/// addresses. Until the DHT finds records over IPv6, the dialing nodes are given the public node's
/// address (a typed endpoint) instead of looking it up.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(SimulatedInternetCollection.Name)]
public sealed class DualStackReachTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private const int ListenPort = 7311;
    private const int DhtPort = 6881;

    [Fact]
    public async Task Run_PublicNodeOnDualStackListener_ReachedOverIpv6FromAFirewalledHomeAndOverIpv4FromANat()
    {
        using var net = SimulatedInternet.Create();
        var pub = net.AddPublicHost("pub1");
        var v6Home = net.AddHome("v6h1", HomeKind.Ipv6Firewall);
        var natHome = net.AddHome("eim1", HomeKind.EimNat);
        IPEndPoint[] bootstrap = [new(pub.V4, DhtPort)];

        await using var bob = await SimNode.CreateAsync(pub, "bob");
        await using var alice = await SimNode.CreateAsync(v6Home.Host, "alice");
        await using var carol = await SimNode.CreateAsync(natHome.Host, "carol");
        var bobAt6 = $"[{pub.V6}]:{ListenPort}";
        var bobAt4 = $"{pub.V4}:{ListenPort}";
        await Task.WhenAll(
            alice.AddAtAsync(bob, bobAt6),
            carol.AddAtAsync(bob, bobAt4),
            bob.AddByIdAsync(alice),
            bob.AddByIdAsync(carol));
        await bob.StartAsync(ListenPort, DhtPort, bootstrap, listenHost: "[::]");
        await Task.WhenAll(
            alice.StartAsync(ListenPort, DhtPort, bootstrap, listenHost: "[::]"),
            carol.StartAsync(ListenPort, DhtPort, bootstrap, listenHost: "[::]"));

        try
        {
            var fromAlice = await alice.SendAsync(bob, "over IPv6");
            var fromCarol = await carol.SendAsync(bob, "over IPv4");
            await ArrivesAsync(bob, fromAlice);
            await ArrivesAsync(bob, fromCarol);

            // Bob cannot dial either (a firewall, a NAT): his answers go back on the connections they opened.
            var toAlice = await bob.SendAsync(alice, "back over IPv6");
            var toCarol = await bob.SendAsync(carol, "back over IPv4");
            await ArrivesAsync(alice, toAlice);
            await ArrivesAsync(carol, toCarol);

            Assert.Equal(bobAt6, await alice.EndpointsOfAsync(bob));
            Assert.Equal(bobAt4, await carol.EndpointsOfAsync(bob));

            // Bob's invite link carries his IPv6 address too, written [v6]:PORT, as a contact would read it.
            var link = await bob.InviteAsync();
            Assert.True(SecureChat.Net.InviteLink.TryParse(link, out var invite, out var error), error);
            Assert.Contains(bobAt6, invite.Endpoints.Select(e => e.ToString()));
            Assert.Contains(bobAt4, invite.Endpoints.Select(e => e.ToString()));

            // Bob's one listener saw alice at her IPv6 address and carol at her router's IPv4 address, never in the IPv4-mapped form.
            Assert.Contains($"Accepted [{v6Home.Host.V6}]:", bob.Transcript, StringComparison.Ordinal);
            Assert.Contains($"Accepted {natHome.PublicIPv4}:", bob.Transcript, StringComparison.Ordinal);
            Assert.DoesNotContain(
                bob.Transcript.Split('\n'),
                line => (line.Contains("Accepted", StringComparison.Ordinal) || line.Contains("Connected to", StringComparison.Ordinal))
                    && line.Contains("::ffff:", StringComparison.OrdinalIgnoreCase));
        }
        catch
        {
            output.WriteLine($"--- bob ---\n{ChildProcess.Tail(bob.Transcript)}\n--- alice ---\n{ChildProcess.Tail(alice.Transcript)}\n--- carol ---\n{ChildProcess.Tail(carol.Transcript)}");
            throw;
        }
    }

    private static Task ArrivesAsync(SimNode receiver, string id) =>
        Eventually.UntilAsync($"{receiver.Name} holds message {id}", Deadline, () => receiver.HasMessageAsync(id), has => has, _ => string.Empty);
}
