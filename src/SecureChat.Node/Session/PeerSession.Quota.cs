using System.Globalization;
using System.Text;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using SecureChat.Protocol.Messages;
using SecureChat.Protocol.Messages.Wire;
using SecureChat.Storage;

namespace SecureChat.Node.Session;

/// <summary>
/// Quotas (docs/protocol.md 6.10). As receiver: a text over the peer's quota is neither stored nor
/// acknowledged, and the peer is told why and for how long; texts sent after it are refused too,
/// until the peer sends the refused one again, so the conversation keeps its order. As sender: a
/// refusal takes back every text in flight and holds the outbox until the refusal ends, then
/// sends it again from its oldest text.
/// </summary>
internal sealed partial class PeerSession
{
    /// <summary>The shortest wait a refusal can ask for: a peer that asks for none is not hammered.</summary>
    private static readonly TimeSpan MinRefusalWait = TimeSpan.FromSeconds(1);

    /// <summary>The first text refused on this connection; until the peer sends it again, its later texts are refused too.</summary>
    private ByteString? _refusedFrom;

    /// <summary>When a refusal of the peer's that holds the outbox ends; <see cref="DateTimeOffset.MinValue"/> for none.</summary>
    private DateTimeOffset _resumeAt = DateTimeOffset.MinValue;

    /// <summary>
    /// True when a received text may be stored (and is counted against the peer's quota). Otherwise
    /// it is not stored and not acknowledged; <paramref name="refusal"/> is set when the peer must
    /// be told (the first refused text, or the same one again), not for texts it sent before it
    /// could know.
    /// </summary>
    private bool Admit(Envelope envelope, DateTimeOffset now, ref Refusal? refusal)
    {
        if (_refusedFrom is { } first && !first.Equals(envelope.MessageId))
        {
            return false;
        }

        var verdict = _quota.TryTake(_contact, Encoding.UTF8.GetByteCount(envelope.Text.Content), now);
        if (verdict.Admitted)
        {
            _refusedFrom = null;
            return true;
        }

        _refusedFrom = envelope.MessageId;
        var pending = _contact.Standing == ContactStanding.Request;

        // A stranger's request holds its first few texts; the rest wait with the stranger until
        // the person accepts, and are asked for again soon rather than when the day's window moves.
        var wait = pending ? _options.RequestRetry : verdict.RetryAt - now;
        refusal = new Refusal
        {
            Reason = pending ? RefusalReason.RequestPending : verdict.Reason == QuotaReason.Messages ? RefusalReason.MessageQuota : RefusalReason.ByteQuota,
            MessageId = envelope.MessageId,
            RetryAfterMs = (ulong)Math.Max(0, Math.Ceiling(wait.TotalMilliseconds)),
            Limit = (ulong)verdict.Limit,
            WindowSeconds = (ulong)_quota.Window.TotalSeconds,
        };
        if (pending)
        {
            _logger.LogInformation("Holding no more texts from {Contact}: its contact request waits for an answer", _intent.Label);
            return false;
        }

        _logger.LogInformation(
            "Refusing texts from {Contact} until {Until:u}: it reached its quota of {Limit} {Unit} per {Window}",
            _intent.Label, verdict.RetryAt, verdict.Limit, verdict.Reason == QuotaReason.Messages ? "texts" : "bytes", Span(_quota.Window));
        return false;
    }

    /// <summary>Gives back the quota of received texts the store already had (resent duplicates are not counted twice).</summary>
    private void ReturnDuplicates(List<StoredMessage> texts, IReadOnlyList<StoredMessage> added, DateTimeOffset now)
    {
        if (texts.Count == added.Count)
        {
            return;
        }

        var stored = added.Select(m => m.MessageId).ToHashSet(StringComparer.Ordinal);
        foreach (var text in texts.Where(t => !stored.Contains(t.MessageId)))
        {
            _quota.Return(_contact, Encoding.UTF8.GetByteCount(text.Text), now);
        }
    }

    /// <summary>
    /// The peer stored none of the texts from the refused one on: all in flight go back to the
    /// outbox, which is held until the refusal ends and then sent again from its oldest text.
    /// </summary>
    private void Refused(Refusal refusal, DateTimeOffset now)
    {
        var asked = TimeSpan.FromMilliseconds(Math.Min(refusal.RetryAfterMs, (ulong)NodeWire.MaxRefusalWait.TotalMilliseconds));
        var until = now + (asked < MinRefusalWait ? MinRefusalWait : asked);
        _inFlight.Clear();
        _outboxCursor = null;

        var (reason, what) = refusal.Reason switch
        {
            RefusalReason.MessageQuota => ("messages", string.Create(CultureInfo.InvariantCulture, $"at most {refusal.Limit:N0} messages from you per {Span(TimeSpan.FromSeconds(refusal.WindowSeconds))}")),
            RefusalReason.ByteQuota => ("bytes", string.Create(CultureInfo.InvariantCulture, $"at most {refusal.Limit:N0} bytes of text from you per {Span(TimeSpan.FromSeconds(refusal.WindowSeconds))}")),
            RefusalReason.RequestPending => ("request", "your first messages with your contact request, and the rest once its person accepts you"),
            _ => ("limit", "no more messages from you for now"),
        };
        var message = string.Create(CultureInfo.InvariantCulture, $"{_intent.Label} refused your messages: its node takes {what}. They wait in the outbox and are sent again at {until:yyyy-MM-dd HH:mm:ss} UTC.");
        var record = new DeliveryRefusal(_contact.Account, reason, message, until);
        _refusals.Record(record);
        _logger.LogWarning("{Message}", message);
        _output.Events.Add(new DeliveryRefused(record));
    }

    /// <summary>True while a refusal of the peer's holds texts back; <see cref="WakeAt"/> then says when it ends.</summary>
    private bool HeldBack(DateTimeOffset now)
    {
        if (_refusals.HeldUntil(_contact.Account, now) is not { } until)
        {
            _resumeAt = DateTimeOffset.MinValue;
            return false;
        }

        _resumeAt = until;
        return true;
    }

    /// <summary>A window's length in words: "day", "3 hours", "90 seconds".</summary>
    private static string Span(TimeSpan span) => span switch
    {
        { TotalDays: 1 } => "day",
        { TotalHours: 1 } => "hour",
        { TotalMinutes: 1 } => "minute",
        _ when span.TotalDays >= 1 && span.TotalDays % 1 == 0 => $"{span.TotalDays:0} days",
        _ when span.TotalHours >= 1 && span.TotalHours % 1 == 0 => $"{span.TotalHours:0} hours",
        _ when span.TotalMinutes >= 1 && span.TotalMinutes % 1 == 0 => $"{span.TotalMinutes:0} minutes",
        _ => string.Create(CultureInfo.InvariantCulture, $"{span.TotalSeconds:0.###} seconds"),
    };
}
