using System.Net;
using System.Text;
using System.Xml;

namespace SecureChat.Net.PortMapping;

/// <summary>A connection service of a gateway that maps ports: its type (which SOAP namespace its actions use) and its control URL.</summary>
public sealed record UpnpService(string ServiceType, Uri ControlUrl)
{
    /// <summary>Version 2 of WANIPConnection, which has AddAnyPortMapping and requires a finite lease.</summary>
    public bool IsVersion2 => ServiceType == UpnpDescription.WanIpConnection2;
}

/// <summary>
/// Reads a gateway's device description (UPnP Device Architecture 1.1, section 2.3; IGD:1 and
/// IGD:2 device templates) for the connection service that maps ports: WANIPConnection:2 first
/// (it can pick a free port itself), then WANIPConnection:1, then WANPPPConnection:1. The document
/// comes from a device on the LAN: it is read with a size bound, without a DTD or any external
/// entity, and a control URL off the device's own host is not followed.
/// </summary>
public static class UpnpDescription
{
    public const string WanIpConnection2 = "urn:schemas-upnp-org:service:WANIPConnection:2";
    public const string WanIpConnection1 = "urn:schemas-upnp-org:service:WANIPConnection:1";
    public const string WanPppConnection1 = "urn:schemas-upnp-org:service:WANPPPConnection:1";

    /// <summary>The namespace of a device description (UDA 1.1, section 2.3).</summary>
    public const string DeviceNamespace = "urn:schemas-upnp-org:device-1-0";

    /// <summary>A gateway's description is a few kilobytes; 64 KiB leaves room for a large vendor one and bounds what a hostile device makes this node read.</summary>
    public const int MaxBytes = 64 * 1024;

    /// <summary>The services in the order they are preferred.</summary>
    private static readonly string[] Preferred = [WanIpConnection2, WanIpConnection1, WanPppConnection1];

    /// <summary>
    /// The preferred connection service in <paramref name="document"/>, fetched from
    /// <paramref name="location"/> on <paramref name="device"/>; null with the reason in
    /// <paramref name="rejection"/> when the document is not well-formed, too large, carries a DTD,
    /// names no such service or names its control URL on another host.
    /// </summary>
    public static UpnpService? TryParse(ReadOnlySpan<byte> document, Uri location, IPAddress device, out string rejection)
    {
        ArgumentNullException.ThrowIfNull(location);
        if (document.Length > MaxBytes)
        {
            rejection = $"the device description is longer than {MaxBytes / 1024} KiB";
            return null;
        }

        var found = new Dictionary<string, string>(StringComparer.Ordinal);
        string? urlBase = null;
        try
        {
            if (Open(document, MaxBytes) is not { } opened)
            {
                rejection = "the device description is not UTF-8 text";
                return null;
            }

            using var reader = opened;
            string? serviceType = null;
            string? controlUrl = null;
            var serviceDepth = -1;

            // ReadElementContentAsString leaves the reader on the node after the element: the
            // loop reads that node next instead of skipping it.
            var onNext = false;
            while (onNext || reader.Read())
            {
                onNext = false;
                if (reader.NodeType == XmlNodeType.EndElement && reader.Depth == serviceDepth)
                {
                    if (serviceType is not null && controlUrl is not null && Preferred.Contains(serviceType))
                    {
                        found.TryAdd(serviceType, controlUrl);
                    }

                    serviceDepth = -1;
                    continue;
                }

                if (reader.NodeType != XmlNodeType.Element || reader.NamespaceURI != DeviceNamespace)
                {
                    continue;
                }

                switch (reader.LocalName)
                {
                    case "service" when !reader.IsEmptyElement:
                        serviceDepth = reader.Depth;
                        serviceType = null;
                        controlUrl = null;
                        break;
                    case "serviceType" when serviceDepth >= 0 && reader.Depth == serviceDepth + 1:
                        serviceType = reader.ReadElementContentAsString().Trim();
                        onNext = true;
                        break;
                    case "controlURL" when serviceDepth >= 0 && reader.Depth == serviceDepth + 1:
                        controlUrl = reader.ReadElementContentAsString().Trim();
                        onNext = true;
                        break;
                    case "URLBase" when reader.Depth == 1:
                        urlBase = reader.ReadElementContentAsString().Trim();
                        onNext = true;
                        break;
                }
            }
        }
        catch (XmlException ex)
        {
            rejection = $"the device description is not well-formed XML without a DTD ({Short(ex.Message)})";
            return null;
        }

        var best = Preferred.FirstOrDefault(found.ContainsKey);
        if (best is null)
        {
            rejection = "the device description names no WANIPConnection or WANPPPConnection service with a control URL";
            return null;
        }

        // UDA 1.1 deprecates URLBase; when present, relative URLs resolve against it, otherwise
        // against the URL the description came from (section 2.3).
        var baseUri = location;
        if (urlBase is { Length: > 0 })
        {
            if (SsdpDiscovery.CheckOnHost(urlBase, device, out rejection) is not { } checkedBase)
            {
                return null;
            }

            baseUri = checkedBase;
        }

        if (!Uri.TryCreate(baseUri, found[best], out var control) || SsdpDiscovery.CheckOnHost(control.AbsoluteUri, device, out rejection) is not { } checkedControl)
        {
            rejection = $"the control URL of {best} is not an http URL on the device at {device}";
            return null;
        }

        rejection = string.Empty;
        return new UpnpService(best, checkedControl);
    }

    /// <summary>
    /// A reader over a document a device sent, or null when its bytes are not UTF-8 (UPnP requires
    /// it). The bytes are decoded here, strictly, and the reader reads text: the XML declaration's
    /// encoding is then not acted on, so a lying one cannot send the reader's own decoder down a
    /// path that fails with something other than an <see cref="XmlException"/> (a fuzzed reply
    /// did: an invalid byte inside the declaration threw ArgumentOutOfRangeException from within
    /// System.Xml).
    /// </summary>
    internal static XmlReader? Open(ReadOnlySpan<byte> document, int maxCharacters)
    {
        if (document.StartsWith(Utf8Bom))
        {
            document = document[Utf8Bom.Length..];
        }

        string text;
        try
        {
            text = StrictUtf8.GetString(document);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }

        return XmlReader.Create(new StringReader(text), Settings(maxCharacters));
    }

    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// The reader settings for every document a device sends: no DTD (an entity expansion bomb or
    /// an external entity is refused, not expanded), no resolver (nothing is fetched on the
    /// document's behalf), and at most <paramref name="maxCharacters"/> characters.
    /// </summary>
    internal static XmlReaderSettings Settings(int maxCharacters) => new()
    {
        DtdProcessing = DtdProcessing.Prohibit,
        XmlResolver = null,
        MaxCharactersInDocument = maxCharacters,
        MaxCharactersFromEntities = 0,
        IgnoreComments = true,
        IgnoreProcessingInstructions = true,
        IgnoreWhitespace = true,
        CloseInput = false,
    };

    /// <summary>A sentence from outside, cut to printable ASCII and a short length so it is safe in a log line.</summary>
    internal static string Short(string text)
    {
        var kept = new string(text.Where(c => c is >= ' ' and <= '~').Take(120).ToArray());
        return kept.Length == 0 ? "no description" : kept;
    }
}
