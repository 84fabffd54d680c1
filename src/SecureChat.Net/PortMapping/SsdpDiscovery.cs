using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SecureChat.Net.PortMapping;

/// <summary>
/// One answer to an SSDP search (UPnP Device Architecture 1.1, section 1.3.3): an HTTP/1.1 200
/// response in one UDP datagram whose LOCATION header names the device description, and whose ST
/// header repeats the search target it answers.
/// </summary>
/// <param name="Location">The device description's URL; its host is always the address the answer came from.</param>
/// <param name="SearchTarget">The ST header: which gateway or service the answer is for.</param>
public sealed record SsdpAnswer(Uri Location, string SearchTarget);

/// <summary>
/// Finds Internet Gateway Devices on the LAN by SSDP: an M-SEARCH to 239.255.255.250:1900 for each
/// search target a gateway answers, and the answers read for a bounded time and count. Every answer
/// is input from any device on the LAN: <see cref="TryParse"/> checks it and keeps only a LOCATION
/// on the host that sent it, so a hostile device cannot send this node to fetch from elsewhere.
/// </summary>
public static class SsdpDiscovery
{
    /// <summary>The SSDP multicast group and port (UDA 1.1, section 1.1.1).</summary>
    public static readonly IPEndPoint MulticastGroup = new(IPAddress.Parse("239.255.255.250"), 1900);

    /// <summary>The search targets of a gateway and of the two connection services that map ports, the newest version first.</summary>
    public static readonly IReadOnlyList<string> SearchTargets =
    [
        "urn:schemas-upnp-org:device:InternetGatewayDevice:2",
        "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
        "urn:schemas-upnp-org:service:WANIPConnection:2",
        "urn:schemas-upnp-org:service:WANIPConnection:1",
        "urn:schemas-upnp-org:service:WANPPPConnection:1",
    ];

    /// <summary>An SSDP answer fits one datagram; a larger one is not read (UDA 1.1 advises under 1,500 bytes for the M-SEARCH too).</summary>
    public const int MaxAnswerBytes = 2048;

    /// <summary>At most this many answers are kept from one search: a LAN that floods answers is not followed further.</summary>
    public const int MaxAnswers = 16;

    /// <summary>A header line longer than this is not a header a gateway sends.</summary>
    private const int MaxHeaderLength = 512;

    /// <summary>
    /// The M-SEARCH request for <paramref name="searchTarget"/> (UDA 1.1, section 1.3.2): MX 2 asks
    /// the devices to answer within two seconds, spread over that time.
    /// </summary>
    public static byte[] SearchRequest(string searchTarget) => Encoding.ASCII.GetBytes(
        "M-SEARCH * HTTP/1.1\r\n" +
        "HOST: 239.255.255.250:1900\r\n" +
        "MAN: \"ssdp:discover\"\r\n" +
        "MX: 2\r\n" +
        $"ST: {searchTarget}\r\n" +
        "\r\n");

    /// <summary>
    /// Reads one datagram from <paramref name="source"/> as an SSDP answer. Returns null, with the
    /// reason in <paramref name="rejection"/>, for anything that is not a 200 answer for a gateway or
    /// connection service with an http LOCATION on <paramref name="source"/> itself.
    /// </summary>
    public static SsdpAnswer? TryParse(ReadOnlySpan<byte> datagram, IPAddress source, out string rejection)
    {
        if (datagram.Length > MaxAnswerBytes)
        {
            rejection = $"an SSDP answer of {datagram.Length} bytes is longer than the {MaxAnswerBytes} a gateway sends";
            return null;
        }

        foreach (var b in datagram)
        {
            // Headers are ASCII text; a control byte other than CR, LF or tab is not an answer.
            if (b > 126 || (b < 32 && b is not (byte)'\r' and not (byte)'\n' and not (byte)'\t'))
            {
                rejection = "an SSDP answer holds bytes that are not header text";
                return null;
            }
        }

        var lines = Encoding.ASCII.GetString(datagram).Split('\n');
        var status = lines[0].TrimEnd('\r').Split(' ', 3, StringSplitOptions.RemoveEmptyEntries);
        if (status.Length < 2 || !status[0].StartsWith("HTTP/1.", StringComparison.Ordinal) || status[1] != "200")
        {
            rejection = "the datagram is not an HTTP 200 answer";
            return null;
        }

        string? location = null;
        string? searchTarget = null;
        for (var i = 1; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Length == 0)
            {
                break;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (line.Length > MaxHeaderLength || colon <= 0)
            {
                rejection = "an SSDP answer has a header line that is not NAME: value";
                return null;
            }

            var name = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            if (name.Equals("LOCATION", StringComparison.OrdinalIgnoreCase))
            {
                if (location is not null)
                {
                    rejection = "an SSDP answer names two locations";
                    return null;
                }

                location = value;
            }
            else if (name.Equals("ST", StringComparison.OrdinalIgnoreCase))
            {
                searchTarget = value;
            }
        }

        if (searchTarget is null || !SearchTargets.Contains(searchTarget, StringComparer.Ordinal))
        {
            rejection = "the SSDP answer is not for a gateway or a connection service";
            return null;
        }

        if (location is null)
        {
            rejection = "the SSDP answer names no LOCATION";
            return null;
        }

        if (CheckOnHost(location, source, out rejection) is not { } uri)
        {
            return null;
        }

        rejection = string.Empty;
        return new SsdpAnswer(uri, searchTarget);
    }

    /// <summary>
    /// <paramref name="url"/> as an absolute http URL whose host is the literal address
    /// <paramref name="device"/>; null with the reason otherwise. A name is refused as well: it would
    /// be resolved by DNS, and could lead anywhere.
    /// </summary>
    public static Uri? CheckOnHost(string url, IPAddress device, out string rejection)
    {
        if (url.Length > MaxHeaderLength || !Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp)
        {
            rejection = "the device gave a URL that is not an absolute http URL";
            return null;
        }

        if (!IPAddress.TryParse(uri.IdnHost, out var host) || !Normalise(host).Equals(Normalise(device)) || !string.IsNullOrEmpty(uri.UserInfo))
        {
            rejection = $"the device at {device} gave a URL on another host; it is not followed";
            return null;
        }

        rejection = string.Empty;
        return uri;
    }

    private static IPAddress Normalise(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    /// <summary>
    /// Sends the M-SEARCH for every search target to <paramref name="destination"/> from
    /// <paramref name="socket"/> (a UDP socket, bound) and collects the distinct answers that pass <see cref="TryParse"/> until
    /// <paramref name="window"/> has passed on <paramref name="time"/> or <see cref="MaxAnswers"/> came.
    /// <paramref name="destination"/> is <see cref="MulticastGroup"/> unless a test names a responder on loopback.
    /// </summary>
    public static async Task<IReadOnlyList<(SsdpAnswer Answer, IPAddress Device)>> SearchAsync(Socket socket, IPEndPoint destination, TimeSpan window, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(socket);
        var answers = new List<(SsdpAnswer, IPAddress)>();
        foreach (var target in SearchTargets)
        {
            await socket.SendToAsync(SearchRequest(target), SocketFlags.None, destination, cancellationToken).ConfigureAwait(false);
        }

        using var deadline = new CancellationTokenSource(window, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, cancellationToken);
        var buffer = new byte[MaxAnswerBytes + 1];
        var seen = new HashSet<Uri>();
        for (var received = 0; received < MaxAnswers * 4 && answers.Count < MaxAnswers; received++)
        {
            SocketReceiveFromResult got;
            try
            {
                got = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (SocketException)
            {
                // An ICMP error for an earlier datagram, or the socket gone: the search ends with what came.
                break;
            }

            var device = ((IPEndPoint)got.RemoteEndPoint).Address;
            if (TryParse(buffer.AsSpan(0, got.ReceivedBytes), device, out _) is { } answer && seen.Add(answer.Location))
            {
                answers.Add((answer, device));
            }
        }

        return answers;
    }
}
