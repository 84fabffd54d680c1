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
            string value;
            try
            {
                value = equals < 0 ? string.Empty : Uri.UnescapeDataString(pair[(equals + 1)..]);
            }
            catch (UriFormatException)
            {
                error = $"The link's '{key}' is not percent-encoded text.";
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
}
