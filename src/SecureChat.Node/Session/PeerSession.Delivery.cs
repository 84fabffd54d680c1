using System.Security.Cryptography;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Messages;
using SecureChat.Protocol.Messages.Wire;
using SecureChat.Protocol.Ratchet;
using SecureChat.Storage;

namespace SecureChat.Node.Session;

/// <summary>
/// Delivery: every ratchet message is encrypted under a state that is in the store before the
/// message is handed out, and a received text is acknowledged only in the store write that keeps
/// it, together with the ratchet state that decrypted it.
/// </summary>
internal sealed partial class PeerSession
{
    /// <summary>Outbox messages taken on this connection and not yet acknowledged.</summary>
    private readonly HashSet<string> _inFlight = [];

    /// <summary>Read receipts sent on this connection and not yet acknowledged.</summary>
    private readonly HashSet<string> _receiptsInFlight = [];

    /// <summary>The last outbox message taken on this connection; the next batch is read from after it.</summary>
    private string? _outboxCursor;

    /// <summary>The session start sent on this connection, until the peer acknowledges it.</summary>
    private string? _sessionStartId;

    /// <summary>Decrypts and handles a batch of ratchet frames, stores what they carry, and acknowledges it.</summary>
    private void ReceiveRatchet(IReadOnlyList<byte[]> frames, DateTimeOffset now)
    {
        var session = _session!;
        var texts = new List<StoredMessage>();
        var acknowledge = new List<ByteString>();
        var delivered = new List<string>();
        var read = new List<string>();
        Refusal? refusal = null;
        Refusal? refused = null;
        foreach (var frame in frames)
        {
            if (!NodeWire.TryParseFrame(frame, out var parsed) || parsed.FrameCase != NodeFrame.FrameOneofCase.Ratchet)
            {
                Fail(CloseReason.ProtocolViolation, "a frame after the hello was not a ratchet message");
                return;
            }

            var result = session.Ratchet.TryDecrypt(parsed.Ratchet.Span, now, out var plaintext);
            if (result != RatchetError.None)
            {
                // The channel authenticated these bytes as the peer's, so the two ratchets are out
                // of step (a restored backup, a lost disk write): forget the session; the next
                // connection starts a new one and the outbox is sent again under it.
                _store.ForgetSession(_contact);
                _session = null;
                session.Dispose();
                Fail(CloseReason.ProtocolViolation, $"the ratchet sessions are out of step ({result}); a new one starts on the next connection");
                return;
            }

            session.PeerConfirmed = true;
            var valid = NodeWire.TryParseEnvelope(plaintext, out var envelope) && envelope.Conversation.Span.SequenceEqual(_intent.Conversation);
            CryptographicOperations.ZeroMemory(plaintext);
            if (!valid)
            {
                Fail(CloseReason.ProtocolViolation, "an envelope was malformed or named another conversation");
                return;
            }

            if (!_clock.TryWitness(envelope!.Lamport, out var limit))
            {
                // Refused before anything of the batch is stored or acknowledged: the peer keeps
                // what it sent, and nothing is lost if it was a bug that a later version fixes.
                // The sentence also goes to the peer in the CLOSE frame, so it fits in its 200 bytes.
                Fail(
                    CloseReason.ProtocolViolation,
                    $"the envelope's Lamport value {envelope.Lamport} is beyond this conversation's bound of {limit} (2^20 past this side's clock, at most 2^53 - 1): refused, not stored, not acknowledged");
                return;
            }

            switch (NodeWire.KindOf(envelope))
            {
                case EnvelopeKind.Text when !Admit(envelope, now, ref refusal):
                    // Over the peer's quota: neither stored nor acknowledged, so it stays in the peer's outbox.
                    break;
                case EnvelopeKind.Text:
                    texts.Add(new StoredMessage(
                        Convert.ToHexStringLower(envelope.MessageId.Span), _contact.Name, _contact.Account, false,
                        SendTime(envelope.SentAt, now), now, MessageState.Received, envelope.Text.Content, (long)envelope.Lamport));
                    acknowledge.Add(envelope.MessageId);
                    break;
                case EnvelopeKind.Delivered:
                    delivered.AddRange(envelope.Delivered.MessageIds.Select(id => Convert.ToHexStringLower(id.Span)));
                    break;
                case EnvelopeKind.Read:
                    read.AddRange(envelope.Read.MessageIds.Select(id => Convert.ToHexStringLower(id.Span)));
                    acknowledge.Add(envelope.MessageId);
                    break;
                case EnvelopeKind.Typing:
                    _output.Events.Add(new TypingChanged(_contact.Account, envelope.Typing.Active));
                    break;
                case EnvelopeKind.Refusal:
                    refused = envelope.Refusal;
                    break;
                default:
                    // A session start, or a kind from a later version: acknowledged so it is not resent.
                    acknowledge.Add(envelope.MessageId);
                    break;
            }
        }

        // The acknowledgement is encrypted before the store write, so one transaction persists the
        // messages and the ratchet state after both decrypting and encrypting.
        var acknowledgement = acknowledge.Count > 0 && session.Ratchet.CanSend
            ? Encrypt(session, NewEnvelope(now, body => body.Delivered = Receipt(acknowledge)))
            : null;
        var refusalFrame = refusal is not null && session.Ratchet.CanSend ? Encrypt(session, NewEnvelope(now, body => body.Refusal = refusal)) : null;
        // Delivered marks and acknowledged receipts are held for the next write; read marks are
        // too, and this batch's acknowledgement of them makes that write this one.
        var holding = HasHeldWrites;
        Acknowledged(delivered);
        _held.Read.AddRange(read);
        if (texts.Count == 0 && acknowledgement is null && refusalFrame is null && refused is null && Hold(now, holding))
        {
            // Only acknowledgements came: nothing here must be on disk before a frame leaves, so
            // the ratchet state that decrypted them waits for the next write (see Hold). A refusal
            // is written at once with them, so that what its event reports is what the store holds.
            return;
        }

        var state = session.Encode();
        IReadOnlyList<StoredMessage> added;
        ConversationMoves moves;
        try
        {
            added = _store.Receive(_contact, texts, state, _held, out moves);
        }
        catch (StoreException)
        {
            // Nothing was stored: nothing counts against the peer's quota.
            ReturnDuplicates(texts, [], now);
            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(state);
        }

        Written(moves);
        ReturnDuplicates(texts, added, now);
        if (acknowledgement is not null)
        {
            _output.Frames.Add(acknowledgement);
        }

        if (refusalFrame is not null)
        {
            _output.Frames.Add(refusalFrame);
        }

        _output.Received.AddRange(added);
        if (refused is not null)
        {
            Refused(refused, now);
        }
    }

    /// <summary>
    /// The send time a text claims, unless it lies more than <see cref="NodeWire.MaxSendTimeAhead"/>
    /// after this node's clock: then the receive time, since a time from the future is a broken
    /// clock or a lie, and the text itself is still worth keeping.
    /// </summary>
    private DateTimeOffset SendTime(long sentAtMilliseconds, DateTimeOffset now)
    {
        var claimed = DateTimeOffset.FromUnixTimeMilliseconds(Math.Clamp(sentAtMilliseconds, DateTimeOffset.MinValue.ToUnixTimeMilliseconds(), DateTimeOffset.MaxValue.ToUnixTimeMilliseconds()));
        if (claimed <= now + NodeWire.MaxSendTimeAhead)
        {
            return claimed;
        }

        _logger.LogInformation("A message from {Contact} claims to be sent at {SentAt:u}, more than a day ahead of this node's clock: it is kept with its receive time", _intent.Label, claimed);
        return now;
    }

    /// <summary>
    /// The peer stored these: texts are delivered, read receipts and the session start are done.
    /// The marks are held (<see cref="_held"/>) and written with the session's next store write.
    /// </summary>
    private void Acknowledged(List<string> ids)
    {
        if (ids.Count == 0)
        {
            return;
        }

        // The peer acknowledges on the connection that carried the envelope, so only read receipts
        // sent on this one can be among the IDs: the store is told about those alone.
        var receipts = ids.Where(_receiptsInFlight.Remove).ToList();
        _held.ReceiptsAcknowledged.AddRange(receipts);
        _held.Delivered.AddRange(receipts.Count == 0 ? ids : ids.Except(receipts, StringComparer.Ordinal));

        foreach (var id in ids)
        {
            _inFlight.Remove(id);
        }

        if (_sessionStartId is not null && ids.Contains(_sessionStartId))
        {
            _sessionStartId = null;
        }
    }

    /// <summary>
    /// Sends what waits: the session start (Alice, until the peer has shown it holds the session),
    /// pending read receipts, and the outbox in order, up to the in-flight limit. Each batch is
    /// encrypted, its ratchet state saved with the batch marked sent, and only then handed out.
    /// </summary>
    private void SendWaiting(DateTimeOffset now)
    {
        var session = _session;
        if (session is null || !session.Ratchet.CanSend)
        {
            return;
        }

        var receipts = _store.PendingReceipts(_contact).Where(r => !_receiptsInFlight.Contains(r.EnvelopeId)).ToList();
        var frames = Preamble(session, receipts, now, out var startId);
        _pendingTyping = -1;
        _sessionStartId ??= startId;
        _receiptsInFlight.UnionWith(receipts.Select(r => r.EnvelopeId));

        // The outbox is read on from the last message taken on this connection, not from its start:
        // what is in flight stays in the outbox until acknowledged, and is not read (and opened) again.
        var room = HeldBack(now) ? 0 : Math.Min(_options.SendBatch, _options.MaxInFlight - _inFlight.Count);
        var sending = room <= 0
            ? []
            : _store.Outbox(_contact, room, _outboxCursor).Where(m => !_inFlight.Contains(m.MessageId)).ToList();
        if (sending.Count > 0)
        {
            _outboxCursor = sending[^1].MessageId;
        }

        foreach (var message in sending)
        {
            frames.Add(Encrypt(session, TextEnvelope(message)));
            _inFlight.Add(message.MessageId);
        }

        if (frames.Count == 0)
        {
            return;
        }

        // One store write: the ratchet state that encrypted the batch, the batch marked sent, and
        // the marks held since the last write.
        var state = session.Encode();
        ConversationMoves moves;
        try
        {
            moves = _store.MarkSent(_contact, [.. sending.Where(m => m.State == MessageState.Queued).Select(m => m.MessageId)], state, _held);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(state);
        }

        _output.Frames.AddRange(frames);
        Written(moves);
        _output.MoreToSend = sending.Count == room;
    }

    private void Publish(IReadOnlyList<string> changed, MessageState state)
    {
        foreach (var id in changed)
        {
            _output.Events.Add(new MessageStateChanged(_contact.Account, id, state));
        }
    }

    private Envelope NewEnvelope(DateTimeOffset now, Action<Envelope> setBody)
    {
        var envelope = new Envelope
        {
            MessageId = ByteString.CopyFrom(NodeWire.NewMessageId()),
            Conversation = ByteString.CopyFrom(_intent.Conversation),
            SenderDevice = ByteString.CopyFrom(_intent.DeviceId),
            Lamport = (ulong)_clock.Tick(),
            SentAt = now.ToUnixTimeMilliseconds(),
        };
        setBody(envelope);
        return envelope;
    }

    private static Receipt Receipt(IEnumerable<ByteString> ids)
    {
        var receipt = new Receipt();
        receipt.MessageIds.AddRange(ids);
        return receipt;
    }

    private static byte[] Encrypt(SessionRecord session, Envelope envelope)
    {
        var plaintext = NodeWire.EncodePadded(envelope);
        try
        {
            return NodeWire.Encode(new NodeFrame { Ratchet = ByteString.CopyFrom(session.Ratchet.Encrypt(plaintext)) });
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }
}
