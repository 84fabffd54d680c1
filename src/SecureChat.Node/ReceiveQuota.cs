using SecureChat.Storage;

namespace SecureChat.Node;

/// <summary>How much of one peer's text a node stores per window (<see cref="NodeOptions.QuotaWindow"/>).</summary>
/// <param name="Messages">Texts per window; 0 stores none.</param>
/// <param name="Bytes">UTF-8 bytes of text per window; the text that crosses it is the last one stored.</param>
public sealed record QuotaLimit(int Messages, long Bytes)
{
    /// <summary>
    /// A contact's default: 5,000 texts and 20 MiB a day. A person typing all day sends a few
    /// hundred; a script pasting the longest texts (16,000 bytes) hits the bytes first, at about 1,300.
    /// </summary>
    public static QuotaLimit ContactDefault { get; } = new(5_000, 20L << 20);

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for a negative limit.</summary>
    public QuotaLimit Checked()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(Messages);
        ArgumentOutOfRangeException.ThrowIfNegative(Bytes);
        return this;
    }
}

/// <summary>Which limit of a <see cref="QuotaLimit"/> a text would have broken.</summary>
public enum QuotaReason
{
    Messages = 1,
    Bytes = 2,
}

/// <summary>
/// What <see cref="ReceiveQuota.TryTake"/> decided: stored (<see cref="Admitted"/>), or refused
/// for <see cref="Reason"/> (with the <see cref="Limit"/> reached) until <see cref="RetryAt"/>.
/// </summary>
public readonly record struct QuotaVerdict(bool Admitted, QuotaReason Reason, long Limit, DateTimeOffset RetryAt)
{
    public static QuotaVerdict Admit { get; } = new(true, QuotaReason.Messages, 0, DateTimeOffset.MinValue);
}

/// <summary>
/// Counts what each peer has had stored, over a sliding window (a day by default), and says
/// whether one more text fits its limit. The limit is a function of the <see cref="Contact"/>, so
/// a peer's standing (a contact, or a stranger's request) decides it; the counts are the peer's,
/// whatever its standing.
/// </summary>
/// <remarks>
/// The window is kept as <see cref="Buckets"/> buckets of window/96 each (15 minutes for a day),
/// so memory per peer is fixed and a refused peer is told to the bucket when enough of its oldest
/// texts leave the window. A text counts at its arrival. The counts live in memory and are seeded,
/// the first time a peer is seen after a start, from what the store holds as received from it
/// within the window (<c>received_at</c>): a restart neither forgets nor double-counts the day.
/// </remarks>
public sealed class ReceiveQuota
{
    /// <summary>How many slices the window is cut into.</summary>
    public const int Buckets = 96;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, PeerWindow> _peers = new(StringComparer.Ordinal);
    private readonly Func<Contact, QuotaLimit> _limitOf;
    private readonly Func<Contact, DateTimeOffset, IReadOnlyList<(DateTimeOffset ReceivedAt, long Bytes)>> _history;
    private readonly long _bucketMs;

    /// <param name="window">The window's length (at least a millisecond per bucket is kept).</param>
    /// <param name="limitOf">The limit of a peer, asked at every text: a change of standing takes effect at once.</param>
    /// <param name="history">What the store holds as received from a peer since a time: its arrival and size.</param>
    public ReceiveQuota(TimeSpan window, Func<Contact, QuotaLimit> limitOf, Func<Contact, DateTimeOffset, IReadOnlyList<(DateTimeOffset ReceivedAt, long Bytes)>> history)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(window, TimeSpan.FromMilliseconds(1));
        ArgumentNullException.ThrowIfNull(limitOf);
        ArgumentNullException.ThrowIfNull(history);
        _limitOf = limitOf;
        _history = history;
        _bucketMs = Math.Max(1, (long)window.TotalMilliseconds / Buckets);
        Window = TimeSpan.FromMilliseconds(_bucketMs * Buckets);
    }

    /// <summary>The window's length, as kept (a multiple of <see cref="Buckets"/> milliseconds).</summary>
    public TimeSpan Window { get; }

    /// <summary>The limit that applies to <paramref name="contact"/> now.</summary>
    public QuotaLimit LimitOf(Contact contact) => _limitOf(contact).Checked();

    /// <summary>
    /// Counts one text of <paramref name="bytes"/> from <paramref name="contact"/> arriving at
    /// <paramref name="now"/> if it fits: fewer texts than the limit, and fewer bytes, are counted
    /// in the window. Otherwise counts nothing and says why and from when a text fits again.
    /// </summary>
    public QuotaVerdict TryTake(Contact contact, long bytes, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(contact);
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        var limit = LimitOf(contact);
        lock (_lock)
        {
            var window = WindowOf(contact, now);
            var bucket = window.Advance(BucketOf(now));
            if (window.Fits(bucket, limit, out var reason))
            {
                window.Add(bucket, 1, bytes);
                return QuotaVerdict.Admit;
            }

            var frees = window.FreesAt(bucket, limit);
            var retryAt = frees is { } b ? DateTimeOffset.FromUnixTimeMilliseconds(b * _bucketMs) : now + Window;
            return new QuotaVerdict(false, reason, reason == QuotaReason.Messages ? limit.Messages : limit.Bytes, retryAt);
        }
    }

    /// <summary>Takes back a text counted at <paramref name="takenAt"/> that was not stored after all (it was a duplicate).</summary>
    public void Return(Contact contact, long bytes, DateTimeOffset takenAt)
    {
        ArgumentNullException.ThrowIfNull(contact);
        lock (_lock)
        {
            if (_peers.TryGetValue(contact.Account, out var window))
            {
                window.Remove(BucketOf(takenAt), 1, bytes);
            }
        }
    }

    /// <summary>What is counted for <paramref name="contact"/> in the window ending at <paramref name="now"/>.</summary>
    public (long Messages, long Bytes) Usage(Contact contact, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(contact);
        lock (_lock)
        {
            var window = WindowOf(contact, now);
            var bucket = window.Advance(BucketOf(now));
            return window.Totals(bucket);
        }
    }

    /// <summary>Drops the counts of a peer (it was removed; a new one of the same account starts from the store).</summary>
    public void Forget(Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        lock (_lock)
        {
            _peers.Remove(contact.Account);
        }
    }

    private long BucketOf(DateTimeOffset time) => (long)Math.Floor(time.ToUnixTimeMilliseconds() / (double)_bucketMs);

    private PeerWindow WindowOf(Contact contact, DateTimeOffset now)
    {
        if (_peers.TryGetValue(contact.Account, out var window))
        {
            return window;
        }

        var current = BucketOf(now);
        window = new PeerWindow(current);
        var since = DateTimeOffset.FromUnixTimeMilliseconds((current - Buckets + 1) * _bucketMs);
        foreach (var (receivedAt, bytes) in _history(contact, since))
        {
            window.Add(BucketOf(receivedAt), 1, bytes);
        }

        _peers[contact.Account] = window;
        return window;
    }

    /// <summary>One peer's counts: a ring of <see cref="Buckets"/> slots, the newest at <see cref="_latest"/>.</summary>
    private sealed class PeerWindow(long latest)
    {
        private readonly long[] _messages = new long[Buckets];
        private readonly long[] _bytes = new long[Buckets];
        private long _latest = latest;

        /// <summary>Moves the window to end at <paramref name="bucket"/> (never back: a clock set back does not reopen old slots); returns where it ends.</summary>
        public long Advance(long bucket)
        {
            if (bucket <= _latest)
            {
                return _latest;
            }

            for (var b = Math.Max(_latest + 1, bucket - Buckets + 1); b <= bucket; b++)
            {
                _messages[Slot(b)] = 0;
                _bytes[Slot(b)] = 0;
            }

            _latest = bucket;
            return _latest;
        }

        public void Add(long bucket, long messages, long bytes)
        {
            if (bucket > _latest)
            {
                Advance(bucket);
            }

            if (bucket > _latest - Buckets)
            {
                _messages[Slot(bucket)] += messages;
                _bytes[Slot(bucket)] += bytes;
            }
        }

        public void Remove(long bucket, long messages, long bytes)
        {
            // Taken back right after it was taken: at the newest slot, even if the clock moved back meanwhile.
            bucket = Math.Min(bucket, _latest);
            if (bucket > _latest - Buckets)
            {
                _messages[Slot(bucket)] = Math.Max(0, _messages[Slot(bucket)] - messages);
                _bytes[Slot(bucket)] = Math.Max(0, _bytes[Slot(bucket)] - bytes);
            }
        }

        public (long Messages, long Bytes) Totals(long bucket)
        {
            long messages = 0, bytes = 0;
            for (var b = bucket - Buckets + 1; b <= bucket; b++)
            {
                messages += _messages[Slot(b)];
                bytes += _bytes[Slot(b)];
            }

            return (messages, bytes);
        }

        public bool Fits(long bucket, QuotaLimit limit, out QuotaReason reason)
        {
            var (messages, bytes) = Totals(bucket);
            reason = messages >= limit.Messages ? QuotaReason.Messages : QuotaReason.Bytes;
            return messages < limit.Messages && bytes < limit.Bytes;
        }

        /// <summary>The bucket from whose start one more text fits, as the oldest slots leave the window; null when none would (a limit of 0).</summary>
        public long? FreesAt(long bucket, QuotaLimit limit)
        {
            if (limit.Messages == 0 || limit.Bytes == 0)
            {
                return null;
            }

            var (messages, bytes) = Totals(bucket);
            for (var b = bucket - Buckets + 1; b <= bucket; b++)
            {
                messages -= _messages[Slot(b)];
                bytes -= _bytes[Slot(b)];
                if (messages < limit.Messages && bytes < limit.Bytes)
                {
                    // Slot b leaves the window when the window ends at b + Buckets.
                    return b + Buckets;
                }
            }

            return bucket + 1;
        }

        private static int Slot(long bucket) => (int)(((bucket % Buckets) + Buckets) % Buckets);
    }
}
