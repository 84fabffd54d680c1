using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace SecureChat.Net.PortMapping;

/// <summary>
/// Asks an Internet Gateway Device for port mappings by UPnP (UPnP Device Architecture 1.1; IGD:1
/// and IGD:2, WANIPConnection:1/2 and WANPPPConnection:1): SSDP finds the gateway, its device
/// description names the control URL, and SOAP actions read the external address and add or
/// delete a mapping. Every reply is input from the LAN and comes back as a
/// <see cref="MappingResult"/>; only cancellation throws.
/// </summary>
public sealed class UpnpMapper : IPortMapper
{
    /// <summary>How long the answers to an SSDP search are collected (the M-SEARCH asks for them within MX = 2 s).</summary>
    public static readonly TimeSpan SearchWindow = TimeSpan.FromSeconds(3);

    /// <summary>WANIPConnection:2 limits a lease to a week (604800 s); a longer request is cut to it.</summary>
    private const int MaxLeaseSeconds = 604800;

    /// <summary>At most this many device descriptions are fetched from one search.</summary>
    private const int MaxDevices = 4;

    private const string MethodName = "UPnP-IGD";

    private readonly HttpClient _http;
    private readonly TimeProvider _time;
    private readonly Func<Socket> _openUdp;
    private readonly Dictionary<(MappingProtocol, int), int> _externalPorts = [];
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Gateway? _gateway;

    /// <param name="http">The client for the gateway: <see cref="UpnpHttp.Shared"/> or one from <see cref="UpnpHttp.Create"/>.</param>
    /// <param name="time">The clock of the search window and request timeouts, and of the lease's expiry.</param>
    /// <param name="openUdp">Opens a bound IPv4 UDP socket for SSDP (and for learning this host's LAN address); the default binds 0.0.0.0 on any port.</param>
    public UpnpMapper(HttpClient http, TimeProvider time, Func<Socket>? openUdp = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(time);
        _http = http;
        _time = time;
        _openUdp = openUdp ?? OpenUdp;
    }

    public string Method => MethodName;

    /// <summary>Where the SSDP search goes: the multicast group, or a responder on loopback in a test.</summary>
    internal IPEndPoint SearchDestination { get; init; } = SsdpDiscovery.MulticastGroup;

    /// <summary>The gateway found by the last successful search: its service, and the address of this host on its LAN.</summary>
    private sealed record Gateway(UpnpService Service, IPAddress Device, IPAddress LocalAddress);

    /// <summary>Reads the gateway's external address (GetExternalIPAddress) and checks that the internet can reach it.</summary>
    public async Task<(IPAddress? Address, MappingResult? Failure)> GetExternalAddressAsync(CancellationToken cancellationToken)
    {
        var (gateway, failure) = await FindAsync(cancellationToken).ConfigureAwait(false);
        return gateway is null ? (null, failure) : await ExternalAddressAsync(gateway, cancellationToken).ConfigureAwait(false);
    }

    public async Task<MappingResult> MapAsync(MappingProtocol protocol, int internalPort, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(internalPort, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(internalPort, 65535);
        ArgumentOutOfRangeException.ThrowIfLessThan(lifetime, TimeSpan.FromSeconds(1));
        var (gateway, failure) = await FindAsync(cancellationToken).ConfigureAwait(false);
        if (gateway is null)
        {
            return failure!;
        }

        var (external, notPublic) = await ExternalAddressAsync(gateway, cancellationToken).ConfigureAwait(false);
        if (external is null)
        {
            return notPublic!;
        }

        var lease = (int)Math.Min(MaxLeaseSeconds, Math.Ceiling(lifetime.TotalSeconds));
        int externalPort;
        lock (_externalPorts)
        {
            externalPort = _externalPorts.GetValueOrDefault((protocol, internalPort), internalPort);
        }

        var reply = await AddAsync(gateway, protocol, externalPort, internalPort, lease, cancellationToken).ConfigureAwait(false);
        if (reply.ErrorCode == UpnpSoap.OnlyPermanentLeasesSupported)
        {
            // The gateway keeps only permanent mappings: map with lease 0, and the lease returned
            // still expires after the lifetime asked for, so the node renews (re-adds) it and
            // deletes it at stop instead of leaving it for ever.
            lease = 0;
            reply = await AddAsync(gateway, protocol, externalPort, internalPort, lease, cancellationToken).ConfigureAwait(false);
        }

        if (reply.ErrorCode == UpnpSoap.ConflictInMappingEntry && gateway.Service.IsVersion2)
        {
            // Another client holds the port: WANIPConnection:2 can choose a free one itself.
            reply = await CallAsync(gateway, "AddAnyPortMapping", MappingArguments(gateway, protocol, externalPort, internalPort, lease), cancellationToken).ConfigureAwait(false);
            if (reply.Succeeded)
            {
                if (!reply.Arguments!.TryGetValue("NewReservedPort", out var reserved) || ParsePort(reserved) is not { } reservedPort)
                {
                    return MappingResult.Failed(MappingFailure.Malformed, "the gateway answered AddAnyPortMapping without a port from 1 to 65535");
                }

                externalPort = reservedPort;
            }
        }

        if (!reply.Succeeded)
        {
            return Failed(reply, "AddPortMapping");
        }

        lock (_externalPorts)
        {
            _externalPorts[(protocol, internalPort)] = externalPort;
        }

        var expires = _time.GetUtcNow() + (lease == 0 ? lifetime : TimeSpan.FromSeconds(lease));
        return MappingResult.Mapped(new PortMappingLease(protocol, internalPort, new IPEndPoint(external, externalPort), expires, MethodName));
    }

    public async Task<MappingResult> UnmapAsync(PortMappingLease lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        var (gateway, failure) = await FindAsync(cancellationToken).ConfigureAwait(false);
        if (gateway is null)
        {
            return failure!;
        }

        var reply = await CallAsync(gateway, "DeletePortMapping",
            [new("NewRemoteHost", string.Empty), new("NewExternalPort", Invariant(lease.External.Port)), new("NewProtocol", ProtocolName(lease.Protocol))],
            cancellationToken).ConfigureAwait(false);
        if (!reply.Succeeded && reply.ErrorCode != UpnpSoap.NoSuchEntryInArray)
        {
            return Failed(reply, "DeletePortMapping");
        }

        lock (_externalPorts)
        {
            _externalPorts.Remove((lease.Protocol, lease.InternalPort));
        }

        return new MappingResult(null, MappingFailure.None, $"gave back {lease.Protocol} port {lease.External.Port} through {MethodName}");
    }

    /// <summary>
    /// Whether the gateway holds a mapping of <paramref name="externalPort"/> now
    /// (GetSpecificPortMappingEntry): true, false when it answers NoSuchEntryInArray (714), null
    /// when it cannot say (no gateway, a refusal or a malformed answer).
    /// </summary>
    public async Task<bool?> IsMappedAsync(MappingProtocol protocol, int externalPort, CancellationToken cancellationToken)
    {
        var (gateway, _) = await FindAsync(cancellationToken).ConfigureAwait(false);
        if (gateway is null)
        {
            return null;
        }

        var reply = await CallAsync(gateway, "GetSpecificPortMappingEntry",
            [new("NewRemoteHost", string.Empty), new("NewExternalPort", Invariant(externalPort)), new("NewProtocol", ProtocolName(protocol))],
            cancellationToken).ConfigureAwait(false);
        return reply.Succeeded ? true : reply.ErrorCode == UpnpSoap.NoSuchEntryInArray ? false : null;
    }

    /// <summary>
    /// The mapping's in arguments in the order of WANIPConnection's AddPortMapping (and
    /// AddAnyPortMapping): no remote host (any), the external port, the protocol, the internal port
    /// and client, enabled, a description, the lease in seconds.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string>> MappingArguments(IPAddress internalClient, MappingProtocol protocol, int externalPort, int internalPort, int leaseSeconds) =>
    [
        new("NewRemoteHost", string.Empty),
        new("NewExternalPort", Invariant(externalPort)),
        new("NewProtocol", ProtocolName(protocol)),
        new("NewInternalPort", Invariant(internalPort)),
        new("NewInternalClient", internalClient.ToString()),
        new("NewEnabled", "1"),
        new("NewPortMappingDescription", "SecureChat"),
        new("NewLeaseDuration", Invariant(leaseSeconds)),
    ];

    private static MappingResult Failed(UpnpSoapReply reply, string action) => reply switch
    {
        { IsMalformed: true } => MappingResult.Failed(MappingFailure.Malformed, reply.Sentence),
        { ErrorCode: -1 } => MappingResult.Failed(MappingFailure.NoRouter, reply.Sentence),
        { ErrorCode: UpnpSoap.ActionNotAuthorized } => MappingResult.Failed(MappingFailure.Refused, $"the gateway does not let this host map ports ({action}: UPnP error 606, action not authorised)"),
        { ErrorCode: UpnpSoap.ConflictInMappingEntry } => MappingResult.Failed(MappingFailure.Refused, $"the gateway maps that port to another host already ({action}: UPnP error 718)"),
        _ => MappingResult.Failed(MappingFailure.Refused, reply.Sentence),
    };

    private Task<UpnpSoapReply> AddAsync(Gateway gateway, MappingProtocol protocol, int externalPort, int internalPort, int lease, CancellationToken cancellationToken) =>
        CallAsync(gateway, "AddPortMapping", MappingArguments(gateway.LocalAddress, protocol, externalPort, internalPort, lease), cancellationToken);

    private static IReadOnlyList<KeyValuePair<string, string>> MappingArguments(Gateway gateway, MappingProtocol protocol, int externalPort, int internalPort, int lease) =>
        MappingArguments(gateway.LocalAddress, protocol, externalPort, internalPort, lease);

    /// <summary>One SOAP action; a transport failure forgets the gateway so the next call searches again. Error code -1 marks "no answer".</summary>
    private async Task<UpnpSoapReply> CallAsync(Gateway gateway, string action, IReadOnlyList<KeyValuePair<string, string>> arguments, CancellationToken cancellationToken)
    {
        var service = gateway.Service;
        using var request = UpnpHttp.SoapRequest(service.ControlUrl, UpnpSoap.SoapAction(service.ServiceType, action), UpnpSoap.Request(service.ServiceType, action, arguments));
        var reply = await UpnpHttp.SendAsync(_http, request, UpnpSoap.MaxBytes, _time, cancellationToken).ConfigureAwait(false);
        if (reply.Body is null)
        {
            if (reply.Failure == MappingFailure.NoRouter)
            {
                _gateway = null;
                return new UpnpSoapReply(null, -1, reply.Sentence);
            }

            return new UpnpSoapReply(null, 0, reply.Sentence);
        }

        // UDA 1.1, section 3.2: a response comes with 200, a fault with 500.
        var parsed = UpnpSoap.ParseReply(reply.Body, service.ServiceType, action);
        return parsed.Succeeded && reply.Status != HttpStatusCode.OK
            ? new UpnpSoapReply(null, 0, $"the gateway answered {action} with HTTP {(int)reply.Status} and a response body")
            : parsed;
    }

    private async Task<(IPAddress? Address, MappingResult? Failure)> ExternalAddressAsync(Gateway gateway, CancellationToken cancellationToken)
    {
        var reply = await CallAsync(gateway, "GetExternalIPAddress", [], cancellationToken).ConfigureAwait(false);
        if (!reply.Succeeded)
        {
            return (null, Failed(reply, "GetExternalIPAddress"));
        }

        if (!reply.Arguments!.TryGetValue("NewExternalIPAddress", out var text) || !IPAddress.TryParse(text.Trim(), out var address) || address.AddressFamily != AddressFamily.InterNetwork)
        {
            return (null, MappingResult.Failed(MappingFailure.Malformed, "the gateway answered GetExternalIPAddress without an IPv4 address"));
        }

        return ExternalAddressPolicy.IsPublic(address)
            ? (address, null)
            : (null, MappingResult.Failed(MappingFailure.NotPublic, $"the gateway's external address {address} is not reachable from the internet (another NAT is in front of it)"));
    }

    /// <summary>The gateway of the last search, or a new search: SSDP, then the descriptions of at most <see cref="MaxDevices"/> answers.</summary>
    private async Task<(Gateway? Gateway, MappingResult? Failure)> FindAsync(CancellationToken cancellationToken)
    {
        if (_gateway is { } known)
        {
            return (known, null);
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_gateway is { } found)
            {
                return (found, null);
            }

            IReadOnlyList<(SsdpAnswer Answer, IPAddress Device)> answers;
            using (var socket = _openUdp())
            {
                try
                {
                    answers = await SsdpDiscovery.SearchAsync(socket, SearchDestination, SearchWindow, _time, cancellationToken).ConfigureAwait(false);
                }
                catch (SocketException ex)
                {
                    return (null, MappingResult.Failed(MappingFailure.NoRouter, $"the SSDP search could not be sent ({ex.SocketErrorCode})"));
                }
            }

            if (answers.Count == 0)
            {
                return (null, MappingResult.Failed(MappingFailure.NoRouter, $"no UPnP gateway answered the SSDP search within {SearchWindow.TotalSeconds:0} s"));
            }

            var last = MappingResult.Failed(MappingFailure.Malformed, "no gateway that answered has a usable connection service");
            foreach (var (answer, device) in answers.Take(MaxDevices))
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, answer.Location);
                var reply = await UpnpHttp.SendAsync(_http, request, UpnpDescription.MaxBytes, _time, cancellationToken).ConfigureAwait(false);
                if (reply.Body is null)
                {
                    last = MappingResult.Failed(reply.Failure, reply.Sentence);
                    continue;
                }

                if (reply.Status != HttpStatusCode.OK)
                {
                    last = MappingResult.Failed(MappingFailure.Malformed, $"the device at {device} answered its description's URL with HTTP {(int)reply.Status}");
                    continue;
                }

                if (UpnpDescription.TryParse(reply.Body, answer.Location, device, out var rejection) is not { } service)
                {
                    last = MappingResult.Failed(MappingFailure.Malformed, rejection);
                    continue;
                }

                if (LocalAddressToward(device) is not { } local)
                {
                    last = MappingResult.Failed(MappingFailure.NoRouter, $"this host has no IPv4 address toward the gateway {device}");
                    continue;
                }

                _gateway = new Gateway(service, device, local);
                return (_gateway, null);
            }

            return (null, last);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>This host's address on the gateway's LAN, the NewInternalClient of a mapping: the source address the system picks for a datagram to the gateway (connecting a UDP socket sends nothing).</summary>
    private IPAddress? LocalAddressToward(IPAddress device)
    {
        try
        {
            using var socket = _openUdp();
            socket.Connect(device, SsdpDiscovery.MulticastGroup.Port);
            return socket.LocalEndPoint is IPEndPoint { Address: var address } && address.AddressFamily == AddressFamily.InterNetwork && !address.Equals(IPAddress.Any) ? address : null;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    private static Socket OpenUdp()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Any, 0));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static int? ParsePort(string text) =>
        int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is >= 1 and <= 65535 ? port : null;

    private static string ProtocolName(MappingProtocol protocol) => protocol == MappingProtocol.Tcp ? "TCP" : "UDP";

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
