using System.Diagnostics.CodeAnalysis;
using System.Text;
using SecureChat.Protocol.Identity;

namespace SecureChat.Net;

/// <summary>
/// What one person hands another to be added as a contact, as one line of text:
/// <c>securechat:ID</c>, optionally followed by <c>?name=NAME</c> (the name they suggest for
/// themselves) and any number of <c>&amp;at=HOST:PORT</c> (where they listen), each value
/// percent-encoded. The ID is the whole of the trust: a name or an address in a link pins nothing.
/// </summary>
public sealed record InviteLink(AccountId Account, string? Name, IReadOnlyList<PeerEndpoint> Endpoints)
{
    public const string Scheme = "securechat:";

    /// <summary>Longer text is refused before it is looked at.</summary>
    public const int MaxLength = 2048;

    /// <summary>At most this many addresses are taken from a link.</summary>
    public const int MaxEndpoints = 8;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public override string ToString()
    {
        var text = new StringBuilder(Scheme).Append(Account.Text);
        var separator = '?';
        if (!string.IsNullOrEmpty(Name))
        {
            text.Append(separator).Append("name=").Append(Uri.EscapeDataString(Name));
            separator = '&';
        }

        foreach (var endpoint in Endpoints)
        {
            text.Append(separator).Append("at=").Append(Uri.EscapeDataString(endpoint.ToString()));
            separator = '&';
        }

        return text.ToString();
    }

    /// <summary>True when <paramref name="text"/> starts like a link (and should be read as one, not as a bare ID).</summary>
    public static bool LooksLikeLink(string? text) =>
        text is not null && text.TrimStart().StartsWith(Scheme, StringComparison.OrdinalIgnoreCase);

    /// <summary>Reads a pasted link; surrounding white space is ignored. The error is a sentence for the person who pasted it.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out InviteLink? link, [NotNullWhen(false)] out string? error)
    {
        link = null;
        var trimmed = (text ?? string.Empty).Trim();
        if (trimmed.Length > MaxLength)
        {
            error = $"That link is longer than any SecureChat link ({MaxLength} characters at most).";
            return false;
        }

        if (!LooksLikeLink(trimmed))
        {
            error = $"A SecureChat link starts with '{Scheme}'.";
            return false;
        }

        var rest = trimmed[Scheme.Length..];
        var query = string.Empty;
        if (rest.IndexOf('?', StringComparison.Ordinal) is var mark and >= 0)
        {
            query = rest[(mark + 1)..];
            rest = rest[..mark];
        }

        if (!AccountId.TryParse(rest, out var account))
        {
            error = $"The link does not hold a valid SecureChat ID (an ID is {AccountId.TextLength} characters): ask for the link again.";
            return false;
        }

        string? name = null;
        var endpoints = new List<PeerEndpoint>();
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var key = equals < 0 ? pair : pair[..equals];
            if (!TryUnescape(equals < 0 ? string.Empty : pair[(equals + 1)..], out var value))
            {
                error = $"The link's '{key}' is not percent-encoded UTF-8 text: ask for the link again.";
                return false;
            }

            switch (key)
            {
                case "name":
                    name = value.Length == 0 ? null : value;
                    break;
                case "at" when endpoints.Count < MaxEndpoints:
                    if (!PeerEndpoint.TryParse(value, out var endpoint, out var endpointError))
                    {
                        error = $"The link's address is not usable: {endpointError}";
                        return false;
                    }

                    endpoints.Add(endpoint);
                    break;
                default:
                    // Parameters of later versions, and addresses past the cap, are passed over.
                    break;
            }
        }

        link = new InviteLink(account, name, endpoints);
        error = null;
        return true;
    }

    /// <summary>Percent-decoding that refuses what it cannot decode (a lone %, a non-hex digit, bytes that are not UTF-8) instead of passing it through.</summary>
    private static bool TryUnescape(string text, [NotNullWhen(true)] out string? value)
    {
        value = null;
        var bytes = new List<byte>(text.Length);
        Span<byte> utf8 = stackalloc byte[4];
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '%')
            {
                if (i + 2 >= text.Length)
                {
                    return false;
                }

                if (!byte.TryParse(text.AsSpan(i + 1, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out var decoded))
                {
                    return false;
                }

                bytes.Add(decoded);
                i += 2;
                continue;
            }

            if (char.IsSurrogate(text[i]))
            {
                if (!char.IsHighSurrogate(text[i]) || i + 1 >= text.Length || !char.IsLowSurrogate(text[i + 1]))
                {
                    return false;
                }

                bytes.AddRange(utf8[..Encoding.UTF8.GetBytes(text.AsSpan(i, 2), utf8)]);
                i++;
                continue;
            }

            bytes.AddRange(utf8[..Encoding.UTF8.GetBytes(text.AsSpan(i, 1), utf8)]);
        }

        try
        {
            value = StrictUtf8.GetString([.. bytes]);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }
}
