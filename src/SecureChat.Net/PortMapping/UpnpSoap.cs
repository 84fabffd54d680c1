using System.Security;
using System.Text;
using System.Xml;

namespace SecureChat.Net.PortMapping;

/// <summary>What a gateway answered to one SOAP action: its out arguments, a UPnP error, or a reply that does not follow the protocol.</summary>
public sealed record UpnpSoapReply(IReadOnlyDictionary<string, string>? Arguments, int ErrorCode, string Sentence)
{
    public bool Succeeded => Arguments is not null;

    /// <summary>True when the reply was neither a response nor a UPnP error (<see cref="ErrorCode"/> is 0 and there are no arguments).</summary>
    public bool IsMalformed => Arguments is null && ErrorCode == 0;
}

/// <summary>
/// The SOAP 1.1 control messages of a connection service (UPnP Device Architecture 1.1, section
/// 3.2): a request is a POST of an Envelope whose Body holds the action in the service type's
/// namespace with its in arguments in order; the answer is the action's Response element with its
/// out arguments, or a Fault whose detail holds a UPnPError with an errorCode and
/// errorDescription. Every answer is input from the LAN and is read with a size bound and no DTD.
/// </summary>
public static class UpnpSoap
{
    public const string EnvelopeNamespace = "http://schemas.xmlsoap.org/soap/envelope/";
    public const string EncodingStyle = "http://schemas.xmlsoap.org/soap/encoding/";
    public const string ControlNamespace = "urn:schemas-upnp-org:control-1-0";

    /// <summary>A control answer holds a handful of short arguments; 16 KiB bounds what a device makes this node read.</summary>
    public const int MaxBytes = 16 * 1024;

    /// <summary>More out arguments than any action of WANIPConnection:2 has (GetGenericPortMappingEntry's eight) are not read.</summary>
    private const int MaxArguments = 16;

    /// <summary>UPnP error 718 (WANIPConnection:1 and :2): the external port is mapped to another client.</summary>
    public const int ConflictInMappingEntry = 718;

    /// <summary>UPnP error 725 (WANIPConnection:1): the gateway only keeps mappings with a lease of 0 (permanent).</summary>
    public const int OnlyPermanentLeasesSupported = 725;

    /// <summary>UPnP error 606 (UDA 1.1): the action is not authorised (the gateway does not let this client map).</summary>
    public const int ActionNotAuthorized = 606;

    /// <summary>UPnP error 714 (WANIPConnection): no such mapping to delete.</summary>
    public const int NoSuchEntryInArray = 714;

    /// <summary>The SOAPACTION header's value: the service type and the action, quoted (UDA 1.1, section 3.2.1).</summary>
    public static string SoapAction(string serviceType, string action) => $"\"{serviceType}#{action}\"";

    /// <summary>The request body of <paramref name="action"/> on <paramref name="serviceType"/> with <paramref name="arguments"/> in the order the service declares them.</summary>
    public static byte[] Request(string serviceType, string action, IReadOnlyList<KeyValuePair<string, string>> arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var body = new StringBuilder();
        body.Append("<?xml version=\"1.0\"?>\r\n")
            .Append("<s:Envelope xmlns:s=\"").Append(EnvelopeNamespace).Append("\" s:encodingStyle=\"").Append(EncodingStyle).Append("\">")
            .Append("<s:Body><u:").Append(action).Append(" xmlns:u=\"").Append(SecurityElement.Escape(serviceType)).Append("\">");
        foreach (var (name, value) in arguments)
        {
            body.Append('<').Append(name).Append('>').Append(SecurityElement.Escape(value)).Append("</").Append(name).Append('>');
        }

        body.Append("</u:").Append(action).Append("></s:Body></s:Envelope>\r\n");
        return Encoding.UTF8.GetBytes(body.ToString());
    }

    /// <summary>
    /// Reads the answer to <paramref name="action"/> on <paramref name="serviceType"/>: the out
    /// arguments of its Response element, the code of a UPnPError fault, or a malformed reply with
    /// the reason. Never throws for any bytes.
    /// </summary>
    public static UpnpSoapReply ParseReply(ReadOnlySpan<byte> document, string serviceType, string action)
    {
        if (document.Length > MaxBytes)
        {
            return Malformed($"the answer to {action} is longer than {MaxBytes / 1024} KiB");
        }

        try
        {
            if (UpnpDescription.Open(document, MaxBytes) is not { } opened)
            {
                return Malformed($"the answer to {action} is not UTF-8 text");
            }

            using var reader = opened;
            if (reader.MoveToContent() != XmlNodeType.Element || reader.LocalName != "Envelope" || reader.NamespaceURI != EnvelopeNamespace)
            {
                return Malformed($"the answer to {action} is not a SOAP envelope");
            }

            if (!NextChild(reader, 0) || reader.LocalName != "Body" || reader.NamespaceURI != EnvelopeNamespace)
            {
                return Malformed($"the answer to {action} has no SOAP body");
            }

            if (!NextChild(reader, 1))
            {
                return Malformed($"the answer to {action} has an empty SOAP body");
            }

            if (reader.LocalName == "Fault" && reader.NamespaceURI == EnvelopeNamespace)
            {
                return ReadFault(reader, action);
            }

            if (reader.LocalName != action + "Response" || reader.NamespaceURI != serviceType)
            {
                return Malformed($"the answer to {action} is a {Short(reader.LocalName)} element, not {action}Response of {serviceType}");
            }

            var arguments = new Dictionary<string, string>(StringComparer.Ordinal);
            if (reader.IsEmptyElement)
            {
                return new UpnpSoapReply(arguments, 0, string.Empty);
            }

            var depth = reader.Depth;
            reader.Read();
            while (reader.Depth > depth)
            {
                if (reader.NodeType != XmlNodeType.Element)
                {
                    reader.Read();
                    continue;
                }

                if (arguments.Count == MaxArguments)
                {
                    return Malformed($"the answer to {action} has more than {MaxArguments} arguments");
                }

                var name = reader.LocalName;
                var value = reader.ReadElementContentAsString();
                if (!arguments.TryAdd(name, value))
                {
                    return Malformed($"the answer to {action} names the argument {Short(name)} twice");
                }
            }

            return new UpnpSoapReply(arguments, 0, string.Empty);
        }
        catch (XmlException ex)
        {
            return Malformed($"the answer to {action} is not well-formed XML without a DTD ({UpnpDescription.Short(ex.Message)})");
        }
    }

    /// <summary>A SOAP fault: the UPnPError in its detail (UDA 1.1, section 3.2.2) gives the code; a fault without one is malformed.</summary>
    private static UpnpSoapReply ReadFault(XmlReader reader, string action)
    {
        int? code = null;
        var description = string.Empty;
        var depth = reader.Depth;
        if (reader.IsEmptyElement)
        {
            return Malformed($"the gateway answered {action} with an empty SOAP fault");
        }

        reader.Read();
        while (reader.Depth > depth)
        {
            if (reader.NodeType == XmlNodeType.Element && reader.NamespaceURI == ControlNamespace && reader.LocalName == "errorCode")
            {
                code = int.TryParse(reader.ReadElementContentAsString().Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var parsed) ? parsed : -1;
            }
            else if (reader.NodeType == XmlNodeType.Element && reader.NamespaceURI == ControlNamespace && reader.LocalName == "errorDescription")
            {
                description = UpnpDescription.Short(reader.ReadElementContentAsString());
            }
            else
            {
                reader.Read();
            }
        }

        return code switch
        {
            null => Malformed($"the gateway answered {action} with a SOAP fault without a UPnPError"),
            <= 0 or > 999 => Malformed($"the gateway answered {action} with a UPnPError whose code is not a number from 1 to 999"),
            _ => new UpnpSoapReply(null, code.Value, $"the gateway refused {action} with UPnP error {code} ({description})"),
        };
    }

    /// <summary>Moves to the next child element of the element at <paramref name="parentDepth"/>; false when it has none.</summary>
    private static bool NextChild(XmlReader reader, int parentDepth)
    {
        if (reader.IsEmptyElement)
        {
            return false;
        }

        while (reader.Read() && reader.Depth > parentDepth)
        {
            if (reader.NodeType == XmlNodeType.Element && reader.Depth == parentDepth + 1)
            {
                return true;
            }
        }

        return false;
    }

    private static string Short(string text) => UpnpDescription.Short(text);

    private static UpnpSoapReply Malformed(string sentence) => new(null, 0, sentence);
}
