using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;

namespace SecureChat.Bench.Search;

/// <summary>
/// Design B's index, in memory only. Every distinct normalized word gets an ID; the positions of
/// the messages containing word <c>t</c> are <c>positions[offsets[t] .. offsets[t+1]]</c>, in
/// increasing order (one array for all words: compact, and built in two linear passes). Word IDs
/// sorted by their text make a prefix a contiguous range, found by binary search; a one-letter
/// term is the one-letter word only. Messages added after unlock go to a small side index.
/// Positions index the parallel lists of message IDs, conversations and times.
/// </summary>
public sealed class InvertedIndex
{
    /// <summary>A term spanning more words than this is merged through a bit set, not a heap of cursors.</summary>
    private const int MaxMergedLists = 4;

    private readonly string[] _terms;
    private readonly int[] _sortedTermIds;
    private readonly int[] _offsets;
    private readonly int[] _positions;
    private readonly List<long> _ids;
    private readonly List<int> _conversations;
    private readonly List<long> _sentAt;
    private readonly SortedDictionary<string, List<int>> _recent = new(StringComparer.Ordinal);

    private InvertedIndex(string[] terms, int[] sortedTermIds, int[] offsets, int[] positions, List<long> ids, List<int> conversations, List<long> sentAt)
    {
        _terms = terms;
        _sortedTermIds = sortedTermIds;
        _offsets = offsets;
        _positions = positions;
        _ids = ids;
        _conversations = conversations;
        _sentAt = sentAt;
    }

    public int MessageCount => _ids.Count;

    public int TermCount => _terms.Length + _recent.Count;

    public long PostingCount => _positions.LongLength + _recent.Values.Sum(list => (long)list.Count);

    /// <summary>
    /// Joins the parts built in parallel over consecutive ranges of messages, in order: a later
    /// part's positions come after an earlier part's, so every word's positions stay increasing.
    /// The copy runs one thread per part; the sort of the words runs beside it.
    /// </summary>
    public static InvertedIndex Merge(IReadOnlyList<Part> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Count == 0)
        {
            return new InvertedIndex([], [], [0], [], [], [], []);
        }

        // Global word IDs: the first part's IDs as they are, the others' mapped (into the first
        // part's table, which grows: its counts are taken before).
        var localCounts = parts.Select(part => part.Counts.ToArray()).ToArray();
        var global = parts[0].Table;
        var maps = new int[parts.Count][];
        maps[0] = [.. Enumerable.Range(0, global.Count)];
        for (var p = 1; p < parts.Count; p++)
        {
            var local = parts[p].Table.Words;
            var map = maps[p] = new int[local.Count];
            for (var l = 0; l < local.Count; l++)
            {
                map[l] = global.GetOrAdd(local[l], out _);
            }
        }

        var termArray = global.Words.ToArray();
        var sortTask = Task.Run(() =>
        {
            var sorted = Enumerable.Range(0, termArray.Length).ToArray();
            Array.Sort(sorted, (x, y) => string.CompareOrdinal(termArray[x], termArray[y]));
            return sorted;
        });

        // Where each part starts writing each word's positions: after the earlier parts' share.
        var starts = new int[parts.Count][];
        var counts = new int[termArray.Length];
        for (var p = 0; p < parts.Count; p++)
        {
            var start = starts[p] = new int[termArray.Length];
            var map = maps[p];
            for (var l = 0; l < localCounts[p].Length; l++)
            {
                start[map[l]] = counts[map[l]];
                counts[map[l]] += localCounts[p][l];
            }
        }

        var offsets = new int[termArray.Length + 1];
        for (var t = 0; t < termArray.Length; t++)
        {
            offsets[t + 1] = checked(offsets[t] + counts[t]);
        }

        var positions = new int[offsets[^1]];
        var bases = new int[parts.Count];
        for (var p = 1; p < parts.Count; p++)
        {
            bases[p] = bases[p - 1] + parts[p - 1].Ids.Count;
        }

        Parallel.For(0, parts.Count, p =>
        {
            var part = parts[p];
            var map = maps[p];
            var cursor = starts[p];
            for (var t = 0; t < cursor.Length; t++)
            {
                cursor[t] += offsets[t];
            }

            var occurrences = CollectionsMarshal.AsSpan(part.Occurrences);
            var ends = CollectionsMarshal.AsSpan(part.MessageEnds);
            var from = 0;
            for (var m = 0; m < ends.Length; m++)
            {
                var position = bases[p] + m;
                for (var o = from; o < ends[m]; o++)
                {
                    positions[cursor[map[occurrences[o]]]++] = position;
                }

                from = ends[m];
            }
        });

        var ids = new List<long>(bases[^1] + parts[^1].Ids.Count);
        var conversations = new List<int>(ids.Capacity);
        var sentAt = new List<long>(ids.Capacity);
        foreach (var part in parts)
        {
            ids.AddRange(part.Ids);
            conversations.AddRange(part.Conversations);
            sentAt.AddRange(part.SentAt);
        }

        return new InvertedIndex(termArray, sortTask.GetAwaiter().GetResult(), offsets, positions, ids, conversations, sentAt);
    }

    /// <summary>
    /// The index as bytes, for a sealed snapshot: a header of six counts, then the words
    /// (UTF-8, each after its 2-byte length), the sorted word IDs, the offsets, the positions, the
    /// message IDs, conversations and times, all little-endian. Only what was built at unlock:
    /// messages added since are indexed again from their rows.
    /// </summary>
    public byte[] Serialize()
    {
        if (_recent.Count > 0)
        {
            throw new InvalidOperationException("Snapshot before adding messages, or index them again after loading it.");
        }

        var termBytes = _terms.Sum(term => 2L + Encoding.UTF8.GetByteCount(term));
        var size = checked((int)(HeaderSize + termBytes + (4L * _sortedTermIds.Length) + (4L * _offsets.Length) + (4L * _positions.Length)
            + (8L * _ids.Count) + (4L * _conversations.Count) + (8L * _sentAt.Count)));
        var bytes = new byte[size];
        var span = bytes.AsSpan();
        BinaryPrimitives.WriteInt32LittleEndian(span, _terms.Length);
        BinaryPrimitives.WriteInt32LittleEndian(span[4..], _positions.Length);
        BinaryPrimitives.WriteInt32LittleEndian(span[8..], _ids.Count);
        BinaryPrimitives.WriteInt64LittleEndian(span[12..], termBytes);
        var at = HeaderSize;
        foreach (var term in _terms)
        {
            var length = Encoding.UTF8.GetBytes(term, span[(at + 2)..]);
            BinaryPrimitives.WriteUInt16LittleEndian(span[at..], checked((ushort)length));
            at += 2 + length;
        }

        at = Put<int>(span, at, _sortedTermIds);
        at = Put<int>(span, at, _offsets);
        at = Put<int>(span, at, _positions);
        at = Put<long>(span, at, CollectionsMarshal.AsSpan(_ids));
        at = Put<int>(span, at, CollectionsMarshal.AsSpan(_conversations));
        Put<long>(span, at, CollectionsMarshal.AsSpan(_sentAt));
        return bytes;
    }

    /// <summary>Reads what <see cref="Serialize"/> wrote; null when the bytes do not have its shape.</summary>
    public static InvertedIndex? Deserialize(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < HeaderSize)
        {
            return null;
        }

        var terms = BinaryPrimitives.ReadInt32LittleEndian(bytes);
        var postings = BinaryPrimitives.ReadInt32LittleEndian(bytes[4..]);
        var messages = BinaryPrimitives.ReadInt32LittleEndian(bytes[8..]);
        var termBytes = BinaryPrimitives.ReadInt64LittleEndian(bytes[12..]);
        var expected = HeaderSize + termBytes + (4L * terms) + (4L * (terms + 1)) + (4L * postings) + (20L * messages);
        if (terms < 0 || postings < 0 || messages < 0 || termBytes < 2L * terms || expected != bytes.Length)
        {
            return null;
        }

        var words = new string[terms];
        var at = HeaderSize;
        var termEnd = HeaderSize + (int)termBytes;
        for (var t = 0; t < terms; t++)
        {
            if (at + 2 > termEnd)
            {
                return null;
            }

            var length = BinaryPrimitives.ReadUInt16LittleEndian(bytes[at..]);
            if (at + 2 + length > termEnd)
            {
                return null;
            }

            words[t] = Encoding.UTF8.GetString(bytes.Slice(at + 2, length));
            at += 2 + length;
        }

        if (at != termEnd)
        {
            return null;
        }

        var sorted = Take<int>(bytes, ref at, terms);
        var offsets = Take<int>(bytes, ref at, terms + 1);
        var positions = Take<int>(bytes, ref at, postings);
        var ids = Take<long>(bytes, ref at, messages);
        var conversations = Take<int>(bytes, ref at, messages);
        var sentAt = Take<long>(bytes, ref at, messages);

        // Every reference must land inside its array: a snapshot is authenticated, but parsers are total.
        if (offsets[0] != 0 || offsets[^1] != postings || sorted.Any(id => (uint)id >= (uint)terms))
        {
            return null;
        }

        for (var t = 0; t < terms; t++)
        {
            if (offsets[t + 1] < offsets[t])
            {
                return null;
            }
        }

        if (positions.Any(position => (uint)position >= (uint)messages))
        {
            return null;
        }

        return new InvertedIndex(words, sorted, offsets, positions, [.. ids], [.. conversations], [.. sentAt]);
    }

    private const int HeaderSize = 20;

    private static int Put<T>(Span<byte> destination, int at, ReadOnlySpan<T> values)
        where T : struct
    {
        var bytes = MemoryMarshal.AsBytes(values);
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Snapshots are written little-endian.");
        }

        bytes.CopyTo(destination[at..]);
        return at + bytes.Length;
    }

    private static T[] Take<T>(ReadOnlySpan<byte> source, ref int at, int count)
        where T : struct
    {
        var values = new T[count];
        var bytes = MemoryMarshal.AsBytes(values.AsSpan());
        source.Slice(at, bytes.Length).CopyTo(bytes);
        at += bytes.Length;
        return values;
    }

    /// <summary>Indexes one more message, newer than every other, in the side index.</summary>
    public void Add(long messageId, int conversation, long sentAtMs, ReadOnlySpan<char> normalizedText)
    {
        var position = _ids.Count;
        _ids.Add(messageId);
        _conversations.Add(conversation);
        _sentAt.Add(sentAtMs);
        foreach (var range in normalizedText.Split(' '))
        {
            var word = normalizedText[range].ToString();
            if (!_recent.TryGetValue(word, out var list))
            {
                _recent[word] = list = [];
            }

            if (list.Count == 0 || list[^1] != position)
            {
                list.Add(position);
            }
        }
    }

    /// <summary>
    /// Positions of the newest messages (at most <paramref name="limit"/>) in which every term begins
    /// a word, newest first, optionally within one conversation.
    /// </summary>
    public List<int> Search(IReadOnlyList<string> terms, int? conversation, int limit)
    {
        ArgumentNullException.ThrowIfNull(terms);
        var found = new List<int>(limit);
        if (terms.Count == 0)
        {
            return found;
        }

        var matches = terms.Select(Find).OrderBy(match => match.Total).ToArray();
        if (matches[0].Total == 0)
        {
            return found;
        }

        // The term with the fewest postings drives, newest first; the others are probed.
        foreach (var position in matches[0].Descending(MessageCount))
        {
            if (conversation is { } c && _conversations[position] != c)
            {
                continue;
            }

            var all = true;
            for (var m = 1; m < matches.Length && all; m++)
            {
                all = matches[m].Contains(position, MessageCount);
            }

            if (all)
            {
                found.Add(position);
                if (found.Count == limit)
                {
                    break;
                }
            }
        }

        return found;
    }

    public long MessageIdAt(int position) => _ids[position];

    public int ConversationAt(int position) => _conversations[position];

    public long SentAtAt(int position) => _sentAt[position];

    private static bool Begins(string candidate, string term) =>
        term.Length == 1 ? candidate == term : candidate.StartsWith(term, StringComparison.Ordinal);

    private TermMatch Find(string term)
    {
        // The first word not below the term, then the first word past the prefix range.
        int lo = 0, hi = _sortedTermIds.Length;
        while (lo < hi)
        {
            var mid = (int)((uint)(lo + hi) >> 1);
            if (string.CompareOrdinal(_terms[_sortedTermIds[mid]], term) < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        var lower = lo;
        var segments = new List<ReadOnlyMemory<int>>();
        long total = 0;
        for (var i = lower; i < _sortedTermIds.Length && Begins(_terms[_sortedTermIds[i]], term); i++)
        {
            var t = _sortedTermIds[i];
            segments.Add(_positions.AsMemory(_offsets[t], _offsets[t + 1] - _offsets[t]));
            total += _offsets[t + 1] - _offsets[t];
        }

        foreach (var (word, list) in _recent)
        {
            if (Begins(word, term))
            {
                segments.Add(list.ToArray());
                total += list.Count;
            }
        }

        return new TermMatch(segments, total);
    }

    /// <summary>What one thread builds over a consecutive range of messages; positions are local to it.</summary>
    public sealed class Part
    {
        private int[] _lastSeen = new int[1 << 12];
        private int[] _counts = new int[1 << 12];

        /// <summary>Word ↔ local ID.</summary>
        public WordTable Table { get; } = new();

        /// <summary>Local ID → how many messages contain the word.</summary>
        public ReadOnlySpan<int> Counts => _counts.AsSpan(0, Table.Count);

        /// <summary>The local word IDs of each message, one after the other, each word once per message.</summary>
        public List<int> Occurrences { get; } = [];

        /// <summary>Where each message's occurrences end.</summary>
        public List<int> MessageEnds { get; } = [];

        public List<long> Ids { get; } = [];

        public List<int> Conversations { get; } = [];

        public List<long> SentAt { get; } = [];

        public void Add(long messageId, int conversation, long sentAtMs, ReadOnlySpan<char> normalizedText)
        {
            var position = Ids.Count;
            Ids.Add(messageId);
            Conversations.Add(conversation);
            SentAt.Add(sentAtMs);
            foreach (var range in normalizedText.Split(' '))
            {
                var id = Table.GetOrAdd(normalizedText[range], out var added);
                if (added && id >= _counts.Length)
                {
                    Array.Resize(ref _counts, 2 * _counts.Length);
                    Array.Resize(ref _lastSeen, 2 * _lastSeen.Length);
                }

                // Position + 1, so that the zeroed array means "not seen yet".
                if (_lastSeen[id] != position + 1)
                {
                    _lastSeen[id] = position + 1;
                    _counts[id]++;
                    Occurrences.Add(id);
                }
            }

            MessageEnds.Add(Occurrences.Count);
        }
    }

    /// <summary>The positions of every word a term begins: a few lists merged, or many through a bit set.</summary>
    private sealed class TermMatch(List<ReadOnlyMemory<int>> segments, long total)
    {
        private ulong[]? _bits;

        public long Total => total;

        public IEnumerable<int> Descending(int messageCount)
        {
            if (segments.Count > MaxMergedLists)
            {
                var bits = Bits(messageCount);
                for (var word = bits.Length - 1; word >= 0; word--)
                {
                    var value = bits[word];
                    while (value != 0)
                    {
                        var bit = 63 - BitOperations.LeadingZeroCount(value);
                        yield return (word << 6) + bit;
                        value &= ~(1UL << bit);
                    }
                }

                yield break;
            }

            // A merge of a few lists from their ends, each position once.
            var cursors = segments.Select(segment => segment.Length - 1).ToArray();
            var last = int.MaxValue;
            while (true)
            {
                var best = -1;
                var bestValue = -1;
                for (var s = 0; s < cursors.Length; s++)
                {
                    if (cursors[s] >= 0 && segments[s].Span[cursors[s]] > bestValue)
                    {
                        best = s;
                        bestValue = segments[s].Span[cursors[s]];
                    }
                }

                if (best < 0)
                {
                    yield break;
                }

                cursors[best]--;
                if (bestValue != last)
                {
                    last = bestValue;
                    yield return bestValue;
                }
            }
        }

        public bool Contains(int position, int messageCount)
        {
            if (segments.Count > MaxMergedLists)
            {
                var bits = Bits(messageCount);
                return (bits[position >> 6] & (1UL << (position & 63))) != 0;
            }

            foreach (var segment in segments)
            {
                if (segment.Span.BinarySearch(position) >= 0)
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>The union as a bit set, built once: cost in proportion to the postings.</summary>
        private ulong[] Bits(int messageCount)
        {
            if (_bits is null)
            {
                _bits = new ulong[(messageCount + 63) >> 6];
                foreach (var segment in segments)
                {
                    foreach (var position in segment.Span)
                    {
                        _bits[position >> 6] |= 1UL << (position & 63);
                    }
                }
            }

            return _bits;
        }
    }
}
