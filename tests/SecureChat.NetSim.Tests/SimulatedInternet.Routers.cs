using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace SecureChat.NetSim.Tests;

/// <summary>What happens to a home router after the world is built: miniupnpd restarts, and a provider gives the router a new address.</summary>
internal sealed partial class SimulatedInternet
{
    /// <summary>The files of each router's miniupnpd, by the router's namespace, so that it can be started again.</summary>
    private readonly Dictionary<string, MiniUpnpdFiles> _miniUpnpd = [];

    private int _renumbered;

    private sealed record MiniUpnpdFiles(string Config, string PidFile, string LeaseFile);

    /// <summary>
    /// Restarts the home router's miniupnpd as a reboot would: it is killed (SIGKILL, so it cleans
    /// nothing up itself), its chains are emptied and its lease file deleted (a home router keeps
    /// them in memory), and a new one starts with the same configuration. Every mapping is gone;
    /// the new one maps again only after its STUN check.
    /// </summary>
    public void RestartMiniUpnpd(SimHome home)
    {
        var ns = home.Router.Namespace;
        var files = _miniUpnpd.GetValueOrDefault(ns) ?? throw new InvalidOperationException($"{home.Router.Name} runs no miniupnpd.");
        var daemon = _daemons.First(d => d.Namespace == ns);
        daemon.Dispose();
        _daemons.Remove(daemon);
        foreach (var chain in new[] { "miniupnpd", "prerouting_miniupnpd", "postrouting_miniupnpd" })
        {
            Shell.Run("ip", ["netns", "exec", ns, "nft", "flush", "chain", "inet", "filter", chain]);
        }

        File.Delete(files.LeaseFile);
        File.Delete(files.PidFile);
        _daemons.Add(Daemon.Start(ns, ["miniupnpd", "-f", files.Config, "-P", files.PidFile, "-d"]));
    }

    /// <summary>
    /// The TCP ports the home router's miniupnpd forwards now, read from its nftables chain (the
    /// <c>dnat</c> rules it adds for its mappings, such as
    /// <c>iif "wan" @nh,72,8 0x6 th dport 42201 dnat ip to 192.168.1.2:42201</c>).
    /// </summary>
    public static IReadOnlySet<int> ForwardedTcpPorts(SimHome home) =>
        ForwardedTcpPort().Matches(ForwardingRules(home)).Select(m => int.Parse(m.Groups["port"].Value, CultureInfo.InvariantCulture)).ToHashSet();

    /// <summary>miniupnpd's chain of translations in the home router, as <c>nft</c> lists it (for a failure message).</summary>
    public static string ForwardingRules(SimHome home) =>
        Shell.Run("ip", ["netns", "exec", home.Router.Namespace, "nft", "list", "chain", "inet", "filter", "prerouting_miniupnpd"]);

    /// <summary>
    /// Gives the home router a new public IPv4 address, as a provider does when the line
    /// reconnects, and returns it. The old address goes first (the kernel then drops the NAT's
    /// connections through it), the new one comes, and the default route with it. miniupnpd hears
    /// both changes on its WAN interface through netlink (RTM_DELADDR, RTM_NEWADDR), asks the STUN
    /// server again and answers with the new address from then on; nothing needs to tell it
    /// (docs/netsim.md).
    /// </summary>
    public IPAddress RenumberRouter(SimHome home)
    {
        if (home.Kind is HomeKind.DoubleNat or HomeKind.Ipv6Firewall)
        {
            throw new ArgumentException($"A {home.Kind} home's router has no public IPv4 address of its own to renumber.", nameof(home));
        }

        var ns = home.Router.Namespace;
        var current = Shell.Run("ip", ["-n", ns, "-4", "-o", "addr", "show", "dev", "wan"]);
        var old = WanAddress().Match(current);
        if (!old.Success)
        {
            throw new InvalidOperationException($"{home.Router.Name} has no IPv4 address on its WAN: {current}");
        }

        var n = ++_renumbered;
        if (n > 50)
        {
            throw new InvalidOperationException("A simulated internet renumbers at most 50 times (198.18.0.201 to .250).");
        }

        var next = IPAddress.Parse($"198.18.0.{200 + n}");
        Ip(ns, "addr", "del", $"{old.Groups["address"].Value}/24", "dev", "wan");
        Ip(ns, "addr", "add", $"{next}/24", "dev", "wan");
        Ip(ns, "route", "replace", "default", "via", CoreIPv4.ToString());

        // On the internet the provider stops routing the old address to this line. On the shared
        // bridge a neighbour's ARP cache would still send it here, where the NAT's state for a
        // forwarded connection would carry it on to the host as if nothing had changed: so the
        // router drops it before that state is consulted.
        Nft(ns, $$"""
            table ip renumbered {
              chain prerouting { type filter hook prerouting priority raw; ip daddr {{old.Groups["address"].Value}} drop; }
            }
            """);
        return next;
    }

    /// <summary>miniupnpd 2.3.1's rule for a TCP mapping: the IP header's protocol byte (bits 72 to 79) is 6, then the transport's destination port.</summary>
    [GeneratedRegex(@"@nh,72,8 0x6 th dport (?<port>\d+) dnat")]
    private static partial Regex ForwardedTcpPort();

    [GeneratedRegex(@"inet (?<address>[0-9.]+)/")]
    private static partial Regex WanAddress();
}
