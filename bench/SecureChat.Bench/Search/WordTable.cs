namespace SecureChat.Bench.Search;

/// <summary>
/// Words to dense IDs (0, 1, 2, …): open addressing with linear probing over a power-of-two table
/// whose slots hold the word's FNV-1a hash and ID together, so a probe reads one slot and compares
/// text only when the hashes agree. Built for the unlock's hot loop: one lookup per word.
/// </summary>
public sealed class WordTable
{
    private const uint FnvOffset = 2166136261;
    private const uint FnvPrime = 16777619;

    // (hash << 32) | (id + 1); 0 is an empty slot.
    private ulong[] _slots = new ulong[1 << 16];

    // The words' characters back to back, so that comparing reads one compact array, not a string
    // object somewhere on the heap: the loop is bound by memory latency, not by arithmetic.
    private char[] _pool = new char[1 << 16];
    private int _poolUsed;
    private int[] _starts = new int[1 << 12];

    public List<string> Words { get; } = [];

    public int Count => Words.Count;

    /// <summary>The ID of <paramref name="word"/>, added (and <paramref name="added"/> set) when new.</summary>
    public int GetOrAdd(ReadOnlySpan<char> word, out bool added)
    {
        var hash = FnvOffset;
        foreach (var c in word)
        {
            hash = (hash ^ c) * FnvPrime;
        }

        var mask = _slots.Length - 1;
        for (var slot = (int)(hash & (uint)mask); ; slot = (slot + 1) & mask)
        {
            var entry = _slots[slot];
            if (entry == 0)
            {
                var id = Words.Count;
                Words.Add(word.ToString());
                Remember(id, word);
                _slots[slot] = ((ulong)hash << 32) | (uint)(id + 1);
                added = true;
                if (2 * Words.Count > _slots.Length)
                {
                    Grow();
                }

                return id;
            }

            if ((uint)(entry >> 32) == hash)
            {
                var found = (int)(uint)entry - 1;
                if (word.SequenceEqual(_pool.AsSpan(_starts[found], _starts[found + 1] - _starts[found])))
                {
                    added = false;
                    return found;
                }
            }
        }
    }

    private void Remember(int id, ReadOnlySpan<char> word)
    {
        if (id + 2 > _starts.Length)
        {
            Array.Resize(ref _starts, 2 * _starts.Length);
        }

        if (_poolUsed + word.Length > _pool.Length)
        {
            Array.Resize(ref _pool, Math.Max(2 * _pool.Length, _poolUsed + word.Length));
        }

        _starts[id] = _poolUsed;
        word.CopyTo(_pool.AsSpan(_poolUsed));
        _poolUsed += word.Length;
        _starts[id + 1] = _poolUsed;
    }

    private void Grow()
    {
        var old = _slots;
        _slots = new ulong[2 * old.Length];
        var mask = _slots.Length - 1;
        foreach (var entry in old)
        {
            if (entry == 0)
            {
                continue;
            }

            var slot = (int)((uint)(entry >> 32) & (uint)mask);
            while (_slots[slot] != 0)
            {
                slot = (slot + 1) & mask;
            }

            _slots[slot] = entry;
        }
    }
}
