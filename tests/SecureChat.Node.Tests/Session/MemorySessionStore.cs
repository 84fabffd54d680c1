using System.Security.Cryptography;
using SecureChat.Node.Session;
using SecureChat.Protocol.Ratchet;
using SecureChat.Storage;

namespace SecureChat.Node.Tests.Session;

/// <summary>
/// The store of one party of an in-memory <see cref="SessionPair"/>: its outbox, what it received,
/// its read receipts and its saved ratchet session, kept in lists. Each command is "durable" when
/// it returns, as the real store's transaction is, so a party rebuilt from it is a node restarted
/// after a crash.
/// </summary>
internal sealed class MemorySessionStore : ISessionStore
{
    private readonly List<MemoryOutgoing> _outgoing = [];
    private readonly List<StoredMessage> _received = [];
    private readonly List<PendingReceipt> _receipts = [];
    private byte[]? _session;

    /// <summary>Texts this party queued, in the order it queued them.</summary>
    public IReadOnlyList<MemoryOutgoing> Outgoing => _outgoing;

    /// <summary>Texts this party stored from its peer, in the order they were stored.</summary>
    public IReadOnlyList<StoredMessage> Received => _received;

    public IReadOnlyList<PendingReceipt> Receipts => _receipts;

    /// <summary>How many times a new session was saved (not counting the states saved with a batch).</summary>
    public int SessionsStarted { get; private set; }

    public int InvitesDelivered { get; private set; }

    /// <summary>The saved session's bytes, as a backup would copy them.</summary>
    public byte[]? SessionState
    {
        get => _session?.ToArray();
        set => _session = value?.ToArray();
    }

    public bool HasSession => _session is not null;

    /// <summary>Store writes made (each one transaction of the real store): the seam that counts a send's syncs.</summary>
    public int Writes { get; private set; }

    /// <summary>Set to make the next <see cref="Receive"/> fail as a full disk does: nothing written.</summary>
    public bool FailNextReceive { get; set; }

    /// <summary>Set to make the next <see cref="MarkSent"/> fail as a full disk does: neither the state nor the marks written.</summary>
    public bool FailNextMarkSent { get; set; }

    /// <summary>Set to make the next <see cref="SaveSession"/> fail as a full disk does: no session kept.</summary>
    public bool FailNextSaveSession { get; set; }

    /// <summary>One-time invite tokens this party's person handed out (docs/protocol.md 7.6); a redeemed one is spent.</summary>
    public List<byte[]> InviteTokens { get; } = [];

    /// <summary>The requests that became contacts by an invite token.</summary>
    public int InvitesRedeemed { get; private set; }

    /// <summary>How many times <see cref="Outbox"/> was read, for tests of what a session reads again.</summary>
    public int OutboxReads { get; private set; }

    /// <summary>The saved session, as a node reads it when a connection comes up.</summary>
    public SessionRecord? Load() => _session is null ? null : SessionRecord.TryDecode(_session, RatchetOptions.Default);

    public MemoryOutgoing Queue(string text, long lamport, DateTimeOffset sentAt)
    {
        var message = new MemoryOutgoing(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)), text, lamport, sentAt);
        _outgoing.Add(message);
        return message;
    }

    /// <summary>The person read what arrived: a read receipt for every text not yet marked, as the node queues one.</summary>
    public PendingReceipt MarkAllSeen()
    {
        var receipt = new PendingReceipt(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)), [.. _received.Select(m => m.MessageId)]);
        _receipts.Add(receipt);
        return receipt;
    }

    /// <summary>The person read some of what arrived: a read receipt for those texts alone.</summary>
    public PendingReceipt MarkSeen(params string[] messageIds)
    {
        var receipt = new PendingReceipt(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)), messageIds);
        _receipts.Add(receipt);
        return receipt;
    }

    public void SaveSession(Contact contact, SessionRecord session)
    {
        if (FailNextSaveSession)
        {
            FailNextSaveSession = false;
            throw new StoreException(StoreError.DiskFull, "The disk is full.");
        }

        _session = session.Encode();
        SessionsStarted++;
        Writes++;
    }

    public void ForgetSession(Contact contact)
    {
        _session = null;
        Writes++;
    }

    public IReadOnlyList<StoredMessage> Receive(Contact contact, IReadOnlyList<StoredMessage> texts, byte[] sessionState)
    {
        if (FailNextReceive)
        {
            FailNextReceive = false;
            throw new StoreException(StoreError.DiskFull, "The disk is full.");
        }

        var added = new List<StoredMessage>();
        foreach (var text in texts)
        {
            if (_received.All(m => m.MessageId != text.MessageId) && added.All(m => m.MessageId != text.MessageId))
            {
                added.Add(text);
            }
        }

        _received.AddRange(added);
        _session = sessionState.ToArray();
        Writes++;
        return added;
    }

    public IReadOnlyList<string> MarkSent(Contact contact, IReadOnlyList<string> messageIds, byte[] sessionState)
    {
        if (FailNextMarkSent)
        {
            FailNextMarkSent = false;
            throw new StoreException(StoreError.DiskFull, "The disk is full.");
        }

        _session = sessionState.ToArray();
        Writes++;
        return Move(messageIds, MessageState.Sent);
    }

    public IReadOnlyList<string> Advance(Contact contact, IReadOnlyList<string> messageIds, MessageState state)
    {
        Writes++;
        return Move(messageIds, state);
    }

    /// <summary>Received texts, the session state and the held marks in one write, as the node's store does.</summary>
    IReadOnlyList<StoredMessage> ISessionStore.Receive(Contact contact, IReadOnlyList<StoredMessage> texts, byte[] sessionState, OutgoingMarks marks, out ConversationMoves moves)
    {
        var added = Receive(contact, texts, sessionState);
        moves = new ConversationMoves([], Move(marks.Delivered, MessageState.Delivered), Move(marks.Read, MessageState.Read));
        _receipts.RemoveAll(r => marks.ReceiptsAcknowledged.Contains(r.EnvelopeId));
        return added;
    }

    /// <summary>A batch marked sent, the session state and the held marks in one write, as the node's store does.</summary>
    ConversationMoves ISessionStore.MarkSent(Contact contact, IReadOnlyList<string> messageIds, byte[] sessionState, OutgoingMarks marks)
    {
        var sent = MarkSent(contact, messageIds, sessionState);
        _receipts.RemoveAll(r => marks.ReceiptsAcknowledged.Contains(r.EnvelopeId));
        return new ConversationMoves(sent, Move(marks.Delivered, MessageState.Delivered), Move(marks.Read, MessageState.Read));
    }

    public IReadOnlyList<StoredMessage> Outbox(Contact contact, int limit, string? afterMessageId)
    {
        OutboxReads++;
        var after = afterMessageId is null ? -1 : _outgoing.FindIndex(m => m.Id == afterMessageId);
        return [.. _outgoing.Skip(after + 1).Where(m => m.State < MessageState.Delivered).Take(limit)
            .Select(m => new StoredMessage(m.Id, contact.Name, contact.Account, true, m.SentAt, null, m.State, m.Text, m.Lamport))];
    }

    public IReadOnlyList<PendingReceipt> PendingReceipts(Contact contact) => [.. _receipts];

    public void AcknowledgeReceipts(IReadOnlyList<string> envelopeIds)
    {
        _receipts.RemoveAll(r => envelopeIds.Contains(r.EnvelopeId));
        Writes++;
    }

    public Contact? RedeemInvite(Contact request, ReadOnlySpan<byte> token)
    {
        var held = token.ToArray();
        var index = InviteTokens.FindIndex(t => t.AsSpan().SequenceEqual(held));
        if (index < 0)
        {
            return null;
        }

        InviteTokens.RemoveAt(index);
        InvitesRedeemed++;
        return request with { Standing = ContactStanding.Contact };
    }

    public Contact InviteDelivered(Contact contact)
    {
        InvitesDelivered++;
        Writes++;
        return contact with { InviteToken = null };
    }

    /// <summary>Where <see cref="QueueAndSend"/> takes each text's Lamport value (the party's clock, as the outbox's is the node's); set by tests of the fast send path.</summary>
    public Func<long>? NextLamport { get; set; }

    /// <summary>The send time <see cref="QueueAndSend"/> gives its texts.</summary>
    public Func<DateTimeOffset>? Now { get; set; }

    /// <summary>Set to make the next <see cref="QueueAndSend"/> fail at its commit, as a full disk does: nothing of it written.</summary>
    public bool FailNextQueueAndSend { get; set; }

    /// <summary>Undelivered messages the outbox takes (<see cref="StoreError.OutboxFull"/> beyond).</summary>
    public int MaxOutbox { get; set; } = int.MaxValue;

    public IReadOnlyList<StoredMessage> QueueAndSend(Contact contact, IReadOnlyList<string> texts, Func<IReadOnlyList<StoredMessage>, SendPlan> send, OutgoingMarks marks, out ConversationMoves moves)
    {
        var nextLamport = NextLamport ?? throw new InvalidOperationException("Set NextLamport and Now to use the fast send path.");
        var now = Now ?? throw new InvalidOperationException("Set NextLamport and Now to use the fast send path.");
        if (_outgoing.Count(m => m.State < MessageState.Delivered) + texts.Count > MaxOutbox)
        {
            throw new StoreException(StoreError.OutboxFull, "The outbox is full.");
        }

        // The texts are visible to the send decision, as rows of the open transaction are.
        var queued = texts.Select(text => new MemoryOutgoing(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)), text, nextLamport(), now())).ToList();
        _outgoing.AddRange(queued);
        SendPlan plan;
        try
        {
            plan = send([.. queued.Select(m => Stored(contact, m))]);
            if (FailNextQueueAndSend)
            {
                FailNextQueueAndSend = false;
                throw new StoreException(StoreError.DiskFull, "The disk is full.");
            }
        }
        catch
        {
            _outgoing.RemoveAll(queued.Contains);
            throw;
        }

        _session = plan.SessionState.ToArray();
        var sent = Move([.. plan.Older, .. plan.Queued], MessageState.Sent);
        var delivered = Move(marks.Delivered, MessageState.Delivered);
        var read = Move(marks.Read, MessageState.Read);
        _receipts.RemoveAll(r => marks.ReceiptsAcknowledged.Contains(r.EnvelopeId));
        Writes++;
        moves = new ConversationMoves(sent, delivered, read);
        return [.. queued.Select(m => Stored(contact, m))];
    }

    private static StoredMessage Stored(Contact contact, MemoryOutgoing message) =>
        new(message.Id, contact.Name, contact.Account, true, message.SentAt, null, message.State, message.Text, message.Lamport);

    private List<string> Move(IEnumerable<string> ids, MessageState state)
    {
        var moved = new List<string>();
        foreach (var id in ids)
        {
            if (_outgoing.Find(m => m.Id == id) is { } message && message.State < state)
            {
                message.State = state;
                moved.Add(id);
            }
        }

        return moved;
    }
}

/// <summary>A text in a <see cref="MemorySessionStore"/>'s outbox, with the state the store holds for it.</summary>
internal sealed class MemoryOutgoing(string id, string text, long lamport, DateTimeOffset sentAt)
{
    public string Id { get; } = id;

    public string Text { get; } = text;

    public long Lamport { get; } = lamport;

    public DateTimeOffset SentAt { get; } = sentAt;

    public MessageState State { get; set; } = MessageState.Queued;
}

/// <summary>The conversation's Lamport clock as <see cref="ContactLink"/> keeps it, without the store behind it.</summary>
internal sealed class MemoryLamportClock : ILamportClock
{
    public long Value { get; set; }

    public long Tick() => Value < (long)Protocol.Messages.NodeWire.MaxLamport ? ++Value : Value;

    public bool TryWitness(ulong lamport, out ulong limit)
    {
        limit = Math.Min(Protocol.Messages.NodeWire.MaxLamport, (ulong)Value + Protocol.Messages.NodeWire.LamportWindow);
        if (!Protocol.Messages.NodeWire.IsLamportInBounds(lamport, Value))
        {
            return false;
        }

        Value = Math.Max(Value, (long)lamport);
        return true;
    }
}
