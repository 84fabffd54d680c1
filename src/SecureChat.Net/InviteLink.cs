using System.Diagnostics.CodeAnalysis;
using System.Text;
using SecureChat.Protocol.Identity;

namespace SecureChat.Net;

/// <summary>
/// What one person hands another to be added as a contact, as one line of text:
/// <c>securechat:ID</c>, optionally followed by <c>?name=NAME</c> (the name they suggest for
/// themselves) and any number of <c>&amp;at=HOST:PORT</c> (where they listen), each value
/// percent-encoded, and at most one <c>&amp;t=TOKEN</c>: a one-time token (<see cref="TokenBytes"/>
/// random bytes, unpadded base64url) that lets the link's holder in without a contact request, once.
/// The ID is the whole of the trust: a name or an address in a link pins nothing.
/// </summary>
public sealed record InviteLink(AccountId Account, string? Name, IReadOnlyList<PeerEndpoint> Endpoints, string? Token = null)
{
    public const string Scheme = "securechat:";

    /// <summary>Longer text is refused before it is looked at.</summary>
    public const int MaxLength = 2048;

    /// <summary>At most this many addresses are taken from a link.</summary>
    public const int MaxEndpoints = 8;

    /// <summary>The size of a one-time token: 128 random bits.</summary>
    public const int TokenBytes = 16;

    /// <summary>The one-time token as written in the link (<see cref="EncodeToken"/>), or null.</summary>
    public string? Token { get; init; } = Token is null || TryDecodeToken(Token, out _)
        ? Token
        : throw new ArgumentException("A one-time token is written as InviteLink.EncodeToken writes it.", nameof(Token));

    /// <summary>A token's length as text (unpadded base64url of <see cref="TokenBytes"/> bytes).</summary>
    public const int TokenLength = 22;

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

        if (Token is not null)
        {
            text.Append(separator).Append("t=").Append(Token);
        }

        return text.ToString();
    }

    /// <summary>A token as it is written in a link.</summary>
    public static string EncodeToken(ReadOnlySpan<byte> token)
    {
        if (token.Length != TokenBytes)
        {
            throw new ArgumentException($"A one-time token is {TokenBytes} bytes.", nameof(token));
        }

        return Convert.ToBase64String(token).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    /// <summary>The bytes of a token written in a link; false for anything but the one way <see cref="EncodeToken"/> writes them.</summary>
    public static bool TryDecodeToken(string? text, [NotNullWhen(true)] out byte[]? token)
    {
        token = null;
        if (text is null || text.Length != TokenLength || !text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            return false;
        }

        var bytes = Convert.FromBase64String(text.Replace('-', '+').Replace('_', '/') + "==");
        if (bytes.Length != TokenBytes || EncodeToken(bytes) != text)
        {
            // The last character carries bits no token has: not a link SecureChat wrote.
            return false;
        }

        token = bytes;
        return true;
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
        string? token = null;
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
                case "t":
                    if (token is not null || !TryDecodeToken(value, out _))
                    {
                        error = "The link's one-time token is damaged (or given twice): ask for the link again.";
                        return false;
                    }

                    token = value;
                    break;
                default:
                    // Parameters of later versions, and addresses past the cap, are passed over.
                    break;
            }
        }

        link = new InviteLink(account, name, endpoints, token);
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
