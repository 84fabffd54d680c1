using System.Security.Cryptography;
using Google.Protobuf;
using SecureChat.Protocol.Messages.Wire;
using SecureChat.Storage;

namespace SecureChat.Node.Session;

/// <summary>
/// The fast send path and the folded acknowledgements (docs/performance.md, "The fast send path").
/// While the connection is up, texts queued for the contact come here instead of the outbox's
/// writer, and one store write queues them, encrypts them (after any older outbox messages, so
/// the order holds), saves the ratchet state and marks them sent: one disk sync at the sender.
/// Delivered and read marks are held in memory and written with the next store write, or once
/// <see cref="AcknowledgementHold"/> has passed: a crash before then loses only marks, and the
/// messages they named are sent again and stored once by the peer, which keeps each ID once.
/// </summary>
internal sealed partial class PeerSession
{
    /// <summary>The most acknowledgement batches whose ratchet state is held before it is written anyway.</summary>
    private const int MaxHeldSteps = 64;

    /// <summary>Marks waiting for the session's next store write.</summary>
    private readonly OutgoingMarks _held = new();

    /// <summary>Batches of pure acknowledgements decrypted since the last store write (their ratchet state is not on disk yet).</summary>
    private int _heldSteps;

    private DateTimeOffset _heldSince;

    /// <summary>
    /// How long marks and a ratchet state that decrypted only acknowledgements may wait in memory
    /// for the next store write; zero writes them at once (in the write of the batch that carried
    /// them). A shell that sends often sets it, so that acknowledgements cost no sync of their own.
    /// </summary>
    public TimeSpan AcknowledgementHold { get; set; }

    /// <summary>True while marks or a ratchet state wait in memory for a store write.</summary>
    public bool HasHeldWrites => _heldSteps > 0 || !_held.IsEmpty;

    /// <summary>
    /// How many texts <see cref="SendQueued"/> could send now: none before the hello, after a
    /// close, while a refusal holds texts back, or while the in-flight window is full. Texts beyond
    /// it are better queued by the outbox's writer, on its own thread, than by this connection.
    /// </summary>
    public int SendRoom(DateTimeOffset now) =>
        _closed || _session is not { Ratchet.CanSend: true } || HeldBack(now) ? 0 : Math.Min(_options.SendBatch, _options.MaxInFlight - _inFlight.Count);

    /// <summary>
    /// The fast send path: <paramref name="texts"/>, queued just now for the contact, are written
    /// to the store in one write with their encryption, after every older outbox message this
    /// connection has not taken yet (encrypted ahead of them, in the same write). The output's
    /// <see cref="SessionOutput.Queued"/> holds the texts as stored, in order. Returns null, having
    /// written nothing, when this connection cannot send now (no hello yet, closed, held back by a
    /// refusal) or the conversation's outbox is full: the shell then queues the texts the usual way.
    /// </summary>
    /// <exception cref="StoreException">The write failed (a full disk): nothing of it is stored; the connection should end.</exception>
    public SessionOutput? SendQueued(IReadOnlyList<string> texts, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var session = _session;
        if (_closed || session is null || !session.Ratchet.CanSend || texts.Count == 0 || HeldBack(now))
        {
            return null;
        }

        var output = Begin();
        var receipts = _store.PendingReceipts(_contact).Where(r => !_receiptsInFlight.Contains(r.EnvelopeId)).ToList();
        List<byte[]> frames = [];
        List<string> inFlight = [];
        string? cursor = _outboxCursor;
        var more = false;
        string? startId = null;
        IReadOnlyList<StoredMessage> stored;
        ConversationMoves moves;
        try
        {
            stored = _store.QueueAndSend(_contact, texts, queued =>
            {
                // Inside the write: what this connection has not taken of the outbox yet goes first.
                // The page is read in the write, so nothing committed meanwhile can slip between.
                var newIds = queued.Select(m => m.MessageId).ToHashSet(StringComparer.Ordinal);
                var room = Math.Min(_options.SendBatch, _options.MaxInFlight - _inFlight.Count);
                var page = room <= 0 ? [] : _store.Outbox(_contact, room, _outboxCursor);
                var older = page.Where(m => !newIds.Contains(m.MessageId) && !_inFlight.Contains(m.MessageId)).ToList();
                var olderComplete = room > 0 && (page.Count < room || page.Any(m => newIds.Contains(m.MessageId)));
                var fresh = olderComplete ? queued.Take(room - older.Count).ToList() : [];
                more = fresh.Count < queued.Count;

                // The ratchet is changed only here; if the write then fails, the connection ends
                // and the next one starts from the state on disk.
                frames = [.. Preamble(session, receipts, now, out startId)];
                foreach (var message in older.Concat(fresh))
                {
                    frames.Add(Encrypt(session, TextEnvelope(message)));
                    inFlight.Add(message.MessageId);
                }

                cursor = inFlight.Count > 0 ? inFlight[^1] : _outboxCursor;
                return new SendPlan(
                    [.. older.Where(m => m.State == MessageState.Queued).Select(m => m.MessageId)],
                    [.. fresh.Select(m => m.MessageId)],
                    session.Encode());
            }, _held, out moves);
        }
        catch (StoreException ex) when (ex.Error == StoreError.OutboxFull)
        {
            // Refused before anything was encrypted: the usual queue gives the sender the same answer.
            return null;
        }

        // Written: the frames may go, in the order they were encrypted.
        _pendingTyping = -1;
        _sessionStartId ??= startId;
        _receiptsInFlight.UnionWith(receipts.Select(r => r.EnvelopeId));

        _inFlight.UnionWith(inFlight);
        _outboxCursor = cursor;
        output.Queued.AddRange(stored);
        output.Frames.AddRange(frames);
        Written(moves);
        output.MoreToSend = more;
        return output;
    }

    /// <summary>Writes what is held (marks, a ratchet state), if anything is: the shell calls it before the connection goes.</summary>
    public SessionOutput Flush()
    {
        var output = Begin();
        if (_session is { } session && HasHeldWrites)
        {
            WriteHeld(session);
        }

        return output;
    }

    /// <summary>
    /// Whether a batch that carried only acknowledgements may leave its write to later: yes while
    /// <see cref="AcknowledgementHold"/> is set and not too many are held. The first held batch
    /// (nothing was <paramref name="holding"/> before it) starts the clock that <see cref="WakeAt"/> reports.
    /// </summary>
    private bool Hold(DateTimeOffset now, bool holding)
    {
        if (AcknowledgementHold <= TimeSpan.Zero || _heldSteps >= MaxHeldSteps)
        {
            return false;
        }

        if (!holding)
        {
            _heldSince = now;
        }

        _heldSteps++;
        return true;
    }

    /// <summary>When what is held must be written at the latest; null when nothing is held.</summary>
    private DateTimeOffset? HeldUntil => HasHeldWrites && AcknowledgementHold > TimeSpan.Zero ? _heldSince + AcknowledgementHold : null;

    /// <summary>Pump's part: writes what is held once its time has come.</summary>
    private void WriteHeldIfDue(DateTimeOffset now)
    {
        if (_session is { } session && HeldUntil is { } until && now >= until)
        {
            WriteHeld(session);
        }
        else if (_session is { } unheld && HasHeldWrites && AcknowledgementHold <= TimeSpan.Zero)
        {
            WriteHeld(unheld);
        }
    }

    private void WriteHeld(SessionRecord session)
    {
        var state = session.Encode();
        ConversationMoves moves;
        try
        {
            _ = _store.Receive(_contact, [], state, _held, out moves);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(state);
        }

        Written(moves);
    }

    /// <summary>A store write succeeded with the held marks in it: they are done, and their moves are announced now that they are durable.</summary>
    private void Written(ConversationMoves moves)
    {
        _held.Clear();
        _heldSteps = 0;
        Publish(moves.Sent, MessageState.Sent);
        Publish(moves.Delivered, MessageState.Delivered);
        Publish(moves.Read, MessageState.Read);
    }

    /// <summary>What goes ahead of texts in a batch: a typing notice, the session start (until the peer shows it holds the session), read receipts.</summary>
    private List<byte[]> Preamble(SessionRecord session, IReadOnlyList<PendingReceipt> receipts, DateTimeOffset now, out string? startId)
    {
        var frames = new List<byte[]>();
        if (_pendingTyping >= 0)
        {
            var active = _pendingTyping == 1;
            frames.Add(Encrypt(session, NewEnvelope(now, body => body.Typing = new Typing { Active = active })));
        }

        startId = null;
        if (!session.PeerConfirmed && _sessionStartId is null)
        {
            var start = NewEnvelope(now, body => body.SessionStart = new SessionStart());
            startId = Convert.ToHexStringLower(start.MessageId.Span);
            frames.Add(Encrypt(session, start));
        }

        foreach (var receipt in receipts)
        {
            var envelope = NewEnvelope(now, body => body.Read = Receipt(receipt.MessageIds.Select(id => ByteString.CopyFrom(Convert.FromHexString(id)))));
            envelope.MessageId = ByteString.CopyFrom(Convert.FromHexString(receipt.EnvelopeId));
            frames.Add(Encrypt(session, envelope));
        }

        return frames;
    }

    /// <summary>The envelope of an outbox text: its own ID, Lamport value and send time, as queued.</summary>
    private Envelope TextEnvelope(StoredMessage message) => new()
    {
        MessageId = ByteString.CopyFrom(Convert.FromHexString(message.MessageId)),
        Conversation = ByteString.CopyFrom(_intent.Conversation),
        SenderDevice = ByteString.CopyFrom(_intent.DeviceId),
        Lamport = (ulong)message.Lamport,
        SentAt = message.SentAt.ToUnixTimeMilliseconds(),
        Text = new Text { Content = message.Text },
    };
}
