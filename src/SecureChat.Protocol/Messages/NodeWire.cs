using System.Diagnostics.CodeAnalysis;
using System.Text;
using Google.Protobuf;
using SecureChat.Crypto;
using SecureChat.Protocol.Identity;
using SecureChat.Protocol.Messages.Wire;

namespace SecureChat.Protocol.Messages;

/// <summary>What an envelope carries (the case of its <c>body</c>).</summary>
public enum EnvelopeKind
{
    /// <summary>No body, or one this version does not know (a later kind): ignored, but acknowledged.</summary>
    Unknown = 0,
    SessionStart,
    Text,
    Delivered,
    Read,
    Typing,

    /// <summary>The peer did not store texts of this node's: they wait in the outbox (docs/protocol.md 6.10).</summary>
    Refusal,
}

/// <summary>
/// Encoding and checking of the node protocol's messages (docs/protocol.md section 6): every
/// decoder is total, returning false for any input that is not a well-formed message within the
/// limits, never throwing.
/// </summary>
public static class NodeWire
{
    public const int IdSize = 16;
    public const int MaxTextBytes = 16_000;
    public const int MaxReceiptIds = 1_000;
    public const int RatchetKeySize = 32;

    /// <summary>
    /// The largest Lamport value a conversation uses: 2^53 - 1, the largest integer every JSON
    /// reader (JavaScript's numbers included) and a double hold exactly, well inside SQLite's
    /// signed 64 bits. At one envelope per millisecond it lasts 285,000 years.
    /// </summary>
    public const ulong MaxLamport = (1UL << 53) - 1;

    /// <summary>
    /// How far a peer's Lamport value may run ahead of the receiver's clock for the conversation:
    /// 2^20 (1,048,576). An honest peer is ahead by at most what it wrote that the receiver has
    /// not seen — its outbox for the conversation (100,000 at most by default), receipts and
    /// session starts — so ten times that outbox leaves room. A hostile peer moves the clock by at
    /// most this much per envelope, so it needs 2^33 accepted envelopes to push a conversation to
    /// <see cref="MaxLamport"/>: four days of a flood at 25,000 a second.
    /// </summary>
    public const ulong LamportWindow = 1UL << 20;

    /// <summary>
    /// How far a text's send time may lie ahead of the receiver's clock and still be shown as the
    /// send time: clocks of honest machines differ by seconds, a wrong time zone setting by hours.
    /// A later one is a broken clock or a lie; the message is kept, and its receive time shown.
    /// </summary>
    public static readonly TimeSpan MaxSendTimeAhead = TimeSpan.FromDays(1);

    /// <summary>
    /// True when a peer's Lamport value <paramref name="lamport"/> may be taken, for a conversation
    /// whose clock on this side stands at <paramref name="clock"/>: at most
    /// <see cref="LamportWindow"/> ahead of it, and never beyond <see cref="MaxLamport"/>.
    /// </summary>
    public static bool IsLamportInBounds(ulong lamport, long clock) =>
        lamport <= MaxLamport && lamport <= (ulong)Math.Clamp(clock, 0, (long)MaxLamport) + LamportWindow;

    /// <summary>The longest wait a refusal can ask for that is taken as given; a longer one is cut to this.</summary>
    public static readonly TimeSpan MaxRefusalWait = TimeSpan.FromDays(2);

    /// <summary>A new random 128-bit message ID.</summary>
    public static byte[] NewMessageId() => System.Security.Cryptography.RandomNumberGenerator.GetBytes(IdSize);

    /// <summary>
    /// The conversation of two accounts: the first 16 bytes of BLAKE2b-256 over a label and the two
    /// account keys in byte order, so both sides compute the same value.
    /// </summary>
    public static byte[] Conversation(AccountId one, AccountId other)
    {
        ArgumentNullException.ThrowIfNull(one);
        ArgumentNullException.ThrowIfNull(other);
        var (first, second) = one.PublicKey.SequenceCompareTo(other.PublicKey) <= 0 ? (one, other) : (other, one);
        return Blake2b.Hash256([.. "SecureChat conversation v1"u8, .. first.PublicKey, .. second.PublicKey])[..IdSize];
    }

    /// <summary>A device's ID in envelopes: the first 16 bytes of BLAKE2b-256 over its certificate.</summary>
    public static byte[] DeviceId(DeviceCertificate certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return Blake2b.Hash256(certificate.Encoded)[..IdSize];
    }

    public static byte[] Encode(NodeFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        return frame.ToByteArray();
    }

    public static byte[] Encode(Envelope envelope)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        return envelope.ToByteArray();
    }

    /// <summary>
    /// The envelope as sent inside a ratchet message: its encoding with a <c>padding</c> field
    /// appended that brings it to the next size bucket (<see cref="Messages.Padding"/>), so that
    /// texts of different lengths in one bucket give ciphertexts of one size. Any padding the
    /// envelope already holds is dropped first.
    /// </summary>
    public static byte[] EncodePadded(Envelope envelope)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        var unpadded = envelope.Padding.IsEmpty ? envelope : new Envelope(envelope) { Padding = ByteString.Empty };
        var size = unpadded.CalculateSize();
        var padding = Messages.Padding.EnvelopePadding(size);
        var encoded = new byte[size + padding.Length];
        unpadded.WriteTo(encoded.AsSpan(0, size));
        padding.CopyTo(encoded, size);
        return encoded;
    }

    /// <summary>Parses a frame; false when it is not a frame with exactly one known, well-formed case.</summary>
    public static bool TryParseFrame(ReadOnlySpan<byte> data, [NotNullWhen(true)] out NodeFrame? frame)
    {
        frame = null;
        NodeFrame parsed;
        try
        {
            parsed = NodeFrame.Parser.ParseFrom(data);
        }
        catch (InvalidProtocolBufferException)
        {
            return false;
        }

        var valid = parsed.FrameCase switch
        {
            NodeFrame.FrameOneofCase.Hello => parsed.Hello.ListenPort <= 65535
                && parsed.Hello.SessionId.Length is 0 or IdSize
                && parsed.Hello.RatchetKey.Length == RatchetKeySize,
            NodeFrame.FrameOneofCase.Ratchet => true,
            _ => false,
        };
        if (valid)
        {
            frame = parsed;
        }

        return valid;
    }

    /// <summary>
    /// Parses an envelope and checks its fields: IDs of the right size, a valid send time, text of
    /// valid UTF-8 within the limit, receipts of at most <see cref="MaxReceiptIds"/> 16-byte IDs.
    /// A body of a kind this version does not know is accepted as <see cref="EnvelopeKind.Unknown"/>.
    /// </summary>
    public static bool TryParseEnvelope(ReadOnlySpan<byte> data, [NotNullWhen(true)] out Envelope? envelope)
    {
        envelope = null;
        Envelope parsed;
        try
        {
            parsed = Envelope.Parser.ParseFrom(data);
        }
        catch (InvalidProtocolBufferException)
        {
            return false;
        }

        if (parsed.MessageId.Length != IdSize || parsed.Conversation.Length != IdSize || parsed.SenderDevice.Length != IdSize
            || parsed.SentAt is < -62135596800000 or > 253402300799999)
        {
            return false;
        }

        var valid = parsed.BodyCase switch
        {
            Envelope.BodyOneofCase.Text => IsValidText(parsed.Text.Content),
            Envelope.BodyOneofCase.Delivered => IsValidReceipt(parsed.Delivered),
            Envelope.BodyOneofCase.Read => IsValidReceipt(parsed.Read),
            Envelope.BodyOneofCase.Refusal => parsed.Refusal.MessageId.Length == IdSize,
            _ => true,
        };
        if (valid)
        {
            envelope = parsed;
        }

        return valid;
    }

    public static EnvelopeKind KindOf(Envelope envelope)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        return envelope.BodyCase switch
        {
            Envelope.BodyOneofCase.SessionStart => EnvelopeKind.SessionStart,
            Envelope.BodyOneofCase.Text => EnvelopeKind.Text,
            Envelope.BodyOneofCase.Delivered => EnvelopeKind.Delivered,
            Envelope.BodyOneofCase.Read => EnvelopeKind.Read,
            Envelope.BodyOneofCase.Typing => EnvelopeKind.Typing,
            Envelope.BodyOneofCase.Refusal => EnvelopeKind.Refusal,
            _ => EnvelopeKind.Unknown,
        };
    }

    /// <summary>True when <paramref name="text"/> can be sent: 1 to <see cref="MaxTextBytes"/> bytes of UTF-8 (no lone surrogates).</summary>
    public static bool IsValidText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0 || text.Length > MaxTextBytes)
        {
            return false;
        }

        try
        {
            return new UTF8Encoding(false, true).GetByteCount(text) <= MaxTextBytes;
        }
        catch (EncoderFallbackException)
        {
            return false;
        }
    }

    private static bool IsValidReceipt(Receipt receipt) =>
        receipt.MessageIds.Count <= MaxReceiptIds && receipt.MessageIds.All(id => id.Length == IdSize);
}
