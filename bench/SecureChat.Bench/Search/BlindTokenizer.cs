using System.Buffers.Binary;
using System.Text;
using NSec.Cryptography;

namespace SecureChat.Bench.Search;

/// <summary>
/// A blinded index token: the first 8 or 12 bytes of BLAKE2b-256 keyed with the index key, over
/// <c>'p' || UTF-8(prefix)</c>. Held as two integers whose order is the bytes' order (big-endian),
/// which is SQLite's order for BLOBs, so postings sorted here are inserted in key order.
/// </summary>
public readonly record struct BlindToken(ulong High, uint Low) : IComparable<BlindToken>
{
    public int CompareTo(BlindToken other) => High != other.High ? High.CompareTo(other.High) : Low.CompareTo(other.Low);

    public byte[] ToBytes(int length)
    {
        var bytes = new byte[length];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, High);
        if (length > 8)
        {
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(8), Low);
        }

        return bytes;
    }

    public static bool operator <(BlindToken left, BlindToken right) => left.CompareTo(right) < 0;

    public static bool operator >(BlindToken left, BlindToken right) => left.CompareTo(right) > 0;

    public static bool operator <=(BlindToken left, BlindToken right) => left.CompareTo(right) <= 0;

    public static bool operator >=(BlindToken left, BlindToken right) => left.CompareTo(right) >= 0;
}

/// <summary>
/// Which blinded tokens a message is indexed under, and which one a query term looks up.
/// A word of length L is indexed under its prefixes of length 2..min(L, <see cref="MaxPrefix"/>);
/// a one-letter word under itself. A query term of length ≤ MaxPrefix is found exactly by its own
/// token; a longer one by the token of its first MaxPrefix letters, and the candidates are
/// re-checked after decryption (as every candidate is anyway, against token collisions).
/// </summary>
public sealed class BlindTokenizer
{
    /// <summary>Domain separation: 'p' for prefix tokens (room for other kinds later).</summary>
    private const byte PrefixKind = (byte)'p';

    private readonly Key _indexKey;
    private readonly Dictionary<string, BlindToken> _cache = new(StringComparer.Ordinal);
    private readonly Dictionary<string, BlindToken>.AlternateLookup<ReadOnlySpan<char>> _cacheBySpan;

    public BlindTokenizer(Key indexKey, int tokenBytes, int maxPrefix)
    {
        ArgumentNullException.ThrowIfNull(indexKey);
        if (tokenBytes is not (8 or 12))
        {
            throw new ArgumentException("A blinded token is 8 or 12 bytes.", nameof(tokenBytes));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(maxPrefix, 2);
        _indexKey = indexKey;
        TokenBytes = tokenBytes;
        MaxPrefix = maxPrefix;
        _cacheBySpan = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public int TokenBytes { get; }

    public int MaxPrefix { get; }

    /// <summary>The token a query term is looked up by.</summary>
    public BlindToken QueryToken(string term)
    {
        ArgumentNullException.ThrowIfNull(term);
        return Compute(term.AsSpan(0, Math.Min(term.Length, MaxPrefix)));
    }

    /// <summary>Adds the distinct tokens of a normalized message to <paramref name="tokens"/> (cleared first); cached, for bulk indexing.</summary>
    public void TokensOf(ReadOnlySpan<char> normalizedText, HashSet<BlindToken> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        tokens.Clear();
        foreach (var range in normalizedText.Split(' '))
        {
            var word = normalizedText[range];
            if (word.Length == 1)
            {
                tokens.Add(Cached(word));
                continue;
            }

            var longest = Math.Min(word.Length, MaxPrefix);
            for (var length = 2; length <= longest; length++)
            {
                tokens.Add(Cached(word[..length]));
            }
        }
    }

    private BlindToken Cached(ReadOnlySpan<char> prefix)
    {
        if (!_cacheBySpan.TryGetValue(prefix, out var token))
        {
            token = Compute(prefix);
            _cacheBySpan[prefix] = token;
        }

        return token;
    }

    private BlindToken Compute(ReadOnlySpan<char> prefix)
    {
        Span<byte> input = stackalloc byte[1 + Encoding.UTF8.GetMaxByteCount(prefix.Length)];
        input[0] = PrefixKind;
        var length = 1 + Encoding.UTF8.GetBytes(prefix, input[1..]);
        Span<byte> mac = stackalloc byte[32];
        MacAlgorithm.Blake2b_256.Mac(_indexKey, input[..length], mac);
        return new BlindToken(BinaryPrimitives.ReadUInt64BigEndian(mac), TokenBytes > 8 ? BinaryPrimitives.ReadUInt32BigEndian(mac[8..]) : 0);
    }
}
