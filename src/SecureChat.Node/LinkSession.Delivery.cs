using System.Security.Cryptography;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Messages;
using SecureChat.Protocol.Messages.Wire;
using SecureChat.Protocol.Ratchet;
using SecureChat.Storage;

namespace SecureChat.Node;

/// <summary>
/// Delivery: every ratchet message is encrypted under a state that is on disk before the message
/// leaves, and a received text is acknowledged only after it is stored, in the same transaction as
/// the ratchet state that decrypted it.
/// </summary>
internal sealed partial class LinkSession
{
    /// <summary>Decrypts and handles a batch of frames, stores what they carry, and acknowledges it.</summary>
    private void Receive(List<byte[]> frames)
    {
        var session = _session!;
        var now = _node.Options.Time.GetUtcNow();
        var texts = new List<StoredMessage>();
        var acknowledge = new List<ByteString>();
        var delivered = new List<string>();
        var read = new List<string>();
        Refusal? refusal = null;
        Refusal? refused = null;
        var conversation = _link.Conversation;
        foreach (var frame in frames)
        {
            if (!NodeWire.TryParseFrame(frame, out var parsed) || parsed.FrameCase != NodeFrame.FrameOneofCase.Ratchet)
            {
                throw new NodeProtocolException(CloseReason.ProtocolViolation, "a frame after the hello was not a ratchet message");
            }

            var result = session.Ratchet.TryDecrypt(parsed.Ratchet.Span, now, out var plaintext);
            if (result != RatchetError.None)
            {
                // The channel authenticated these bytes as the peer's, so the two ratchets are out
                // of step (a restored backup, a lost disk write): forget the session; the next
                // connection starts a new one and the outbox is sent again under it.
                _node.ForgetSession(_contact);
                _session = null;
                session.Dispose();
                throw new NodeProtocolException(CloseReason.ProtocolViolation, $"the ratchet sessions are out of step ({result}); a new one starts on the next connection");
            }

            session.PeerConfirmed = true;
            var valid = NodeWire.TryParseEnvelope(plaintext, out var envelope) && envelope.Conversation.Span.SequenceEqual(conversation);
            CryptographicOperations.ZeroMemory(plaintext);
            if (!valid)
            {
                throw new NodeProtocolException(CloseReason.ProtocolViolation, "an envelope was malformed or named another conversation");
            }

            if (!_link.TryWitness(envelope!.Lamport, out var limit))
            {
                // Refused before anything of the batch is stored or acknowledged: the peer keeps
                // what it sent, and nothing is lost if it was a bug that a later version fixes.
                // The sentence also goes to the peer in the CLOSE frame, so it fits in its 200 bytes.
                throw new NodeProtocolException(
                    CloseReason.ProtocolViolation,
                    $"the envelope's Lamport value {envelope.Lamport} is beyond this conversation's bound of {limit} (2^20 past this side's clock, at most 2^53 - 1): refused, not stored, not acknowledged");
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
                    _node.Events.Publish(new TypingChanged(_contact.Account, envelope.Typing.Active));
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
            ? Encrypt(session, NewEnvelope(body => body.Delivered = Receipt(acknowledge)))
            : null;
        var refusalFrame = refusal is not null && session.Ratchet.CanSend ? Encrypt(session, NewEnvelope(body => body.Refusal = refusal)) : null;
        var state = session.Encode();
        IReadOnlyList<StoredMessage> added;
        try
        {
            added = _node.Store.Messages.Receive(_contact, texts, state);
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

        ReturnDuplicates(texts, added, now);
        if (acknowledgement is not null)
        {
            Enqueue(acknowledgement);
        }

        if (refusalFrame is not null)
        {
            Enqueue(refusalFrame);
        }

        _node.AnnounceReceived(_contact, added);

        if (delivered.Count > 0)
        {
            Acknowledged(delivered);
        }

        if (read.Count > 0)
        {
            Publish(_node.Store.Messages.Advance(_contact, read, MessageState.Read), MessageState.Read);
        }

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
        var claimed = DateTimeOffset.FromUnixTimeMilliseconds(sentAtMilliseconds);
        if (claimed <= now + NodeWire.MaxSendTimeAhead)
        {
            return claimed;
        }

        _logger.LogInformation("A message from {Contact} claims to be sent at {SentAt:u}, more than a day ahead of this node's clock: it is kept with its receive time", _link.Label, claimed);
        return now;
    }

    /// <summary>The peer stored these: texts are delivered, read receipts and the session start are done.</summary>
    private void Acknowledged(List<string> ids)
    {
        Publish(_node.Store.Messages.Advance(_contact, ids, MessageState.Delivered), MessageState.Delivered);

        // The peer acknowledges on the connection that carried the envelope, so only read receipts
        // sent on this one can be among the IDs: the store is asked about those alone.
        var receipts = ids.Where(_receiptsInFlight.Remove).ToList();
        if (receipts.Count > 0)
        {
            _node.Store.Receipts.Acknowledge(receipts);
        }

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
    /// encrypted, its ratchet state saved, and only then handed to the writer.
    /// </summary>
    private void Pump()
    {
        var session = _session;
        if (session is null || !session.Ratchet.CanSend)
        {
            return;
        }

        var frames = new List<byte[]>();
        if (Interlocked.Exchange(ref _pendingTyping, -1) is var typing and >= 0)
        {
            frames.Add(Encrypt(session, NewEnvelope(body => body.Typing = new Typing { Active = typing == 1 })));
        }

        if (!session.PeerConfirmed && _sessionStartId is null)
        {
            var start = NewEnvelope(body => body.SessionStart = new SessionStart());
            _sessionStartId = Convert.ToHexStringLower(start.MessageId.Span);
            frames.Add(Encrypt(session, start));
        }

        foreach (var receipt in _node.Store.Receipts.Pending(_contact).Where(r => !_receiptsInFlight.Contains(r.EnvelopeId)))
        {
            var envelope = NewEnvelope(body => body.Read = Receipt(receipt.MessageIds.Select(id => ByteString.CopyFrom(Convert.FromHexString(id)))));
            envelope.MessageId = ByteString.CopyFrom(Convert.FromHexString(receipt.EnvelopeId));
            frames.Add(Encrypt(session, envelope));
            _receiptsInFlight.Add(receipt.EnvelopeId);
        }

        // The outbox is read on from the last message taken on this connection, not from its start:
        // what is in flight stays in the outbox until acknowledged, and is not read (and opened) again.
        var room = HeldBack(_node.Options.Time.GetUtcNow()) ? 0 : Math.Min(_node.Options.SendBatch, _node.Options.MaxInFlight - _inFlight.Count);
        var sending = room <= 0
            ? []
            : _node.Store.Messages.Outbox(_contact, room, _outboxCursor).Where(m => !_inFlight.Contains(m.MessageId)).ToList();
        if (sending.Count > 0)
        {
            _outboxCursor = sending[^1].MessageId;
        }
        foreach (var message in sending)
        {
            var envelope = new Envelope
            {
                MessageId = ByteString.CopyFrom(Convert.FromHexString(message.MessageId)),
                Conversation = ByteString.CopyFrom(_link.Conversation),
                SenderDevice = ByteString.CopyFrom(_node.DeviceId),
                Lamport = (ulong)message.Lamport,
                SentAt = message.SentAt.ToUnixTimeMilliseconds(),
                Text = new Text { Content = message.Text },
            };
            frames.Add(Encrypt(session, envelope));
            _inFlight.Add(message.MessageId);
        }

        if (frames.Count == 0)
        {
            return;
        }

        // One transaction: the ratchet state that encrypted the batch, and the batch marked sent.
        var state = session.Encode();
        IReadOnlyList<string> marked;
        try
        {
            marked = _node.Store.Messages.MarkSent(_contact, sending.Where(m => m.State == MessageState.Queued).Select(m => m.MessageId), state);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(state);
        }

        foreach (var frame in frames)
        {
            Enqueue(frame);
        }

        Publish(marked, MessageState.Sent);

        if (sending.Count == room)
        {
            // A full batch: there may be more; come back after what has arrived meanwhile.
            Kick();
        }
    }

    /// <summary>Sends a typing notice (not stored, not acknowledged) with the next batch.</summary>
    public void SendTyping(bool active)
    {
        Volatile.Write(ref _pendingTyping, active ? 1 : 0);
        Kick();
    }

    private void Publish(IReadOnlyList<string> changed, MessageState state)
    {
        foreach (var id in changed)
        {
            _node.Events.Publish(new MessageStateChanged(_contact.Account, id, state));
        }
    }

    private Envelope NewEnvelope(Action<Envelope> setBody)
    {
        var envelope = new Envelope
        {
            MessageId = ByteString.CopyFrom(NodeWire.NewMessageId()),
            Conversation = ByteString.CopyFrom(_link.Conversation),
            SenderDevice = ByteString.CopyFrom(_node.DeviceId),
            Lamport = (ulong)_link.Tick(),
            SentAt = _node.Options.Time.GetUtcNow().ToUnixTimeMilliseconds(),
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
