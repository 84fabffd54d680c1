using System.Net;
using SecureChat.Node.Discovery;

namespace SecureChat.Node.Tests;

/// <summary>
/// <c>dht.json</c>'s nodes are read back in both families (BEP 32: the node keeps an IPv6 table too),
/// and what no DHT node can be at is dropped: a missing port, an IPv4-mapped address (read as the
/// IPv4 one), multicast and link-local addresses, text that is no endpoint.
/// </summary>
public sealed class DhtStateParseTests
{
    [Fact]
    public void ParseNodes_BothFamiliesAndJunk_KeepsTheNodesOfEachFamily()
    {
        var state = new DhtState(["198.51.100.7:6881", "[2001:db8::10]:7000", "[::ffff:198.51.100.8]:6881", "[ff02::1]:6881", "[fe80::1]:6881", "198.51.100.9:0", "nonsense"]);

        var nodes = state.ParseNodes();

        Assert.Equal(
            [IPEndPoint.Parse("198.51.100.7:6881"), IPEndPoint.Parse("[2001:db8::10]:7000"), IPEndPoint.Parse("198.51.100.8:6881")],
            nodes);
    }
}
