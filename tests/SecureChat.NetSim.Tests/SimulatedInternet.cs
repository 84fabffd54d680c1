using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace SecureChat.NetSim.Tests;

/// <summary>What stands between a home network and the simulated internet.</summary>
internal enum HomeKind
{
    /// <summary>Linux <c>masquerade</c>: endpoint-independent mapping that keeps the source port when it is free (the common home router).</summary>
    EimNat,

    /// <summary><c>masquerade fully-random</c>: a new, random port for every destination (a symmetric NAT).</summary>
    SymmetricNat,

    /// <summary>A home NAT behind a carrier-grade NAT on 100.64.0.0/10, both endpoint-independent.</summary>
    DoubleNat,

    /// <summary>IPv6 only, no NAT: a stateful firewall passes replies and drops whatever arrives unsolicited.</summary>
    Ipv6Firewall,

    /// <summary>IPv4 behind an endpoint-independent NAT and IPv6 behind a stateful firewall, on one router.</summary>
    DualStack,

    /// <summary>
    /// An endpoint-independent NAT whose router runs miniupnpd with UPnP-IGD, NAT-PMP and PCP: the
    /// home host may ask it to forward a port.
    /// </summary>
    UpnpRouter,
}

/// <summary>
/// One machine of the simulated internet: a network namespace with its addresses (null where it
/// has none of that family). A home's router is one too, with its public addresses.
/// </summary>
internal sealed record SimHost(string Name, string Namespace, IPAddress? IPv4, IPAddress? IPv6)
{
    /// <summary>The IPv4 address, for a host that must have one.</summary>
    public IPAddress V4 => IPv4 ?? throw new InvalidOperationException($"{Name} has no IPv4 address.");

    /// <summary>The IPv6 address, for a host that must have one.</summary>
    public IPAddress V6 => IPv6 ?? throw new InvalidOperationException($"{Name} has no IPv6 address.");

    public override string ToString() => $"{Name} ({string.Join(", ", new[] { IPv4, IPv6 }.OfType<IPAddress>())})";
}

/// <summary>
/// A home network: the host inside, its router, and for a double NAT the carrier's router in
/// front of it (whose address is the one the internet sees).
/// </summary>
internal sealed record SimHome(HomeKind Kind, SimHost Host, SimHost Router, SimHost? CarrierRouter, IPAddress? Gateway)
{
    /// <summary>The IPv4 address the public internet sees this home's connections come from.</summary>
    public IPAddress PublicIPv4 => (CarrierRouter ?? Router).V4;
}

/// <summary>
/// A small internet built on this machine with <c>ip netns</c>, veth pairs and nftables, for tests
/// of how nodes reach each other across NATs and firewalls (docs/netsim.md). A "core" namespace
/// holds the public segment, a bridge on 198.18.0.0/24 and 2001:db8::/64 (ranges reserved for
/// benchmarking and documentation, which exist only inside these namespaces); public hosts and the
/// routers' WAN sides hang off it, and home networks sit behind routers of each
/// <see cref="HomeKind"/>. Every namespace name starts with this run's prefix, which holds the test
/// process's ID, so that two runs on one machine never meet and a later run can sweep away what a
/// killed one left. <see cref="Dispose"/> kills every process still inside and deletes every
/// namespace, which takes their interfaces with them, whatever the test did.
/// </summary>
internal sealed partial class SimulatedInternet : IDisposable
{
    /// <summary>The public segment's router (the core namespace's bridge) and its prefix length.</summary>
    public static readonly IPAddress CoreIPv4 = IPAddress.Parse("198.18.0.1");

    public static readonly IPAddress CoreIPv6 = IPAddress.Parse("2001:db8::1");

    private const string Bridge = "pub";

    private readonly List<string> _namespaces = [];
    private readonly List<Daemon> _daemons = [];
    private StunServer? _stun;
    private DirectoryInfo? _scratch;
    private readonly string _prefix;
    private readonly string _core;
    private int _attached;
    private int _homes;
    private bool _disposed;

    private SimulatedInternet(string prefix)
    {
        _prefix = prefix;
        _core = prefix + "core";
    }

    /// <summary>The prefix of every namespace of this world (<c>sc{pid}-{4 hex}-</c>).</summary>
    public string Prefix => _prefix;

    /// <summary>
    /// Sweeps away what dead runs left, then builds the public segment. Fails with a sentence that
    /// says what is missing when this machine cannot create network namespaces (the tests must run
    /// as root, as CI does, with iproute2 and nftables: <c>scripts/install-deps --tests</c>).
    /// </summary>
    public static SimulatedInternet Create()
    {
        foreach (var tool in new[] { "ip", "nft", "sysctl" })
        {
            var (code, output) = Shell.TryRun(tool, ["-V"]);
            if (code == 127)
            {
                throw new InvalidOperationException($"The simulated internet needs `{tool}` ({output}): install it with scripts/install-deps --tests.");
            }
        }

        SweepLeftovers();
        var world = new SimulatedInternet($"sc{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}-{System.Security.Cryptography.RandomNumberGenerator.GetInt32(0x10000):x4}-");
        try
        {
            world.AddNamespace(world._core, "the public segment");
            world.Ip(world._core, "link", "add", Bridge, "type", "bridge");
            world.Ip(world._core, "link", "set", Bridge, "up");
            world.Ip(world._core, "addr", "add", $"{CoreIPv4}/24", "dev", Bridge);
            world.Ip(world._core, "-6", "addr", "add", $"{CoreIPv6}/64", "dev", Bridge, "nodad");
            world.Forwarding(world._core);
            return world;
        }
        catch
        {
            world.Dispose();
            throw;
        }
    }

    /// <summary>A host on the public segment, with a public IPv4 and IPv6 address and no firewall.</summary>
    public SimHost AddPublicHost(string name)
    {
        var ns = NewNamespace(name, "a public host");
        var (v4, v6) = AttachToCore(ns, "eth0");
        return new SimHost(name, ns, v4, v6);
    }

    /// <summary>A home network of <paramref name="kind"/>: a router on the public segment (or behind a carrier's), and one host inside.</summary>
    public SimHome AddHome(string name, HomeKind kind)
    {
        var n = ++_homes;
        if (n > 200)
        {
            throw new InvalidOperationException("A simulated internet holds at most 200 homes.");
        }

        var routerNs = NewNamespace(name + "r", $"the router of home {name}");
        var hostNs = NewNamespace(name + "h", $"the host of home {name}");
        SimHost? carrier = null;
        IPAddress? routerV4;
        IPAddress? routerV6;
        if (kind == HomeKind.DoubleNat)
        {
            var carrierNs = NewNamespace(name + "c", $"the carrier-grade NAT of home {name}");
            var (carrierV4, _) = AttachToCore(carrierNs, "wan");
            carrier = new SimHost(name + " carrier", carrierNs, carrierV4, null);
            // The carrier's side and the home router's WAN share 100.64.n.0/24 (RFC 6598 shared address space).
            Ip(null, "link", "add", "in", "netns", carrierNs, "type", "veth", "peer", "name", "wan", "netns", routerNs);
            Up(carrierNs, "in");
            Up(routerNs, "wan");
            Ip(carrierNs, "addr", "add", $"100.64.{n}.1/24", "dev", "in");
            routerV4 = IPAddress.Parse($"100.64.{n}.2");
            routerV6 = null;
            Ip(routerNs, "addr", "add", $"{routerV4}/24", "dev", "wan");
            Ip(routerNs, "route", "add", "default", "via", $"100.64.{n}.1");
            Forwarding(carrierNs);
            Nft(carrierNs, Ruleset(lan: "in", masquerade: "masquerade"));
        }
        else
        {
            (routerV4, routerV6) = AttachToCore(routerNs, "wan");
        }

        Ip(null, "link", "add", "lan", "netns", routerNs, "type", "veth", "peer", "name", "eth0", "netns", hostNs);
        Up(routerNs, "lan");
        Up(hostNs, "eth0");
        Forwarding(routerNs);
        var hasV4 = kind != HomeKind.Ipv6Firewall;
        var hasV6 = kind is HomeKind.Ipv6Firewall or HomeKind.DualStack;
        IPAddress? hostV4 = null;
        IPAddress? hostV6 = null;
        if (hasV4)
        {
            Ip(routerNs, "addr", "add", $"192.168.{n}.1/24", "dev", "lan");
            hostV4 = IPAddress.Parse($"192.168.{n}.2");
            Ip(hostNs, "addr", "add", $"{hostV4}/24", "dev", "eth0");
            Ip(hostNs, "route", "add", "default", "via", $"192.168.{n}.1");
        }

        if (hasV6)
        {
            // The home's own /64 of 2001:db8::/32, routed to it by the core, as a provider would.
            Ip(routerNs, "-6", "addr", "add", $"2001:db8:{n:x}::1/64", "dev", "lan", "nodad");
            hostV6 = IPAddress.Parse($"2001:db8:{n:x}::2");
            Ip(hostNs, "-6", "addr", "add", $"{hostV6}/64", "dev", "eth0", "nodad");
            Ip(hostNs, "-6", "route", "add", "default", "via", $"2001:db8:{n:x}::1");
            Ip(_core, "-6", "route", "add", $"2001:db8:{n:x}::/64", "via", routerV6!.ToString());
        }

        var masquerade = kind switch
        {
            HomeKind.EimNat or HomeKind.DoubleNat or HomeKind.DualStack or HomeKind.UpnpRouter => "masquerade",
            HomeKind.SymmetricNat => "masquerade fully-random",
            _ => null,
        };
        var router = new SimHost(name + " router", routerNs, routerV4, kind is HomeKind.Ipv6Firewall or HomeKind.DualStack ? routerV6 : null);
        var gateway = hasV4 ? IPAddress.Parse($"192.168.{n}.1") : null;
        if (kind == HomeKind.UpnpRouter)
        {
            var stun = _stun ??= StartStunServer();
            Nft(routerNs, Ruleset(lan: "lan", masquerade, stun.Addresses) + MiniUpnpdRuleset);
            StartMiniUpnpd(name, routerNs, $"192.168.{n}.0/24", stun.Primary);
        }
        else
        {
            Nft(routerNs, Ruleset(lan: "lan", masquerade));
        }

        return new SimHome(kind, new SimHost(name, hostNs, hostV4, hostV6), router, carrier, gateway);
    }

    /// <summary>What miniupnpd has logged so far in the home <paramref name="home"/> (for a failure message).</summary>
    public string MiniUpnpdLog(SimHome home) =>
        _daemons.FirstOrDefault(d => d.Namespace == home.Router.Namespace)?.Log ?? "(no miniupnpd in this home)";

    /// <summary>How many Binding requests the world's STUN server answered.</summary>
    public int StunAnswered => _stun?.Answered ?? 0;

    /// <summary>
    /// How many packets the router's firewall has dropped as unsolicited (arriving from its WAN
    /// side with no connection that its LAN side opened), counted by nftables.
    /// </summary>
    public static long UnsolicitedDrops(SimHost router)
    {
        var listing = Shell.Run("ip", ["netns", "exec", router.Namespace, "nft", "list", "table", "inet", "netsim"]);
        return UnsolicitedCounter().Matches(listing).Sum(m => long.Parse(m.Groups["packets"].Value, CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// Deletes the namespaces of runs whose process has ended (a run killed before its teardown),
    /// after killing whatever still runs inside them; returns how many it deleted. A run that is
    /// alive is never touched.
    /// </summary>
    public static int SweepLeftovers()
    {
        var deleted = 0;
        foreach (var ns in ListNamespaces())
        {
            var owner = OwnerPattern().Match(ns);
            if (owner.Success && !Directory.Exists($"/proc/{owner.Groups["pid"].Value}"))
            {
                KillProcessesIn(ns);
                if (Shell.TryRun("ip", ["netns", "delete", ns]).Code == 0)
                {
                    deleted++;
                }
            }
        }

        return deleted;
    }

    /// <summary>Every network namespace on this machine (<c>ip netns list</c>), by name.</summary>
    public static IReadOnlyList<string> ListNamespaces() =>
        [.. Shell.Run("ip", ["netns", "list"]).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(line => line.Split(' ')[0])];

    /// <summary>
    /// Kills every process still inside the world's namespaces and deletes them all (the veth
    /// pairs, bridge and rulesets go with them), newest first. It goes on past a failure and
    /// reports every one at the end.
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        var failures = new List<string>();
        foreach (var daemon in _daemons)
        {
            daemon.Dispose();
        }

        _stun?.Dispose();
        for (var i = _namespaces.Count - 1; i >= 0; i--)
        {
            KillProcessesIn(_namespaces[i]);
            var (code, output) = Shell.TryRun("ip", ["netns", "delete", _namespaces[i]]);
            if (code != 0)
            {
                failures.Add($"{_namespaces[i]}: {output.Trim()}");
            }
        }

        _scratch?.Delete(recursive: true);
        if (failures.Count > 0)
        {
            throw new InvalidOperationException("The simulated internet could not delete every namespace: " + string.Join("; ", failures));
        }
    }

    private static void KillProcessesIn(string ns)
    {
        var (code, pids) = Shell.TryRun("ip", ["netns", "pids", ns]);
        if (code != 0)
        {
            return;
        }

        foreach (var pid in pids.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            Shell.TryRun("kill", ["-KILL", pid]);
        }
    }

    private string NewNamespace(string name, string what)
    {
        if (!ShortName().IsMatch(name))
        {
            throw new ArgumentException($"'{name}' is not a short name (1 to 8 lower-case letters and digits).", nameof(name));
        }

        var ns = _prefix + name;
        if (_namespaces.Contains(ns))
        {
            throw new ArgumentException($"The simulated internet already has a namespace named {name}.", nameof(name));
        }

        AddNamespace(ns, what);
        return ns;
    }

    private void AddNamespace(string ns, string what)
    {
        var (code, output) = Shell.TryRun("ip", ["netns", "add", ns]);
        if (code != 0)
        {
            throw new InvalidOperationException(
                $"Could not create the network namespace for {what} (`ip netns add {ns}` exited {code}: {output.Trim()}): the simulated internet needs root (as CI runs) and a kernel that allows network namespaces.");
        }

        _namespaces.Add(ns);
        Ip(ns, "link", "set", "lo", "up");
    }

    /// <summary>Links <paramref name="ns"/> to the public segment's bridge; returns the addresses it got there.</summary>
    private (IPAddress V4, IPAddress V6) AttachToCore(string ns, string ifname)
    {
        var i = ++_attached;
        if (i > 89)
        {
            throw new InvalidOperationException("The public segment holds at most 89 machines (a second address is 100 above the first).");
        }

        // The core's end is named by number: interface names are at most 15 characters.
        var port = "p" + i.ToString(CultureInfo.InvariantCulture);
        Ip(null, "link", "add", ifname, "netns", ns, "type", "veth", "peer", "name", port, "netns", _core);
        Ip(_core, "link", "set", port, "master", Bridge);
        Up(_core, port);
        Up(ns, ifname);
        var v4 = IPAddress.Parse($"198.18.0.{10 + i}");
        var v6 = IPAddress.Parse($"2001:db8::{10 + i:x}");
        Ip(ns, "addr", "add", $"{v4}/24", "dev", ifname);
        Ip(ns, "-6", "addr", "add", $"{v6}/64", "dev", ifname, "nodad");
        Ip(ns, "route", "add", "default", "via", CoreIPv4.ToString());
        Ip(ns, "-6", "route", "add", "default", "via", CoreIPv6.ToString());
        return (v4, v6);
    }

    /// <summary>
    /// A router's one nftables table: forward what its LAN side opens and the replies, drop (and
    /// count) the rest; accept nothing new on its own WAN address; and, for a NAT, rewrite IPv4
    /// leaving through the WAN (<paramref name="masquerade"/> is the statement, with its flags;
    /// IPv6 is never translated).
    /// </summary>
    private static string Ruleset(string lan, string? masquerade, IReadOnlyList<IPAddress>? stunServer = null)
    {
        // A router with miniupnpd forwards what its mappings translate, and hears the STUN server
        // answer from its other address and port: miniupnpd maps nothing before it has seen that.
        var mapped = stunServer is null ? string.Empty : "ct status dnat accept";
        var stun = stunServer is null ? string.Empty : $"iifname \"wan\" ip saddr {{ {string.Join(", ", stunServer)} }} udp sport {{ {StunServer.PrimaryPort}, {StunServer.AlternatePort} }} accept";
        var nat = masquerade is null
            ? string.Empty
            : $$"""
                chain postrouting {
                  type nat hook postrouting priority srcnat; policy accept;
                  oifname "wan" meta nfproto ipv4 {{masquerade}}
                }
              """;
        return $$"""
            table inet netsim {
              chain forward {
                type filter hook forward priority filter; policy drop;
                ct state established,related accept
                iifname "{{lan}}" oifname "wan" accept
                {{mapped}}
                counter drop comment "unsolicited"
              }
              chain input {
                type filter hook input priority filter; policy accept;
                ct state established,related accept
                meta l4proto { icmp, ipv6-icmp } accept
                {{stun}}
                iifname "wan" counter drop comment "unsolicited"
              }
            {{nat}}
            }

            """;
    }

    /// <summary>
    /// miniupnpd's own table, with the default names of its nftables backend (table <c>filter</c>,
    /// chains <c>miniupnpd</c>, <c>prerouting_miniupnpd</c>, <c>postrouting_miniupnpd</c>), which it
    /// fills with its mappings. Debian's scripts in /etc/miniupnpd would make it but source a
    /// helper written for iptables, so the world makes it itself. Its forward chain accepts: the
    /// filtering is the <c>netsim</c> table's, which accepts what a mapping translated.
    /// </summary>
    private const string MiniUpnpdRuleset = """
        table inet filter {
          chain forward {
            type filter hook forward priority filter; policy accept;
            jump miniupnpd
          }
          chain miniupnpd {
          }
          chain prerouting {
            type nat hook prerouting priority dstnat; policy accept;
            jump prerouting_miniupnpd
          }
          chain postrouting {
            type nat hook postrouting priority srcnat; policy accept;
            jump postrouting_miniupnpd
          }
          chain prerouting_miniupnpd {
          }
          chain postrouting_miniupnpd {
          }
        }

        """;

    /// <summary>A public host "stun" with a second address, and the STUN server on both.</summary>
    private StunServer StartStunServer()
    {
        var host = AddPublicHost("stun");
        var second = IPAddress.Parse($"198.18.0.{100 + _attached}");
        Ip(host.Namespace, "addr", "add", $"{second}/24", "dev", "eth0");
        return new StunServer(host, host.V4, second);
    }

    /// <summary>
    /// Starts miniupnpd in the router's namespace with a configuration, pid file, lease file and
    /// minissdpd socket of its own (two routers on one machine must share none of them): NAT-PMP
    /// and PCP on, UPnP-IGD on, secure mode (a host maps ports to itself only), and the external
    /// address learned by STUN, since miniupnpd refuses to map ports on an address of a reserved
    /// range unless STUN showed that every source reaches it.
    /// </summary>
    private void StartMiniUpnpd(string name, string routerNs, string lanPrefix, IPEndPoint stun)
    {
        _scratch ??= Directory.CreateTempSubdirectory("securechat-netsim-");
        var dir = Directory.CreateDirectory(Path.Combine(_scratch.FullName, name)).FullName;
        var config = Path.Combine(dir, "miniupnpd.conf");
        File.WriteAllText(config, $"""
            ext_ifname=wan
            listening_ip=lan
            http_port=0
            enable_natpmp=yes
            enable_upnp=yes
            secure_mode=yes
            system_uptime=yes
            ipv6_disable=yes
            uuid={Guid.NewGuid()}
            lease_file={Path.Combine(dir, "upnp.leases")}
            minissdpdsocket={Path.Combine(dir, "minissdpd.sock")}
            ext_perform_stun=yes
            ext_stun_host={stun.Address}
            ext_stun_port={stun.Port}
            allow 1024-65535 {lanPrefix} 1024-65535
            deny 0-65535 0.0.0.0/0 0-65535

            """);
        _miniUpnpd[routerNs] = new MiniUpnpdFiles(config, Path.Combine(dir, "miniupnpd.pid"), Path.Combine(dir, "upnp.leases"));
        _daemons.Add(Daemon.Start(routerNs, ["miniupnpd", "-f", config, "-P", Path.Combine(dir, "miniupnpd.pid"), "-d"]));
    }

    private void Nft(string ns, string ruleset) => Shell.Run("ip", ["netns", "exec", ns, "nft", "-f", "-"], ruleset);

    private void Forwarding(string ns)
    {
        Shell.Run("ip", ["netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
        Shell.Run("ip", ["netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"]);
    }

    private void Up(string ns, string ifname) => Ip(ns, "link", "set", ifname, "up");

    /// <summary><c>ip [-n NS] ARGS</c>: in the namespace, or in the machine's own for a veth pair created straight into two namespaces.</summary>
    private void Ip(string? ns, params string[] args)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Shell.Run("ip", ns is null ? args : ["-n", ns, .. args]);
    }

    [GeneratedRegex(@"counter packets (?<packets>\d+) bytes \d+ drop comment ""unsolicited""")]
    private static partial Regex UnsolicitedCounter();

    [GeneratedRegex(@"^sc(?<pid>\d+)-[0-9a-f]{4}-[a-z0-9]+$")]
    private static partial Regex OwnerPattern();

    [GeneratedRegex(@"^[a-z0-9]{1,8}$")]
    private static partial Regex ShortName();
}
