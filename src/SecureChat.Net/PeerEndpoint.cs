using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;

namespace SecureChat.Net;

/// <summary>A typed <c>HOST:PORT</c> (IPv6 literals in brackets: <c>[::1]:7311</c>).</summary>
public sealed record PeerEndpoint(string Host, int Port)
{
    public const int DefaultPort = 7311;

    public override string ToString() => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";

    /// <summary>Parses <c>HOST:PORT</c>; on failure <paramref name="error"/> says what is wrong.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out PeerEndpoint? endpoint, [NotNullWhen(false)] out string? error)
    {
        endpoint = null;
        text = text?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            error = "The address is empty: give it as HOST:PORT, for example 127.0.0.1:7311.";
            return false;
        }

        string host;
        string portText;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || close + 1 >= text.Length || text[close + 1] != ':')
            {
                error = $"'{text}' is not a valid address: write IPv6 addresses as [ADDRESS]:PORT, for example [::1]:7311.";
                return false;
            }

            host = text[1..close];
            portText = text[(close + 2)..];
            if (!IPAddress.TryParse(host, out _))
            {
                error = $"'{host}' is not a valid IPv6 address.";
                return false;
            }
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon <= 0 || text.IndexOf(':', StringComparison.Ordinal) != colon)
            {
                error = $"'{text}' is not a valid address: give it as HOST:PORT, for example 127.0.0.1:7311.";
                return false;
            }

            host = text[..colon];
            portText = text[(colon + 1)..];
            if (Uri.CheckHostName(host) == UriHostNameType.Unknown)
            {
                error = $"'{host}' is not a valid host name or IP address.";
                return false;
            }
        }

        if (!TryParsePort(portText, out var port))
        {
            error = $"'{portText}' is not a valid port: use a number from 1 to 65535.";
            return false;
        }

        endpoint = new PeerEndpoint(host, port);
        error = null;
        return true;
    }

    public static bool TryParsePort(string text, out int port) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535;
}
