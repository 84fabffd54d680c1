using Microsoft.Extensions.Logging;
using SecureChat.Net;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Identity;
using SecureChat.Storage;

namespace SecureChat.Node;

/// <summary>Contact requests, invites and blocking: who may become a contact, and who is refused.</summary>
public sealed partial class ChatNode
{
    /// <summary>Strangers who connected and wait for an answer (<see cref="AcceptRequestAsync"/>, <see cref="DeclineRequestAsync"/>, <see cref="BlockAsync"/>).</summary>
    public IReadOnlyList<Contact> Requests => Store.Contacts.Requests;

    /// <summary>The accounts refused at the handshake.</summary>
    public IReadOnlyList<Contact> Blocked => Store.Contacts.Blocked;

    /// <summary>
    /// Makes a request a contact (named <paramref name="name"/> if given): the messages it sent are
    /// in the conversation, and the connection starts again as a contact's, so what the peer still
    /// holds for this node is sent.
    /// </summary>
    public async Task<Contact> AcceptRequestAsync(Contact request, string? name)
    {
        ArgumentNullException.ThrowIfNull(request);
        var contact = Store.Contacts.Accept(request, name);
        if (_links.TryRemove(contact.Account, out var link))
        {
            await link.StopAsync(CloseReason.Normal, ReconnectText).ConfigureAwait(false);
        }

        Events.Publish(new RequestRemoved(contact.Account, "accepted"));
        Events.Publish(new ContactChanged(contact, true));
        LinkOf(contact).Kick();
        _dht?.Kick();
        _lan?.Kick();
        return contact;
    }

    /// <summary>
    /// A one-time invite link for this node (docs/protocol.md 7.6): its ID and name, where it
    /// listens when <paramref name="withAddress"/>, and with <paramref name="oneTime"/> a fresh
    /// token that lets the link's holder in without a request, once, for
    /// <see cref="InviteTokens.Lifetime"/>. The node keeps only the token's keyed digest.
    /// </summary>
    public InviteLink CreateInvite(bool withAddress, bool oneTime)
    {
        var endpoints = withAddress
            ? AdvertisedEndPoints().Select(e => new PeerEndpoint(e.Address.ToString(), e.Port)).ToList()
            : [];
        var name = Identity.DisplayName;
        string? token = null;
        if (oneTime)
        {
            var bytes = Store.Invites.Issue();
            token = InviteLink.EncodeToken(bytes);
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(bytes);
        }

        return new InviteLink(Identity.Account, string.IsNullOrEmpty(name) ? null : name, endpoints, token);
    }

    /// <summary>
    /// A request's hello presented an invite token: when it is one this node issued, unused and
    /// unexpired, it is spent and the request becomes a contact on the connection it is on (no
    /// restart: the connection is already the right one). Returns the contact, or null (still a
    /// request) for any other token.
    /// </summary>
    internal Contact? RedeemInvite(Contact request, ReadOnlySpan<byte> token)
    {
        if (request.Standing != ContactStanding.Request || Store.Contacts.Find(request.AccountId) is not { Standing: ContactStanding.Request } current)
        {
            return null;
        }

        if (!Store.Invites.TryRedeem(token))
        {
            _logger.LogDebug("The hello of {Account} carried an invite token that is unknown, used or expired: it stays a contact request", request.AccountId.Fingerprint);
            return null;
        }

        var contact = Store.Contacts.Accept(current, null);
        if (_links.TryGetValue(contact.Account, out var link))
        {
            // A request's link only answered; a contact's also dials when the connection ends.
            link.StartDialing();
        }

        _logger.LogInformation("{Account} used a one-time invite link: it is a contact", contact.AccountId.Fingerprint);
        Events.Publish(new RequestRemoved(contact.Account, "accepted"));
        Events.Publish(new ContactChanged(contact, true));
        _dht?.Kick();
        _lan?.Kick();
        return contact;
    }

    /// <summary>The contact's node has had this node's invite token in a completed hello: it is not kept any longer.</summary>
    internal Contact InviteDelivered(Contact contact) => Store.Contacts.ClearInviteToken(contact);

    /// <summary>Forgets a request and what it sent; if the account connects again it is a new request.</summary>
    public async Task DeclineRequestAsync(Contact request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (Store.Contacts.Find(request.AccountId) is not { Standing: ContactStanding.Request } current)
        {
            throw new StoreException(StoreError.NoSuchContact, $"No contact request comes from {request.Account}.");
        }

        await CloseLinkAsync(current.Account, "declined").ConfigureAwait(false);
        Store.Contacts.Remove(current);
        Events.Publish(new RequestRemoved(current.Account, "declined"));
    }

    /// <summary>
    /// Blocks an account (a request, a contact, or one never met): its conversation is deleted,
    /// its connection closed, and its handshakes refused from now on, before anything is stored.
    /// </summary>
    public async Task<Contact> BlockAsync(AccountId account)
    {
        ArgumentNullException.ThrowIfNull(account);
        var before = Store.Contacts.Find(account);
        await CloseLinkAsync(account.Text, "blocked").ConfigureAwait(false);
        _keyWarnings.TryRemove(account.Text, out _);
        _dismissedWarnings.TryRemove(account.Text, out _);
        var blocked = Store.Contacts.Block(account, Options.Time.GetUtcNow());
        switch (before?.Standing)
        {
            case ContactStanding.Request:
                Events.Publish(new RequestRemoved(account.Text, "blocked"));
                break;
            case ContactStanding.Contact:
                Events.Publish(new ContactRemoved(account.Text));
                break;
        }

        return blocked;
    }

    /// <summary>Lifts a block; the account is forgotten.</summary>
    public void Unblock(AccountId account) => Store.Contacts.Unblock(account);
}
