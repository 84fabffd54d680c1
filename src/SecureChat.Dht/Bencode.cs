using System.Globalization;
using System.Text;

namespace SecureChat.Dht;

/// <summary>A decoded bencode value (BEP 3). Values decoded from outside bytes keep their exact encoding in <see cref="Raw"/>.</summary>
public abstract class BValue
{
    /// <summary>The bytes this value was decoded from; empty for values built in code.</summary>
    public ReadOnlyMemory<byte> Raw { get; internal set; }

    /// <summary>The encoding of the value: its <see cref="Raw"/> bytes when decoded, else canonical (dictionary keys sorted).</summary>
    public byte[] Encode()
    {
        var buffer = new List<byte>(64);
        Bencode.Write(this, buffer);
        return [.. buffer];
    }
}

/// <summary>A byte string.</summary>
public sealed class BString(byte[] value) : BValue
{
    public byte[] Value { get; } = value;

    public static BString Of(string text) => new(Encoding.UTF8.GetBytes(text));

    public override string ToString() => Encoding.UTF8.GetString(Value);
}

public sealed class BInteger(long value) : BValue
{
    public long Value { get; } = value;

    public override string ToString() => Value.ToString(CultureInfo.InvariantCulture);
}

public sealed class BList(IReadOnlyList<BValue> items) : BValue
{
    public IReadOnlyList<BValue> Items { get; } = items;
}

/// <summary>A dictionary; keys are byte strings, kept here as Latin-1 text so every byte maps to one character.</summary>
public sealed class BDictionary : BValue
{
    private readonly Dictionary<string, BValue> _entries;

    public BDictionary() => _entries = new Dictionary<string, BValue>(StringComparer.Ordinal);

    internal BDictionary(Dictionary<string, BValue> entries) => _entries = entries;

    public int Count => _entries.Count;

    public IEnumerable<KeyValuePair<string, BValue>> Entries => _entries.OrderBy(e => e.Key, StringComparer.Ordinal);

    public BValue? this[string key] => _entries.GetValueOrDefault(key);

    /// <summary>Sets an entry; a decoded dictionary forgets its raw bytes, so that it encodes with the change.</summary>
    public BDictionary Set(string key, BValue value)
    {
        _entries[key] = value;
        Raw = ReadOnlyMemory<byte>.Empty;
        return this;
    }

    public BDictionary Set(string key, byte[] value) => Set(key, new BString(value));

    public BDictionary Set(string key, long value) => Set(key, new BInteger(value));

    public BDictionary Set(string key, string text) => Set(key, BString.Of(text));

    public byte[]? Bytes(string key) => (this[key] as BString)?.Value;

    public long? Integer(string key) => (this[key] as BInteger)?.Value;

    public BDictionary? Dictionary(string key) => this[key] as BDictionary;

    public BList? List(string key) => this[key] as BList;
}

/// <summary>Why bytes did not decode as bencode.</summary>
public enum BencodeError
{
    None,
    Truncated,
    UnexpectedByte,
    NonCanonicalInteger,
    IntegerOutOfRange,
    StringTooLong,
    KeyNotAString,
    DuplicateKey,
    TooDeep,
    TooManyValues,
    TrailingBytes,
}

/// <summary>
/// Bencode (BEP 3) with limits: nesting depth, value count and string length are bounded so that
/// no input can make the decoder recurse or allocate without bound. Integers must be canonical
/// (no leading zeros, no "-0") and fit in 64 bits; dictionary keys must be unique (their order is
/// not enforced: some clients send them unsorted, and the raw bytes are kept for signatures).
/// </summary>
public static class Bencode
{
    public const int MaxDepth = 16;
    public const int MaxValues = 2048;

    /// <summary>Decodes exactly one value spanning all of <paramref name="input"/>; false with an error for anything else.</summary>
    public static bool TryDecode(ReadOnlyMemory<byte> input, out BValue? value, out BencodeError error)
    {
        var reader = new Reader(input);
        value = reader.Read(0);
        error = reader.Error;
        if (value is not null && reader.Position != input.Length)
        {
            error = BencodeError.TrailingBytes;
        }

        if (error != BencodeError.None)
        {
            value = null;
            return false;
        }

        return true;
    }

    public static BValue? TryDecode(ReadOnlyMemory<byte> input) => TryDecode(input, out var value, out _) ? value : null;

    internal static void Write(BValue value, List<byte> output)
    {
        // A decoded value is written back exactly as it came: its bytes may be signed or hashed.
        if (!value.Raw.IsEmpty)
        {
            output.AddRange(value.Raw.Span);
            return;
        }

        switch (value)
        {
            case BString s:
                WriteAscii(output, s.Value.Length.ToString(CultureInfo.InvariantCulture));
                output.Add((byte)':');
                output.AddRange(s.Value);
                break;
            case BInteger i:
                output.Add((byte)'i');
                WriteAscii(output, i.Value.ToString(CultureInfo.InvariantCulture));
                output.Add((byte)'e');
                break;
            case BList l:
                output.Add((byte)'l');
                foreach (var item in l.Items)
                {
                    Write(item, output);
                }

                output.Add((byte)'e');
                break;
            case BDictionary d:
                output.Add((byte)'d');
                foreach (var (key, item) in d.Entries)
                {
                    var keyBytes = Encoding.Latin1.GetBytes(key);
                    WriteAscii(output, keyBytes.Length.ToString(CultureInfo.InvariantCulture));
                    output.Add((byte)':');
                    output.AddRange(keyBytes);
                    Write(item, output);
                }

                output.Add((byte)'e');
                break;
            default:
                throw new ArgumentException("Unknown bencode value.", nameof(value));
        }
    }

    private static void WriteAscii(List<byte> output, string text)
    {
        foreach (var c in text)
        {
            output.Add((byte)c);
        }
    }

    private struct Reader(ReadOnlyMemory<byte> input)
    {
        private readonly ReadOnlyMemory<byte> _input = input;
        private int _values;

        public int Position { get; private set; }

        public BencodeError Error { get; private set; }

        public BValue? Read(int depth)
        {
            if (depth > MaxDepth)
            {
                return Fail(BencodeError.TooDeep);
            }

            if (++_values > MaxValues)
            {
                return Fail(BencodeError.TooManyValues);
            }

            var span = _input.Span;
            if (Position >= span.Length)
            {
                return Fail(BencodeError.Truncated);
            }

            var start = Position;
            BValue? value;
            switch (span[Position])
            {
                case (byte)'i':
                    Position++;
                    value = ReadInteger((byte)'e', allowNegative: true) is { } n ? new BInteger(n) : null;
                    break;
                case (byte)'l':
                    Position++;
                    value = ReadList(depth);
                    break;
                case (byte)'d':
                    Position++;
                    value = ReadDictionary(depth);
                    break;
                case >= (byte)'0' and <= (byte)'9':
                    value = ReadString() is { } bytes ? new BString(bytes) : null;
                    break;
                default:
                    return Fail(BencodeError.UnexpectedByte);
            }

            if (value is not null)
            {
                value.Raw = _input[start..Position];
            }

            return value;
        }

        private BList? ReadList(int depth)
        {
            var items = new List<BValue>();
            while (true)
            {
                if (Position >= _input.Length)
                {
                    return Fail<BList>(BencodeError.Truncated);
                }

                if (_input.Span[Position] == (byte)'e')
                {
                    Position++;
                    return new BList(items);
                }

                var item = Read(depth + 1);
                if (item is null)
                {
                    return null;
                }

                items.Add(item);
            }
        }

        private BDictionary? ReadDictionary(int depth)
        {
            var entries = new Dictionary<string, BValue>(StringComparer.Ordinal);
            while (true)
            {
                if (Position >= _input.Length)
                {
                    return Fail<BDictionary>(BencodeError.Truncated);
                }

                var b = _input.Span[Position];
                if (b == (byte)'e')
                {
                    Position++;
                    return new BDictionary(entries);
                }

                if (b is < (byte)'0' or > (byte)'9')
                {
                    return Fail<BDictionary>(BencodeError.KeyNotAString);
                }

                if (++_values > MaxValues)
                {
                    return Fail<BDictionary>(BencodeError.TooManyValues);
                }

                var key = ReadString();
                if (key is null)
                {
                    return null;
                }

                var value = Read(depth + 1);
                if (value is null)
                {
                    return null;
                }

                if (!entries.TryAdd(Encoding.Latin1.GetString(key), value))
                {
                    return Fail<BDictionary>(BencodeError.DuplicateKey);
                }
            }
        }

        private byte[]? ReadString()
        {
            var length = ReadInteger((byte)':', allowNegative: false);
            if (length is null)
            {
                return null;
            }

            if (length > _input.Length - Position)
            {
                return Fail<byte[]>(length > _input.Length ? BencodeError.StringTooLong : BencodeError.Truncated);
            }

            var bytes = _input.Span.Slice(Position, (int)length.Value).ToArray();
            Position += (int)length.Value;
            return bytes;
        }

        private long? ReadInteger(byte terminator, bool allowNegative)
        {
            var span = _input.Span;
            var negative = false;
            if (allowNegative && Position < span.Length && span[Position] == (byte)'-')
            {
                negative = true;
                Position++;
            }

            // The magnitude is read unsigned so that -9223372036854775808 (long.MinValue), which the writer emits, reads back.
            var digitsStart = Position;
            var limit = negative ? (ulong)long.MaxValue + 1 : (ulong)long.MaxValue;
            ulong value = 0;
            while (Position < span.Length && span[Position] is >= (byte)'0' and <= (byte)'9')
            {
                var digit = (ulong)(span[Position] - '0');
                if (value > (limit - digit) / 10)
                {
                    Error = BencodeError.IntegerOutOfRange;
                    return null;
                }

                value = (value * 10) + digit;
                Position++;
            }

            var digits = Position - digitsStart;
            if (Position >= span.Length)
            {
                Error = BencodeError.Truncated;
                return null;
            }

            if (span[Position] != terminator || digits == 0)
            {
                Error = BencodeError.UnexpectedByte;
                return null;
            }

            if ((digits > 1 && span[digitsStart] == (byte)'0') || (negative && value == 0))
            {
                Error = BencodeError.NonCanonicalInteger;
                return null;
            }

            Position++;
            return negative ? unchecked(-(long)value) : (long)value;
        }

        private BValue? Fail(BencodeError error)
        {
            Error = error;
            return null;
        }

        private T? Fail<T>(BencodeError error)
            where T : class
        {
            Error = error;
            return null;
        }
    }
}
