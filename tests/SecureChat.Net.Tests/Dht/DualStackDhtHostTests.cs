using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging.Abstractions;
using SecureChat.Dht;
using SecureChat.Net.Dht;

namespace SecureChat.Net.Tests.Dht;

/// <summary>
/// DhtHost on real loopback sockets (BEP 32): bound to the wildcard address it opens one
/// dual-stack socket and joins an IPv6-only swarm on ::1 and an IPv4-only swarm on 127.0.0.1 at
/// once, stores a BEP 44 item in each and reads back what each stored; IPv4 nodes reach its
/// table as IPv4 addresses, never as IPv4-mapped IPv6 ones; a specific IPv4 address still means
/// IPv4 alone; bootstrap texts of both families resolve.
/// </summary>
public sealed class DualStackDhtHostTests : IAsyncLifetime
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(30);
    private readonly List<DhtHost> _hosts = [];
    private List<DhtHost> _v4 = [];
    private List<DhtHost> _v6 = [];

    public async Task InitializeAsync()
    {
        _v4 = await SwarmAsync(IPAddress.Loopback);
        _v6 = await SwarmAsync(IPAddress.IPv6Loopback);
    }

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }
    }

    [Fact]
    public async Task Start_Wildcard_JoinsAnIpv6OnlyAndAnIpv4OnlyBootstrapAndStoresAndGetsThroughEach()
    {
        var dual = Start(new IPEndPoint(IPAddress.Any, 0));
        Assert.Equal(DhtFamilies.Both, dual.Families);
        Assert.Equal(IPAddress.IPv6Any, dual.LocalEndPoint.Address);

        var joined = await dual.Call(n => n.Bootstrap([_v6[0].LocalEndPoint, _v4[0].LocalEndPoint])).WaitAsync(Within);

        Assert.Contains(joined.Closest, c => c.Contact.EndPoint.AddressFamily == AddressFamily.InterNetworkV6);
        Assert.Contains(joined.Closest, c => c.Contact.EndPoint.AddressFamily == AddressFamily.InterNetwork);
        var (v4Table, v6Table) = dual.Call(n => (n.Routing.All.Select(e => e.EndPoint).ToList(), n.Routing6.All.Select(e => e.EndPoint).ToList()));
        Assert.NotEmpty(v4Table);
        Assert.NotEmpty(v6Table);
        Assert.Subset(_v4.Select(h => h.LocalEndPoint).ToHashSet(), v4Table.ToHashSet());
        Assert.Subset(_v6.Select(h => h.LocalEndPoint).ToHashSet(), v6Table.ToHashSet());

        // Its item lands in both DHTs: each single-family swarm reads it.
        var item = Signed("put by a dual-stack node");
        var stored = await dual.Call(n => n.Put(item)).WaitAsync(Within);
        Assert.True(stored.Accepted >= 2, $"accepted by {stored.Accepted} of {stored.Asked}: {string.Join("; ", stored.Errors)}");
        foreach (var reader in new[] { _v4[3], _v6[3] })
        {
            var found = await reader.Call(n => n.GetMutable(item.PublicKey!, item.Salt)).WaitAsync(Within);
            Assert.Equal(item.Value, found.Item?.Value);
        }

        // What each family's nodes stored, it reads.
        foreach (var writer in new[] { _v4[2], _v6[2] })
        {
            var theirs = Signed($"put over {writer.LocalEndPoint.AddressFamily}");
            Assert.True((await writer.Call(n => n.Put(theirs)).WaitAsync(Within)).Accepted > 0);
            var found = await dual.Call(n => n.GetMutable(theirs.PublicKey!, theirs.Salt)).WaitAsync(Within);
            Assert.Equal(theirs.Value, found.Item?.Value);
        }
    }

    [Fact]
    public void Start_SpecificAddress_SpeaksThatFamilyOnly()
    {
        Assert.Equal(DhtFamilies.IPv4, _v4[0].Families);
        Assert.Equal(AddressFamily.InterNetwork, _v4[0].LocalEndPoint.AddressFamily);
        Assert.Equal(DhtFamilies.IPv6, _v6[0].Families);
        Assert.Equal(IPAddress.IPv6Loopback, _v6[0].LocalEndPoint.Address);
    }

    [Theory]
    [InlineData("[2001:db8::10]:7000", "[2001:db8::10]:7000")]
    [InlineData("[::ffff:198.51.100.7]:7000", "198.51.100.7:7000")]
    [InlineData("198.51.100.7:7000", "198.51.100.7:7000")]
    public async Task ResolveAsync_AddressLiterals_GiveEndpointsOfTheirFamily(string text, string expected)
    {
        var resolved = await DhtHost.ResolveAsync([text], NullLogger.Instance, CancellationToken.None);

        Assert.Equal([IPEndPoint.Parse(expected)], resolved);
    }

    [Fact]
    public async Task ResolveAsync_Ipv6WithoutBrackets_IsRefusedWithASentence()
    {
        var refused = await Assert.ThrowsAsync<NetworkException>(() => DhtHost.ResolveAsync(["2001:db8::10:7000"], NullLogger.Instance, CancellationToken.None));

        Assert.Contains("Bootstrap node", refused.Message, StringComparison.Ordinal);
    }

    private DhtHost Start(IPEndPoint bind)
    {
        var host = DhtHost.Start(bind, new DhtOptions(), NullLogger.Instance);
        _hosts.Add(host);
        return host;
    }

    /// <summary>Five nodes on one loopback address, joined through the first.</summary>
    private async Task<List<DhtHost>> SwarmAsync(IPAddress address)
    {
        var swarm = Enumerable.Range(0, 5).Select(_ => Start(new IPEndPoint(address, 0))).ToList();
        foreach (var host in swarm.Skip(1))
        {
            Assert.NotEmpty((await host.Call(n => n.Bootstrap([swarm[0].LocalEndPoint])).WaitAsync(Within)).Closest);
        }

        foreach (var host in swarm)
        {
            await host.Call(n => n.FindNode(n.Id)).WaitAsync(Within);
        }

        return swarm;
    }

    private static DhtItem Signed(string text) =>
        DhtItem.Sign(RandomNumberGenerator.GetBytes(32), new BString(System.Text.Encoding.UTF8.GetBytes(text)).Encode(), "dual stack"u8.ToArray(), 1);
}
