using System.Net;
using Microsoft.Extensions.Logging;
using SecureChat.Api;
using SecureChat.Cli;
using SecureChat.Net;
using SecureChat.Net.Dht;
using SecureChat.Node;
using SecureChat.Node.Discovery;
using SecureChat.Node.Reachability;
using SecureChat.Web;

namespace SecureChat.Daemon;

/// <summary>
/// <c>securechat run</c>: the node, until SIGINT or SIGTERM. It accepts peers, keeps a connection
/// to every reachable contact, delivers the outbox, and serves the web UI and the local API on
/// 127.0.0.1: the API behind a random bearer token written to <c>api.json</c> (0600) in the data
/// directory, the UI behind one-time links (<see cref="LoginLinks"/>), one printed at start and a
/// fresh one for each <c>securechat ui</c>.
/// </summary>
internal static class RunCommand
{
    public const int DefaultApiPort = 7312;

    public static async Task<int> RunAsync(string directory, string listen, int apiPort, bool noUi, bool open, DiscoveryChoices discovery, string? quota, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var (listenHost, listenPort) = ParseListen(listen);
        var (contactQuota, quotaWindow) = ParseQuota(quota);
        var discoveryOptions = await DiscoveryOf(discovery, loggers.CreateLogger("securechat.dht"), cancellationToken);
        if (discoveryOptions is not null)
        {
            discoveryOptions = discoveryOptions with { DhtStateFile = Path.Combine(directory, "dht.json") };
        }
        if (apiPort is < 0 or > 65535)
        {
            throw new UsageException($"{apiPort} is not a valid port for --api-port: use 1 to 65535, or 0 for any free port.");
        }

        if (noUi && open)
        {
            throw new UsageException("--open opens the web UI, which --no-ui turns off.");
        }

        // Held until the end, after api.json is removed: a second node is refused, and a CLI verb
        // meanwhile waits for this node's API instead of writing the store behind its back.
        using var home = NodeHome.OpenForNode(directory, Console.Out);
        var logger = loggers.CreateLogger("securechat.node");
        await using var node = ChatNode.Start(home.Identity, home.Store, new NodeOptions { ListenHost = listenHost, ListenPort = listenPort, Discovery = discoveryOptions, ContactQuota = contactQuota, QuotaWindow = quotaWindow, PortMapping = PortMappingOf(discovery) }, logger);

        await using var api = await LocalApiHost.StartAsync(node, directory, apiPort, withUi: !noUi, loggers, cancellationToken);
        var url = api.Url;
        var ui = api.Ui;
        try
        {
            var listening = node.ListenEndPoint is { } l ? new PeerEndpoint(l.Address.ToString(), l.Port).ToString() : "nowhere";
            Console.WriteLine($"node {home.Identity.Account} ({home.Identity.Account.Fingerprint}) listening on {listening}");
            Console.WriteLine(DiscoveryLine(node, discovery));
            if (ui is null)
            {
                Console.WriteLine($"api {url} (token in {ApiFile.PathIn(directory)})");
            }
            else
            {
                // The browser --open starts gets a link of its own: the printed one stays good for another browser.
                var redirect = open ? Browser.WriteRedirect(directory, ui.NewLink()) : null;
                Console.WriteLine($"ui {ui.NewLink()}");
                Console.WriteLine($"(the link opens one browser, once, within {LoginLinks.Describe(ui.Links.Lifetime)}; `securechat ui` prints a fresh one)");
                if (redirect is not null)
                {
                    Browser.Open(redirect, Console.Out);
                }
            }

            logger.LogInformation("Node running with {Contacts} contacts and {Outbox} queued messages", home.Store.Contacts.All.Count, home.Store.Outbox.Count());
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                // SIGINT or SIGTERM: stop cleanly below.
            }

            Console.WriteLine("stopping");
            return ExitCodes.Ok;
        }
        finally
        {
            Browser.Forget(directory);
        }
    }

    /// <summary>One line on how contacts find this node: the DHT's UDP port, whether the public record is on, LAN beacons.</summary>
    private static string DiscoveryLine(ChatNode node, DiscoveryChoices choices)
    {
        var dht = node.DhtEndPoint is { } udp
            ? $"DHT on UDP {udp.Port}{(choices.Discoverable ? ", reachable by ID (public record)" : string.Empty)}"
            : "DHT off";
        var lan = node.LanDiscovery ? "LAN beacons on" : "LAN beacons off";
        return $"discovery: {dht}; {lan}";
    }

    private static async Task<DiscoveryOptions?> DiscoveryOf(DiscoveryChoices choices, ILogger logger, CancellationToken cancellationToken)
    {
        if (choices.NoDht && choices.NoLan)
        {
            return null;
        }

        if (choices.DhtPort is < 0 or > 65535)
        {
            throw new UsageException($"{choices.DhtPort} is not a valid port for --dht-port: use 1 to 65535, or 0 for any free port.");
        }

        if (choices.LanPort is < 1 or > 65535)
        {
            throw new UsageException($"{choices.LanPort} is not a valid port for --lan-port: use 1 to 65535.");
        }

        if (!IPAddress.TryParse(choices.LanInterface, out var lanInterface) || lanInterface.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
        {
            throw new UsageException($"--lan-interface takes the IPv4 address of an interface, for example 192.168.1.20 (got '{choices.LanInterface}').");
        }

        if (choices.NoDht && choices.Discoverable)
        {
            throw new UsageException("--discoverable publishes a record on the DHT, which --no-dht turns off.");
        }

        var bootstrap = choices.Bootstrap.Count == 0 || choices.NoDht ? [] : await DhtHost.ResolveAsync(choices.Bootstrap, logger, cancellationToken);
        if (choices.Bootstrap.Count > 0 && bootstrap.Count == 0 && !choices.NoDht)
        {
            throw new UsageException($"None of the --bootstrap nodes could be resolved ({string.Join(", ", choices.Bootstrap)}).");
        }

        return new DiscoveryOptions
        {
            Dht = !choices.NoDht,
            DhtEndPoint = new IPEndPoint(IPAddress.Any, choices.DhtPort),
            Bootstrap = bootstrap,
            Discoverable = choices.Discoverable,
            Lan = !choices.NoLan,
            LanInterface = lanInterface,
            LanPort = choices.LanPort,
        };
    }

    /// <summary><c>--no-port-mapping</c>, <c>--port-mapping auto|pcp|natpmp|upnp</c> and <c>--port-mapping-check SECONDS</c>.</summary>
    internal static PortMappingOptions PortMappingOf(DiscoveryChoices choices)
    {
        if (choices.NoPortMapping)
        {
            return PortMappingOptions.Off;
        }

        IReadOnlyList<PortMappingMethod> methods = choices.PortMapping switch
        {
            "auto" => PortMappingOptions.DefaultOrder,
            "pcp" => [PortMappingMethod.Pcp],
            "natpmp" => [PortMappingMethod.NatPmp],
            "upnp" => [PortMappingMethod.Upnp],
            _ => throw new UsageException($"--port-mapping takes auto, pcp, natpmp or upnp (got '{choices.PortMapping}')."),
        };
        if (choices.PortMappingCheck is < 1 or > 3600)
        {
            throw new UsageException($"--port-mapping-check takes 1 to 3600 seconds (got {choices.PortMappingCheck}).");
        }

        return new PortMappingOptions { Methods = methods, CheckInterval = TimeSpan.FromSeconds(choices.PortMappingCheck) };
    }

    /// <summary><c>--quota MESSAGES:BYTES:SECONDS</c>; the defaults (5,000 texts and 20 MiB a day) without it.</summary>
    internal static (QuotaLimit Limit, TimeSpan Window) ParseQuota(string? quota)
    {
        if (quota is null)
        {
            return (QuotaLimit.ContactDefault, new NodeOptions().QuotaWindow);
        }

        var parts = quota.Split(':');
        if (parts.Length != 3
            || !int.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var messages)
            || !long.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var bytes)
            || !int.TryParse(parts[2], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
            || seconds < 1)
        {
            throw new UsageException($"'{quota}' is not a quota for --quota: write MESSAGES:BYTES:SECONDS, three whole numbers, the window at least 1 second (the default is 5000:20971520:86400).");
        }

        return (new QuotaLimit(messages, bytes), TimeSpan.FromSeconds(seconds));
    }

    private static (string Host, int Port) ParseListen(string listen)
    {
        // Port 0 asks for any free port, which a peer's address never is.
        var anyPort = listen.EndsWith(":0", StringComparison.Ordinal);
        if (!PeerEndpoint.TryParse(anyPort ? listen[..^1] + "1" : listen, out var endpoint, out var error))
        {
            throw new UsageException($"--listen takes HOST:PORT: {error}");
        }

        return (endpoint.Host, anyPort ? 0 : endpoint.Port);
    }
}

/// <summary>The discovery switches of <c>securechat run</c>, as given.</summary>
internal sealed record DiscoveryChoices(
    bool NoDht,
    int DhtPort,
    IReadOnlyList<string> Bootstrap,
    bool Discoverable,
    bool NoLan,
    string LanInterface,
    int LanPort,
    bool NoPortMapping = false,
    string PortMapping = "auto",
    int PortMappingCheck = 60);
