using SecureChat.Protocol.Identity;
using SecureChat.Storage;

namespace SecureChat.Node;

/// <summary>
/// What hosts (the local API, the web UI, the terminal chat) read and change in the person's own
/// book and history. They go through these methods, never the store: the node publishes what
/// changed, and the time of a change is the node's clock, not the host's.
/// </summary>
public sealed partial class ChatNode
{
    /// <summary>The person's contacts (not requests, not blocked accounts).</summary>
    public IReadOnlyList<Contact> Contacts => Store.Contacts.All;

    /// <summary>The contact a person means by a name they gave, a full ID or the beginning of one (<see cref="ContactBook.Resolve"/>).</summary>
    /// <exception cref="StoreException">No contact, or more than one, answers to <paramref name="who"/>.</exception>
    public Contact Resolve(string who) => Store.Contacts.Resolve(who);

    /// <summary>The contact request whose ID is or begins with <paramref name="id"/>.</summary>
    public Contact ResolveRequest(string id) => Store.Contacts.ResolveRequest(id);

    /// <summary>The blocked account whose ID is or begins with <paramref name="id"/>.</summary>
    public Contact ResolveBlocked(string id) => Store.Contacts.ResolveBlocked(id);

    /// <summary>The account a person means to block (<see cref="ContactBook.ResolveAnyAccount"/>).</summary>
    public AccountId ResolveAnyAccount(string who) => Store.Contacts.ResolveAnyAccount(who);

    /// <summary>Gives a contact a new name (<see cref="ContactBook.NameRule"/>) and tells every window.</summary>
    public Contact Rename(Contact contact, string name)
    {
        var renamed = Store.Contacts.Rename(contact, name);
        Events.Publish(new ContactChanged(renamed, false));
        return renamed;
    }

    /// <summary>Records that the person compared the safety number with this contact, at the node's time.</summary>
    public Contact MarkVerified(Contact contact)
    {
        var verified = Store.Contacts.MarkVerified(contact, Options.Time.GetUtcNow());
        Events.Publish(new ContactChanged(verified, false));
        return verified;
    }

    /// <summary>How many messages the conversation holds, and how many of the contact's are not yet seen.</summary>
    public ConversationCounts Counts(Contact contact) => new(Store.Messages.Count(contact), Store.Messages.UnseenCount(contact));

    /// <summary>Up to <paramref name="limit"/> messages before <paramref name="beforeMessageId"/> (or the newest), oldest first.</summary>
    public IReadOnlyList<StoredMessage> History(Contact contact, int limit, string? beforeMessageId = null) =>
        Store.Messages.History(contact, limit, beforeMessageId);

    /// <summary>Up to <paramref name="limit"/> messages after <paramref name="afterMessageId"/>, oldest first.</summary>
    public IReadOnlyList<StoredMessage> HistoryAfter(Contact contact, int limit, string afterMessageId) =>
        Store.Messages.HistoryAfter(contact, limit, afterMessageId);

    /// <summary>A page around one message: up to half the limit before it, the message, then what follows, <paramref name="limit"/> in all.</summary>
    /// <exception cref="StoreException">The message is not in this conversation.</exception>
    public IReadOnlyList<StoredMessage> HistoryAround(Contact contact, int limit, string messageId)
    {
        var anchor = Store.Messages.Find(messageId) is { } found && found.ContactAccount == contact.Account
            ? found
            : throw new StoreException(StoreError.NoSuchContact, $"No message {messageId} is in the conversation with '{contact.Name}'.");
        var before = limit / 2 > 0 ? Store.Messages.History(contact, limit / 2, messageId) : [];
        var after = limit - 1 - before.Count > 0 ? Store.Messages.HistoryAfter(contact, limit - 1 - before.Count, messageId) : [];
        return [.. before, anchor, .. after];
    }

    /// <summary>The messages that hold every word of <paramref name="query"/>, newest first, in one conversation or all.</summary>
    public IReadOnlyList<StoredMessage> Search(string query, Contact? within, int limit) => Store.Messages.Search(query, within, limit);

    /// <summary>One stored message by its ID, or null.</summary>
    public StoredMessage? FindMessage(string messageId) => Store.Messages.Find(messageId);

    /// <summary>How many messages wait in the outbox, for every contact.</summary>
    public long OutboxCount() => Store.Outbox.Count();
}

/// <summary>A conversation's size, and how many of the contact's messages the person has not seen.</summary>
public readonly record struct ConversationCounts(long Messages, long Unseen);
