using SecureChat.Net;
using SecureChat.Protocol.Identity;
using SecureChat.Storage;

namespace SecureChat.Cli;

/// <summary>
/// A contact to add, as typed or pasted — a bare ID or an invite link, an optional name and address —
/// checked once for the CLI (<c>contacts add</c>) and the local API (<c>POST /api/contacts</c>).
/// A name or address given explicitly wins over the link's; a link's one-time token is kept.
/// </summary>
internal sealed record NewContact(AccountId Account, string? Name, string? Endpoint, string? InviteToken = null)
{
    /// <exception cref="UsageException">Any part is not valid; the sentence says which and why.</exception>
    public static NewContact Parse(string? idOrLink, string? name, string? endpoint)
    {
        AccountId? account;
        string? token = null;
        if (InviteLink.LooksLikeLink(idOrLink))
        {
            if (!InviteLink.TryParse(idOrLink, out var link, out var linkError))
            {
                throw new UsageException(linkError);
            }

            account = link.Account;
            token = link.Token;
            name ??= link.Name is { } suggested && ContactBook.IsValidName(suggested) ? suggested : null;
            endpoint ??= link.Endpoints.FirstOrDefault()?.ToString();
        }
        else if (!AccountId.TryParse(idOrLink, out account))
        {
            throw new UsageException($"'{idOrLink}' is neither a SecureChat ID ({AccountId.TextLength} characters, as `securechat id` prints it) nor an invite link (securechat:…).");
        }

        if (name is not null && !ContactBook.IsValidName(name))
        {
            throw new UsageException(ContactBook.NameRule);
        }

        if (endpoint is not null)
        {
            endpoint = PeerEndpoint.TryParse(endpoint, out var parsed, out var error) ? parsed.ToString() : throw new UsageException(error);
        }

        return new NewContact(account, name, endpoint, token);
    }
}
