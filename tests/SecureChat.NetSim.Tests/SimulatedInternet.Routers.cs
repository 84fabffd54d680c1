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
    /// <c>dnat</c> rules it adds for its mappings).
    /// </summary>
    public static IReadOnlySet<int> ForwardedTcpPorts(SimHome home)
    {
        var listing = Shell.Run("ip", ["netns", "exec", home.Router.Namespace, "nft", "list", "chain", "inet", "filter", "prerouting_miniupnpd"]);
        return ForwardedTcpPort().Matches(listing).Select(m => int.Parse(m.Groups["port"].Value, CultureInfo.InvariantCulture)).ToHashSet();
    }

    /// <summary>
    /// Gives the home router a new public IPv4 address, as a provider does when the line
    /// reconnects, and returns it. The old address goes first (the kernel then drops the NAT's
    /// connections through it), the new one comes, and the default route with it. miniupnpd hears
    /// the change on its WAN interface through netlink and asks the STUN server again; it is also
    /// sent SIGUSR1, which asks for the same (docs/netsim.md).
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
        if (_miniUpnpd.TryGetValue(ns, out var files) && File.Exists(files.PidFile))
        {
            Shell.TryRun("kill", ["-USR1", File.ReadAllText(files.PidFile).Trim()]);
        }

        return next;
    }

    [GeneratedRegex(@"tcp dport (?<port>\d+) dnat")]
    private static partial Regex ForwardedTcpPort();

    [GeneratedRegex(@"inet (?<address>[0-9.]+)/")]
    private static partial Regex WanAddress();
}
