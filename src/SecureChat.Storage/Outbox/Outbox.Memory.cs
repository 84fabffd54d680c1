using Microsoft.Data.Sqlite;

namespace SecureChat.Storage;

/// <summary>
/// The texts this process queued, kept in memory while they are in the outbox, so a connection
/// takes them without reading and unsealing them again. Everything here is guarded by the store's
/// lock, and is only ever a copy of committed rows: dropping any of it at any time costs a read,
/// never a message.
/// </summary>
public sealed partial class Outbox
{
    /// <summary>Per conversation (contact row): the end of its outbox that is in memory.</summary>
    private readonly Dictionary<long, OutboxTail> _tails = [];
    private long _memoryUsed;
    private long _dataVersion = -1;
    private SqliteCommand? _dataVersionQuery;

    /// <summary>
    /// How many bytes of text (UTF-16, as held) the memory keeps over all conversations; beyond it
    /// the oldest of a conversation are left to the store. 8 MiB by default: a few thousand texts,
    /// far more than a connection has in flight.
    /// </summary>
    public long MemoryBudget { get; set; } = 8 << 20;

    /// <summary>
    /// Another connection to the database (another process) committed since the last look
    /// (<c>PRAGMA data_version</c>, which this connection's own commits do not change): what the
    /// memory holds may no longer be the whole end of an outbox, so it is dropped.
    /// </summary>
    private void Refresh(SqliteConnection connection)
    {
        if (_dataVersionQuery is null)
        {
            _dataVersionQuery = connection.CreateCommand();
            _dataVersionQuery.CommandText = "PRAGMA data_version";
        }

        _dataVersionQuery.Transaction = _writing;
        var version = (long)_dataVersionQuery.ExecuteScalar()!;
        if (version != _dataVersion)
        {
            _dataVersion = version;
            ForgetMemory();
        }
    }

    /// <summary>Newly committed outbox rows of a conversation join its end in memory, within the budget.</summary>
    private void Remember(long contactId, List<long> rows, IReadOnlyList<StoredMessage> messages)
    {
        if (!_tails.TryGetValue(contactId, out var tail))
        {
            // Every outbox row from the first one written now on is this process's: the store
            // holds only older ones, and Take reads those from it.
            tail = new OutboxTail(rows[0]);
            _tails[contactId] = tail;
        }

        for (var i = 0; i < rows.Count; i++)
        {
            _memoryUsed += tail.Append(rows[i], messages[i]);
        }

        while (_memoryUsed > MemoryBudget && tail.Count > 0)
        {
            _memoryUsed -= tail.DropOldest();
        }

        if (_memoryUsed > MemoryBudget)
        {
            // Other conversations hold the memory: this one is read from the store after its last row.
            _memoryUsed -= tail.DropAll(rows[^1] + 1);
        }
    }

    /// <summary>Messages moved to a new state: those still in the outbox are updated, the others leave the memory.</summary>
    private void Moved(long contactId, List<string> changed, MessageState state)
    {
        if (state >= MessageState.Delivered && _counts.TryGetValue(contactId, out var count))
        {
            // Read may also move delivered messages (already out of the outbox): count again next time.
            if (state == MessageState.Delivered)
            {
                _counts[contactId] = Math.Max(0, count - changed.Count);
            }
            else
            {
                _counts.Remove(contactId);
            }
        }

        if (changed.Count == 0 || !_tails.TryGetValue(contactId, out var tail))
        {
            return;
        }

        foreach (var id in changed)
        {
            _memoryUsed -= tail.Move(id, state);
        }
    }

    /// <summary>Rows of a conversation were written or changed outside this type (imports, the history's own writes): its memory and count go.</summary>
    internal void ConversationChanged(long contactId)
    {
        if (_tails.Remove(contactId, out var tail))
        {
            _memoryUsed -= tail.DropAll(long.MaxValue);
        }

        _counts.Remove(contactId);
    }

    /// <summary>A contact was removed (or blocked, which empties its conversation): its memory, count and clock go.</summary>
    internal void ConversationRemoved(long contactId, string account)
    {
        ConversationChanged(contactId);
        _handlers.Remove(contactId);
        ForgetClock(account);
    }

    /// <summary>Drops every conversation's memory and count (under the store's lock).</summary>
    internal void ForgetMemory()
    {
        _tails.Clear();
        _memoryUsed = 0;
        ForgetCounts();
    }

    /// <summary>
    /// The end of one conversation's outbox, in memory: every outbox row of the conversation from
    /// <see cref="CoveredFrom"/> on is here, in row order, and nothing before it is. Removing the
    /// oldest entries (raising <see cref="CoveredFrom"/>) keeps that true, so the budget can be kept
    /// by dropping from the front.
    /// </summary>
    private sealed class OutboxTail(long coveredFrom)
    {
        private readonly List<Entry> _entries = [];
        private readonly Dictionary<string, int> _positions = new(StringComparer.Ordinal);
        private int _start;

        public long CoveredFrom { get; private set; } = coveredFrom;

        public int Count => _positions.Count;

        /// <summary>The row of a message held here, or null.</summary>
        public long? RowOf(string messageId) =>
            _positions.TryGetValue(messageId.ToLowerInvariant(), out var at) ? _entries[at].Row : null;

        /// <summary>Adds a committed row after the others; returns the bytes it holds.</summary>
        public long Append(long row, StoredMessage message)
        {
            _positions[message.MessageId] = _entries.Count;
            _entries.Add(new Entry(row, message));
            return Size(message);
        }

        /// <summary>Up to <paramref name="limit"/> messages after row <paramref name="afterRow"/>, oldest first.</summary>
        public void CopyAfter(long afterRow, int limit, Contact contact, List<StoredMessage> page)
        {
            if (limit <= 0)
            {
                return;
            }

            var at = FirstAfter(afterRow);
            for (; at < _entries.Count && limit > 0; at++)
            {
                if (_entries[at].Message is { } message)
                {
                    // The contact's current name: a rename since queueing shows, as in the store.
                    page.Add(message.ContactName == contact.Name ? message : message with { ContactName = contact.Name });
                    limit--;
                }
            }
        }

        /// <summary>A message changed state: kept with its new state while it is in the outbox; returns the bytes freed.</summary>
        public long Move(string messageId, MessageState state)
        {
            if (!_positions.TryGetValue(messageId, out var at))
            {
                return 0;
            }

            var message = _entries[at].Message!;
            if (state < MessageState.Delivered)
            {
                _entries[at] = _entries[at] with { Message = message with { State = state } };
                return 0;
            }

            _entries[at] = _entries[at] with { Message = null };
            _positions.Remove(messageId);
            SkipGone();
            return Size(message);
        }

        /// <summary>Forgets the oldest message held (it is read from the store from now on); returns the bytes freed.</summary>
        public long DropOldest()
        {
            var entry = _entries[_start];
            _entries[_start] = entry with { Message = null };
            _positions.Remove(entry.Message!.MessageId);
            SkipGone();
            CoveredFrom = _start < _entries.Count ? _entries[_start].Row : entry.Row + 1;
            return Size(entry.Message);
        }

        /// <summary>Forgets everything held; the store serves every row before <paramref name="coveredFrom"/>. Returns the bytes freed.</summary>
        public long DropAll(long coveredFrom)
        {
            var freed = _entries.Where(e => e.Message is not null).Sum(e => Size(e.Message!));
            _entries.Clear();
            _positions.Clear();
            _start = 0;
            CoveredFrom = coveredFrom;
            return freed;
        }

        /// <summary>The first entry whose row is after <paramref name="row"/> (entries are in row order).</summary>
        private int FirstAfter(long row)
        {
            int low = _start, high = _entries.Count;
            while (low < high)
            {
                var middle = low + ((high - low) / 2);
                if (_entries[middle].Row <= row)
                {
                    low = middle + 1;
                }
                else
                {
                    high = middle;
                }
            }

            return low;
        }

        /// <summary>
        /// Moves the start past messages gone from the front, and compacts the list once more of it
        /// is gone than held (messages are acknowledged out of order too).
        /// </summary>
        private void SkipGone()
        {
            while (_start < _entries.Count && _entries[_start].Message is null)
            {
                _start++;
            }

            if (_entries.Count - _positions.Count > Math.Max(64, _positions.Count))
            {
                _entries.RemoveAll(e => e.Message is null);
                _start = 0;
                for (var i = 0; i < _entries.Count; i++)
                {
                    _positions[_entries[i].Message!.MessageId] = i;
                }
            }
        }

        private static long Size(StoredMessage message) => (message.Text.Length * 2L) + 128;

        private readonly record struct Entry(long Row, StoredMessage? Message);
    }
}
