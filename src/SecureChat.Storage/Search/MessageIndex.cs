namespace SecureChat.Storage.Search;

/// <summary>
/// The search index, held in memory only and built at unlock from the decrypted messages, so no
/// word ever reaches the disk. Messages are numbered in storage order (oldest first); a query
/// walks candidates newest first and stops as soon as it has enough.
/// </summary>
/// <remarks>
/// Per term, a posting list of message numbers (ascending, because messages arrive in order). Per
/// message, its term numbers and its conversation, to check the other words of a query without
/// decrypting anything. Prefixes are found by binary search in the sorted terms, kept in two tiers
/// so that a flood of new words costs neither the receiver nor the next search a sort of every
/// term: the terms in one sorted array, built at the first query, and the terms added since in a
/// list that is appended to, sorted when a query needs it, and merged into the array in one linear
/// pass when it holds more than a quarter as many. Merges come once per 25 % of growth, so each
/// term is moved a handful of times in all. (Inserting each new term into one sorted list of all
/// of them moved O(n) references a term: 600 texts of 1,500 unique words each took 189 s to store.)
/// </remarks>
internal sealed class MessageIndex
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _termIds = new(StringComparer.Ordinal);
    private readonly List<string> _terms = [];
    private readonly List<List<int>> _postings = [];
    private readonly List<long> _rowIds = [];
    private readonly List<long> _contactIds = [];
    private readonly List<int[]> _messageTerms = [];

    /// <summary>The terms known when it was last built or merged, in ordinal order; null until the first query.</summary>
    private string[]? _sorted;

    /// <summary>The terms added since <see cref="_sorted"/> was built or merged; in ordinal order when <see cref="_recentSorted"/>.</summary>
    private readonly List<string> _recent = [];
    private bool _recentSorted = true;

    /// <summary>How many term references were written into the sorted array (its build and every merge): the work a flood of new words costs, counted.</summary>
    internal long SortedWrites { get; private set; }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _rowIds.Count;
            }
        }
    }

    /// <summary>The newest row indexed (0 when empty).</summary>
    public long LastRowId
    {
        get
        {
            lock (_lock)
            {
                return _rowIds.Count > 0 ? _rowIds[^1] : 0;
            }
        }
    }

    /// <summary>
    /// The index as bytes, to be sealed. Every integer is a 7-bit varint: the number of terms; per
    /// term its UTF-8 length, bytes and posting count; the number of messages; per message its row,
    /// conversation, term count and term numbers. Posting counts let a reader size every list
    /// once. Forgotten conversations are left out.
    /// </summary>
    public byte[] Serialize()
    {
        lock (_lock)
        {
            var kept = Enumerable.Range(0, _rowIds.Count).Where(i => _contactIds[i] >= 0).ToList();
            var counts = new int[_terms.Count];
            foreach (var i in kept)
            {
                foreach (var term in _messageTerms[i])
                {
                    counts[term]++;
                }
            }

            using var stream = new MemoryStream();
            using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8);
            writer.Write7BitEncodedInt(_terms.Count);
            for (var t = 0; t < _terms.Count; t++)
            {
                var bytes = System.Text.Encoding.UTF8.GetBytes(_terms[t]);
                writer.Write7BitEncodedInt(bytes.Length);
                writer.Write(bytes);
                writer.Write7BitEncodedInt(counts[t]);
            }

            writer.Write7BitEncodedInt(kept.Count);
            foreach (var i in kept)
            {
                writer.Write7BitEncodedInt64(_rowIds[i]);
                writer.Write7BitEncodedInt64(_contactIds[i]);
                writer.Write7BitEncodedInt(_messageTerms[i].Length);
                foreach (var term in _messageTerms[i])
                {
                    writer.Write7BitEncodedInt(term);
                }
            }

            writer.Flush();
            return stream.ToArray();
        }
    }

    /// <summary>Rebuilds an index from <see cref="Serialize"/>'s bytes; null for anything malformed.</summary>
    public static MessageIndex? TryDeserialize(ReadOnlySpan<byte> bytes, IReadOnlySet<long> conversations)
    {
        var reader = new VarintReader(bytes);
        var index = new MessageIndex();
        if (!reader.TryReadInt(out var termCount))
        {
            return null;
        }

        // Counts size lists before their items are read, so each is held to what the bytes left
        // can hold: a posting is a term number in a message (a byte at least), a message three.
        long postingTotal = 0;

        for (var i = 0; i < termCount; i++)
        {
            if (!reader.TryReadInt(out var length) || !reader.TryReadBytes(length, out var utf8) || !reader.TryReadInt(out var postings))
            {
                return null;
            }

            postingTotal += postings;
            if (postingTotal > reader.Remaining)
            {
                return null;
            }

            var term = System.Text.Encoding.UTF8.GetString(utf8);
            if (!index._termIds.TryAdd(term, i))
            {
                return null;
            }

            index._terms.Add(term);
            index._postings.Add(new List<int>(postings));
        }

        if (!reader.TryReadInt(out var messages) || messages > reader.Remaining / 3)
        {
            return null;
        }

        index._rowIds.Capacity = index._contactIds.Capacity = index._messageTerms.Capacity = messages;
        var last = 0L;
        for (var m = 0; m < messages; m++)
        {
            if (!reader.TryReadLong(out var row) || !reader.TryReadLong(out var contact) || !reader.TryReadInt(out var count) || count > reader.Remaining || row <= last)
            {
                return null;
            }

            var ids = new int[count];
            for (var t = 0; t < ids.Length; t++)
            {
                if (!reader.TryReadInt(out ids[t]) || (uint)ids[t] >= (uint)termCount)
                {
                    return null;
                }

                index._postings[ids[t]].Add(m);
            }

            last = row;
            index._rowIds.Add(row);
            index._contactIds.Add(conversations.Contains(contact) ? contact : -1);
            index._messageTerms.Add(ids);
        }

        return reader.AtEnd ? index : null;
    }

    /// <summary>Reads .NET's 7-bit varints from a span; every read says whether it succeeded.</summary>
    private ref struct VarintReader(ReadOnlySpan<byte> bytes)
    {
        private readonly ReadOnlySpan<byte> _bytes = bytes;
        private int _position;

        public readonly bool AtEnd => _position == _bytes.Length;

        public readonly int Remaining => _bytes.Length - _position;

        public bool TryReadInt(out int value)
        {
            var ok = TryReadLong(out var wide) && wide is >= 0 and <= int.MaxValue;
            value = ok ? (int)wide : 0;
            return ok;
        }

        public bool TryReadLong(out long value)
        {
            value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                if (_position >= _bytes.Length)
                {
                    return false;
                }

                var b = _bytes[_position++];
                value |= (long)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return true;
                }
            }

            return false;
        }

        public bool TryReadBytes(int length, out ReadOnlySpan<byte> bytes)
        {
            var ok = length <= _bytes.Length - _position;
            bytes = ok ? _bytes.Slice(_position, length) : default;
            _position += ok ? length : 0;
            return ok;
        }
    }

    /// <summary>Adds a message; rows must come in increasing row order.</summary>
    public void Add(long rowId, long contactId, IReadOnlyList<string> terms)
    {
        lock (_lock)
        {
            var number = _rowIds.Count;
            _rowIds.Add(rowId);
            _contactIds.Add(contactId);
            var ids = new int[terms.Count];
            for (var i = 0; i < terms.Count; i++)
            {
                if (!_termIds.TryGetValue(terms[i], out var id))
                {
                    id = _terms.Count;
                    _termIds.Add(terms[i], id);
                    _terms.Add(terms[i]);
                    _postings.Add([]);
                    if (_sorted is not null)
                    {
                        AddRecent(terms[i]);
                    }
                }

                _postings[id].Add(number);
                ids[i] = id;
            }

            _messageTerms.Add(ids);
        }
    }

    /// <summary>Forgets the messages of a conversation (its contact was removed).</summary>
    public void RemoveContact(long contactId)
    {
        lock (_lock)
        {
            for (var i = 0; i < _contactIds.Count; i++)
            {
                if (_contactIds[i] == contactId)
                {
                    _contactIds[i] = -1;
                }
            }
        }
    }

    /// <summary>
    /// Row IDs of the newest messages that contain, for every query term, a word starting with it;
    /// newest first, at most <paramref name="limit"/>.
    /// </summary>
    public List<long> Query(IReadOnlyList<string> queryTerms, long? contactId, int limit)
    {
        var found = new List<long>();
        if (queryTerms.Count == 0)
        {
            return found;
        }

        lock (_lock)
        {
            var matching = queryTerms.Select(MatchingTerms).ToList();
            if (matching.Any(m => m.Count == 0))
            {
                return found;
            }

            // Drive the walk with the rarest query term; check the others on each candidate.
            var driver = matching.MinBy(m => m.Sum(t => _postings[t].Count))!;
            var others = matching.Where(m => !ReferenceEquals(m, driver)).Select(m => m.ToHashSet()).ToList();
            foreach (var number in NewestFirst(driver))
            {
                if ((contactId is { } wanted ? _contactIds[number] != wanted : _contactIds[number] < 0)
                    || !others.All(set => _messageTerms[number].Any(set.Contains)))
                {
                    continue;
                }

                found.Add(_rowIds[number]);
                if (found.Count == limit)
                {
                    break;
                }
            }
        }

        return found;
    }

    /// <summary>The term numbers of every indexed word that starts with <paramref name="prefix"/>.</summary>
    private List<int> MatchingTerms(string prefix)
    {
        if (_sorted is null)
        {
            _sorted = [.. _terms];
            Array.Sort(_sorted, StringComparer.Ordinal);
            SortedWrites += _sorted.Length;
        }

        var ids = new List<int>();
        var first = Array.BinarySearch(_sorted, prefix, StringComparer.Ordinal);
        for (var i = first < 0 ? ~first : first; i < _sorted.Length && _sorted[i].StartsWith(prefix, StringComparison.Ordinal); i++)
        {
            ids.Add(_termIds[_sorted[i]]);
        }

        SortRecent();
        first = _recent.BinarySearch(prefix, StringComparer.Ordinal);
        for (var i = first < 0 ? ~first : first; i < _recent.Count && _recent[i].StartsWith(prefix, StringComparison.Ordinal); i++)
        {
            ids.Add(_termIds[_recent[i]]);
        }

        return ids;
    }

    /// <summary>Puts a new term in the recent tier; merges the tier into the sorted array when it holds more than a quarter as many.</summary>
    private void AddRecent(string term)
    {
        _recent.Add(term);
        _recentSorted = false;
        if (_recent.Count <= Math.Max(4096, _sorted!.Length / 4))
        {
            return;
        }

        SortRecent();
        var merged = new string[_sorted.Length + _recent.Count];
        int a = 0, b = 0, m = 0;
        while (a < _sorted.Length && b < _recent.Count)
        {
            merged[m++] = string.CompareOrdinal(_sorted[a], _recent[b]) <= 0 ? _sorted[a++] : _recent[b++];
        }

        Array.Copy(_sorted, a, merged, m, _sorted.Length - a);
        m += _sorted.Length - a;
        _recent.CopyTo(b, merged, m, _recent.Count - b);
        _sorted = merged;
        SortedWrites += merged.Length;
        _recent.Clear();
    }

    private void SortRecent()
    {
        if (!_recentSorted)
        {
            _recent.Sort(StringComparer.Ordinal);
            _recentSorted = true;
        }
    }

    /// <summary>The union of the terms' posting lists, newest message first, each message once.</summary>
    private IEnumerable<int> NewestFirst(List<int> termIds)
    {
        if (termIds.Count == 1)
        {
            var only = _postings[termIds[0]];
            for (var i = only.Count - 1; i >= 0; i--)
            {
                yield return only[i];
            }

            yield break;
        }

        // A k-way merge from the ends of the posting lists.
        var heads = new PriorityQueue<(int List, int Index), int>(Comparer<int>.Create((a, b) => b.CompareTo(a)));
        foreach (var id in termIds)
        {
            var list = _postings[id];
            if (list.Count > 0)
            {
                heads.Enqueue((id, list.Count - 1), list[^1]);
            }
        }

        var last = -1;
        while (heads.TryDequeue(out var head, out var number))
        {
            if (number != last)
            {
                yield return number;
                last = number;
            }

            if (head.Index > 0)
            {
                heads.Enqueue((head.List, head.Index - 1), _postings[head.List][head.Index - 1]);
            }
        }
    }
}
