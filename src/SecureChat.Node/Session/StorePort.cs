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

    /// <summary>
    /// <see cref="Receive(Contact, IReadOnlyList{StoredMessage}, byte[])"/> with the session's held
    /// marks written in the same store write; returns the new texts, and what the marks moved.
    /// </summary>
    IReadOnlyList<StoredMessage> Receive(Contact contact, IReadOnlyList<StoredMessage> texts, byte[] sessionState, OutgoingMarks marks, out ConversationMoves moves)
    {
        var added = Receive(contact, texts, sessionState);
        moves = ApplyMarks(this, contact, marks, []);
        return added;
    }

    /// <summary><see cref="MarkSent(Contact, IReadOnlyList{string}, byte[])"/> with the session's held marks written in the same store write.</summary>
    ConversationMoves MarkSent(Contact contact, IReadOnlyList<string> messageIds, byte[] sessionState, OutgoingMarks marks) =>
        ApplyMarks(this, contact, marks, MarkSent(contact, messageIds, sessionState));

    /// <summary>
    /// The fast send path: queues <paramref name="texts"/> (each with the conversation's next
    /// Lamport value) and, in the same store write, what <paramref name="send"/> decides once it
    /// sees them queued: older outbox messages and (some of) these marked sent with the session
    /// state that encrypted them, and the held marks. Returns the texts as stored, in order;
    /// throws <see cref="StoreException"/> having written nothing (<see cref="StoreError.OutboxFull"/>
    /// before <paramref name="send"/> is called).
    /// </summary>
    IReadOnlyList<StoredMessage> QueueAndSend(Contact contact, IReadOnlyList<string> texts, Func<IReadOnlyList<StoredMessage>, SendPlan> send, OutgoingMarks marks, out ConversationMoves moves);

    private static ConversationMoves ApplyMarks(ISessionStore store, Contact contact, OutgoingMarks marks, IReadOnlyList<string> sent)
    {
        var delivered = marks.Delivered.Count == 0 ? [] : store.Advance(contact, marks.Delivered, MessageState.Delivered);
        var read = marks.Read.Count == 0 ? [] : store.Advance(contact, marks.Read, MessageState.Read);
        if (marks.ReceiptsAcknowledged.Count > 0)
        {
            store.AcknowledgeReceipts(marks.ReceiptsAcknowledged);
        }

        return new ConversationMoves(sent, delivered, read);
    }

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

    public IReadOnlyList<StoredMessage> Receive(Contact contact, IReadOnlyList<StoredMessage> texts, byte[] sessionState, OutgoingMarks marks, out ConversationMoves moves) =>
        node.Store.Messages.ReceiveWithMarks(contact, texts, sessionState, marks, out moves);

    public ConversationMoves MarkSent(Contact contact, IReadOnlyList<string> messageIds, byte[] sessionState, OutgoingMarks marks) =>
        node.Store.Outbox.MarkSent(contact, messageIds, sessionState, marks);

    public IReadOnlyList<StoredMessage> QueueAndSend(Contact contact, IReadOnlyList<string> texts, Func<IReadOnlyList<StoredMessage>, SendPlan> send, OutgoingMarks marks, out ConversationMoves moves)
    {
        ConversationMoves moved = ConversationMoves.None;
        var stored = node.Store.Outbox.QueueAndSend(contact, texts, (transaction, queued) =>
        {
            var plan = send(queued);
            try
            {
                var older = transaction.MarkOlderSent(plan.Older);
                transaction.MarkSent(plan.Queued, plan.SessionState);
                var folded = transaction.Apply(marks);
                moved = new ConversationMoves([.. older, .. plan.Queued], folded.Delivered, folded.Read);
            }
            finally
            {
                Array.Clear(plan.SessionState);
            }
        });
        moves = moved;
        return stored;
    }

    public Contact InviteDelivered(Contact contact) => node.InviteDelivered(contact);
}

/// <summary>
/// What a session sends in the write that queues new texts (<see cref="ISessionStore.QueueAndSend"/>):
/// older outbox messages and new texts it encrypted, and the state that encrypted them.
/// </summary>
/// <param name="Older">Outbox messages queued before, still marked queued, encrypted ahead of the new texts.</param>
/// <param name="Queued">Those of the new texts encrypted now; the others stay queued, for the next batch.</param>
/// <param name="SessionState">The ratchet state after encrypting them; the store wipes it once written.</param>
internal sealed record SendPlan(IReadOnlyList<string> Older, IReadOnlyList<string> Queued, byte[] SessionState);
