using SecureChat.Storage;

namespace SecureChat.Node.Session;

/// <summary>
/// The store commands of a <see cref="PeerSession"/>. Each call is one durable write (or one read)
/// and returns when it is done; a call that fails throws <see cref="StoreException"/> having
/// written nothing. The session makes the call that saves a ratchet state before it hands out any
/// frame that state encrypted.
/// </summary>
internal interface ISessionStore
{
    /// <summary>Keeps a session just started, before anything is encrypted under it.</summary>
    void SaveSession(Contact contact, SessionRecord session);

    /// <summary>Forgets the contact's session (the ratchets are out of step): the next connection starts a new one.</summary>
    void ForgetSession(Contact contact);

    /// <summary>Stores received texts (each once, by ID) with the session state that decrypted them and encrypted their acknowledgement; returns the new ones.</summary>
    IReadOnlyList<StoredMessage> Receive(Contact contact, IReadOnlyList<StoredMessage> texts, byte[] sessionState);

    /// <summary>Marks outbox messages sent with the session state that encrypted them; returns the IDs that moved.</summary>
    IReadOnlyList<string> MarkSent(Contact contact, IReadOnlyList<string> messageIds, byte[] sessionState);

    /// <summary>Moves outgoing messages forward to delivered or read (never back); returns the IDs that moved.</summary>
    IReadOnlyList<string> Advance(Contact contact, IReadOnlyList<string> messageIds, MessageState state);

    /// <summary>The oldest messages of the outbox, oldest first, after <paramref name="afterMessageId"/> when given.</summary>
    IReadOnlyList<StoredMessage> Outbox(Contact contact, int limit, string? afterMessageId);

    /// <summary>Read receipts waiting to go to the contact.</summary>
    IReadOnlyList<PendingReceipt> PendingReceipts(Contact contact);

    /// <summary>Read receipts the contact stored: they are not sent again.</summary>
    void AcknowledgeReceipts(IReadOnlyList<string> envelopeIds);

    /// <summary>Spends an invite token a request's hello presented; returns the contact it became, or null.</summary>
    Contact? RedeemInvite(Contact request, ReadOnlySpan<byte> token);

    /// <summary>The contact has had this node's invite token in a hello: it is not kept any longer.</summary>
    Contact InviteDelivered(Contact contact);
}

/// <summary>
/// The store commands of the node's sessions, made against its <see cref="LocalStore"/>. Every
/// store call of the node protocol is here, so the store behind them can change in one place.
/// </summary>
internal sealed class NodeSessionStore(ChatNode node) : ISessionStore
{
    /// <summary>The session kept for a contact, or null when there is none or it cannot be read (a new one then starts).</summary>
    public SessionRecord? Load(Contact contact) => node.LoadSession(contact);

    /// <summary>The invite token to present in a hello to this contact, or null.</summary>
    public byte[]? InviteToken(Contact contact) =>
        node.Store.Contacts.Find(contact.AccountId) is { Standing: ContactStanding.Contact, InviteToken: { } kept }
        && Net.InviteLink.TryDecodeToken(kept, out var token)
            ? token
            : null;

    public void SaveSession(Contact contact, SessionRecord session) => node.SaveSession(contact, session);

    public void ForgetSession(Contact contact) => node.ForgetSession(contact);

    public IReadOnlyList<StoredMessage> Receive(Contact contact, IReadOnlyList<StoredMessage> texts, byte[] sessionState) =>
        node.Store.Messages.Receive(contact, texts, sessionState);

    public IReadOnlyList<string> MarkSent(Contact contact, IReadOnlyList<string> messageIds, byte[] sessionState) =>
        node.Store.Outbox.MarkSent(contact, messageIds, sessionState);

    public IReadOnlyList<string> Advance(Contact contact, IReadOnlyList<string> messageIds, MessageState state) =>
        node.Store.Outbox.Advance(contact, messageIds, state);

    public IReadOnlyList<StoredMessage> Outbox(Contact contact, int limit, string? afterMessageId) =>
        node.Store.Outbox.Take(contact, limit, afterMessageId);

    public IReadOnlyList<PendingReceipt> PendingReceipts(Contact contact) => node.Store.Outbox.PendingReceipts(contact);

    public void AcknowledgeReceipts(IReadOnlyList<string> envelopeIds) => node.Store.Outbox.AcknowledgeReceipts(envelopeIds);

    public Contact? RedeemInvite(Contact request, ReadOnlySpan<byte> token) => node.RedeemInvite(request, token);

    public Contact InviteDelivered(Contact contact) => node.InviteDelivered(contact);
}
