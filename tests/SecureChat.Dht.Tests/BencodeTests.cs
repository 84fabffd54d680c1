using System.Text;
using CsCheck;

namespace SecureChat.Dht.Tests;

/// <summary>
/// Bencode (BEP 3) as this DHT reads and writes it: golden bytes for every type, one test per
/// rejection the decoder names, the raw bytes of decoded values kept for signatures, and property
/// tests that encoding round-trips and that no input makes the decoder throw.
/// </summary>
public sealed class BencodeTests
{
    public static TheoryData<string, string> GoldenValues => new()
    {
        { "4:spam", "string" },
        { "0:", "empty string" },
        { "i3e", "integer" },
        { "i-3e", "negative integer" },
        { "i0e", "zero" },
        { "i9223372036854775807e", "largest integer" },
        { "i-9223372036854775808e", "most negative integer" },
        { "l4:spam4:eggse", "list" },
        { "le", "empty list" },
        { "d3:cow3:moo4:spam4:eggse", "dictionary" },
        { "d4:spaml1:a1:bee", "dictionary of list" },
        { "de", "empty dictionary" },
        { "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe", "BEP 5 ping" },
    };

    [Fact]
    public void Encode_BuiltDictionary_SortsKeysAsRawBytes()
    {
        // BEP 3: keys sorted as raw strings, not alphanumerics ("Z" < "a" < "ab" < "b").
        var value = new BDictionary()
            .Set("b", 1)
            .Set("ab", "x")
            .Set("a", new BList([new BInteger(-7), BString.Of("hi"), new BDictionary()]))
            .Set("Z", [0x00, 0xff]);

        Assert.Equal(
            Encoding.Latin1.GetBytes("d1:Z2:\u0000\u00ff1:ali-7e2:hidee2:ab1:x1:bi1ee"),
            value.Encode());
    }

    [Fact]
    public void Encode_KeysAboveAscii_SortByteWise()
    {
        var value = new BDictionary().Set("\u00e9", 1).Set("z", 2).Set("\u0001", 3);

        Assert.Equal(Encoding.Latin1.GetBytes("d1:\u0001i3e1:zi2e1:\u00e9i1ee"), value.Encode());
    }

    [Fact]
    public void Encode_EachType_MatchesBep3()
    {
        Assert.Equal("4:spam"u8.ToArray(), BString.Of("spam").Encode());
        Assert.Equal("0:"u8.ToArray(), new BString([]).Encode());
        Assert.Equal("i0e"u8.ToArray(), new BInteger(0).Encode());
        Assert.Equal("i-42e"u8.ToArray(), new BInteger(-42).Encode());
        Assert.Equal("i-9223372036854775808e"u8.ToArray(), new BInteger(long.MinValue).Encode());
        Assert.Equal("l4:spami1ee"u8.ToArray(), new BList([BString.Of("spam"), new BInteger(1)]).Encode());
        Assert.Equal("le"u8.ToArray(), new BList([]).Encode());
        Assert.Equal("de"u8.ToArray(), new BDictionary().Encode());
    }

    [Theory]
    [MemberData(nameof(GoldenValues))]
    public void TryDecode_Golden_DecodesAndReEncodesIdentically(string text, string what)
    {
        var bytes = Encoding.Latin1.GetBytes(text);

        Assert.True(Bencode.TryDecode(bytes, out var value, out var error), what);
        Assert.Equal(BencodeError.None, error);
        Assert.Equal(bytes, value!.Encode());
        Assert.Equal(bytes, Canonical(value));
    }

    [Fact]
    public void TryDecode_EachType_YieldsItsValue()
    {
        Assert.Equal("spam"u8.ToArray(), Assert.IsType<BString>(Bencode.TryDecode("4:spam"u8.ToArray())).Value);
        Assert.Equal(-3, Assert.IsType<BInteger>(Bencode.TryDecode("i-3e"u8.ToArray())).Value);
        Assert.Equal(long.MaxValue, Assert.IsType<BInteger>(Bencode.TryDecode("i9223372036854775807e"u8.ToArray())).Value);

        var list = Assert.IsType<BList>(Bencode.TryDecode("l4:spami7ee"u8.ToArray()));
        Assert.Equal(2, list.Items.Count);
        Assert.Equal("spam", list.Items[0].ToString());
        Assert.Equal(7, Assert.IsType<BInteger>(list.Items[1]).Value);

        var dictionary = Assert.IsType<BDictionary>(Bencode.TryDecode("d3:cow3:moo4:spaml1:aee"u8.ToArray()));
        Assert.Equal(2, dictionary.Count);
        Assert.Equal("moo"u8.ToArray(), dictionary.Bytes("cow"));
        Assert.Single(dictionary.List("spam")!.Items);
        Assert.Null(dictionary["missing"]);
        Assert.Null(dictionary.Integer("cow"));
        Assert.Null(dictionary.Dictionary("spam"));
    }

    [Fact]
    public void TryDecode_BinaryKeysAndValues_KeepEveryByte()
    {
        var bytes = new byte[] { (byte)'d', (byte)'2', (byte)':', 0x00, 0xff, (byte)'1', (byte)':', 0x80, (byte)'e' };

        var dictionary = Assert.IsType<BDictionary>(Bencode.TryDecode(bytes));

        var (key, value) = Assert.Single(dictionary.Entries);
        Assert.Equal(new byte[] { 0x00, 0xff }, Encoding.Latin1.GetBytes(key));
        Assert.Equal(new byte[] { 0x80 }, Assert.IsType<BString>(value).Value);
        Assert.Equal(bytes, Canonical(dictionary));
    }

    public static TheoryData<string, BencodeError> Malformed => new()
    {
        { "", BencodeError.Truncated },
        { "i42", BencodeError.Truncated },
        { "i", BencodeError.Truncated },
        { "4:spa", BencodeError.Truncated },
        { "4", BencodeError.Truncated },
        { "l4:spam", BencodeError.Truncated },
        { "d3:cow", BencodeError.Truncated },
        { "d3:cow3:moo", BencodeError.Truncated },
        { "i03e", BencodeError.NonCanonicalInteger },
        { "i00e", BencodeError.NonCanonicalInteger },
        { "i-0e", BencodeError.NonCanonicalInteger },
        { "i-03e", BencodeError.NonCanonicalInteger },
        { "03:abc", BencodeError.NonCanonicalInteger },
        { "00:", BencodeError.NonCanonicalInteger },
        { "ie", BencodeError.UnexpectedByte },
        { "i-e", BencodeError.UnexpectedByte },
        { "i+1e", BencodeError.UnexpectedByte },
        { "i1.5e", BencodeError.UnexpectedByte },
        { "i 1e", BencodeError.UnexpectedByte },
        { "i--1e", BencodeError.UnexpectedByte },
        { "-1:a", BencodeError.UnexpectedByte },
        { "3-abc", BencodeError.UnexpectedByte },
        { "x", BencodeError.UnexpectedByte },
        { "e", BencodeError.UnexpectedByte },
        { "i9223372036854775808e", BencodeError.IntegerOutOfRange },
        { "i-9223372036854775809e", BencodeError.IntegerOutOfRange },
        { "i99999999999999999999999e", BencodeError.IntegerOutOfRange },
        { "99999999999999999999:", BencodeError.IntegerOutOfRange },
        { "99999999999:", BencodeError.StringTooLong },
        { "2147483648:abc", BencodeError.StringTooLong },
        { "10:abc", BencodeError.StringTooLong },
        { "di1e3:fooe", BencodeError.KeyNotAString },
        { "dle3:fooe", BencodeError.KeyNotAString },
        { "dde3:fooe", BencodeError.KeyNotAString },
        { "d1:ai1e1:ai2ee", BencodeError.DuplicateKey },
        { "d1:ai1e1:bi2e1:ai1ee", BencodeError.DuplicateKey },
        { "i1ei2e", BencodeError.TrailingBytes },
        { "4:spamx", BencodeError.TrailingBytes },
        { "lee", BencodeError.TrailingBytes },
        { "de\0", BencodeError.TrailingBytes },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void TryDecode_Malformed_ReturnsFalseWithTheError(string text, BencodeError expected)
    {
        Assert.False(Bencode.TryDecode(Encoding.Latin1.GetBytes(text), out var value, out var error));
        Assert.Null(value);
        Assert.Equal(expected, error);
        Assert.Null(Bencode.TryDecode(Encoding.Latin1.GetBytes(text)));
    }

    [Fact]
    public void TryDecode_NestingAtTheDepthLimit_Decodes()
    {
        // Depth counts from 0 at the outermost value: MaxDepth + 1 nested lists reach depth MaxDepth.
        var bytes = Nested(Bencode.MaxDepth + 1, string.Empty);

        Assert.True(Bencode.TryDecode(bytes, out _, out var error), error.ToString());
    }

    [Theory]
    [InlineData("l", "e")]
    [InlineData("d1:k", "e")]
    public void TryDecode_NestingPastTheDepthLimit_IsTooDeep(string open, string close)
    {
        var deep = string.Concat(Enumerable.Repeat(open, Bencode.MaxDepth + 2)) + string.Concat(Enumerable.Repeat(close, Bencode.MaxDepth + 2));

        Assert.False(Bencode.TryDecode(Encoding.ASCII.GetBytes(deep), out _, out var error));
        Assert.Equal(BencodeError.TooDeep, error);
    }

    [Fact]
    public void TryDecode_StringBelowTheDepthLimit_IsTooDeep()
    {
        // A scalar one level below the deepest allowed container counts as a level too.
        Assert.False(Bencode.TryDecode(Nested(Bencode.MaxDepth + 1, "0:"), out _, out var error));
        Assert.Equal(BencodeError.TooDeep, error);
    }

    [Fact]
    public void TryDecode_HundredThousandOpenLists_FailsWithoutOverflowingTheStack()
    {
        var bytes = Enumerable.Repeat((byte)'l', 100_000).ToArray();

        Assert.False(Bencode.TryDecode(bytes, out _, out var error));
        Assert.Equal(BencodeError.TooDeep, error);
    }

    [Fact]
    public void TryDecode_ValueCountAtTheLimit_Decodes()
    {
        // The list itself is one value, so it may hold MaxValues - 1 items.
        var bytes = Encoding.ASCII.GetBytes("l" + string.Concat(Enumerable.Repeat("i1e", Bencode.MaxValues - 1)) + "e");

        var list = Assert.IsType<BList>(Bencode.TryDecode(bytes));
        Assert.Equal(Bencode.MaxValues - 1, list.Items.Count);
    }

    [Fact]
    public void TryDecode_ValueCountPastTheLimit_IsTooManyValues()
    {
        var bytes = Encoding.ASCII.GetBytes("l" + string.Concat(Enumerable.Repeat("0:", Bencode.MaxValues)) + "e");

        Assert.False(Bencode.TryDecode(bytes, out _, out var error));
        Assert.Equal(BencodeError.TooManyValues, error);
    }

    [Fact]
    public void TryDecode_DictionaryKeysCountAsValues_IsTooManyValues()
    {
        // 1,100 entries are 2,201 values with their keys: over the limit though fewer than 2,048 items.
        var entries = string.Concat(Enumerable.Range(0, 1100).Select(i => $"4:{i:D4}0:"));
        var bytes = Encoding.ASCII.GetBytes("d" + entries + "e");

        Assert.False(Bencode.TryDecode(bytes, out _, out var error));
        Assert.Equal(BencodeError.TooManyValues, error);
    }

    [Fact]
    public void Encode_UnsortedDecodedDictionary_IsByteIdentical()
    {
        // Some clients send keys out of order; a signature over the bytes must still verify.
        var bytes = "d1:zi1e1:ad1:y0:1:b0:ee"u8.ToArray();

        var value = Assert.IsType<BDictionary>(Bencode.TryDecode(bytes));

        Assert.Equal(bytes, value.Encode());
        Assert.Equal(bytes, value.Raw.ToArray());
        Assert.Equal("d1:y0:1:b0:e"u8.ToArray(), value.Dictionary("a")!.Encode());
        Assert.Equal("d1:ad1:b0:1:y0:e1:zi1ee"u8.ToArray(), Canonical(value));
    }

    [Fact]
    public void Raw_NestedValue_IsItsOwnSlice()
    {
        var value = Assert.IsType<BDictionary>(Bencode.TryDecode("d1:vl4:spami-1eee"u8.ToArray()));

        Assert.Equal("l4:spami-1ee"u8.ToArray(), value["v"]!.Raw.ToArray());
        Assert.Equal("i-1e"u8.ToArray(), value.List("v")!.Items[1].Raw.ToArray());
    }

    [Fact]
    public void Raw_BuiltValue_IsEmpty()
    {
        Assert.True(BString.Of("x").Raw.IsEmpty);
        Assert.True(new BDictionary().Set("a", 1).Raw.IsEmpty);
    }

    [Fact]
    public void TryDecode_EncodedBuiltValues_RoundTrip()
    {
        Values().Sample(
            value =>
            {
                var encoded = value.Encode();
                Assert.True(Bencode.TryDecode(encoded, out var decoded, out var error), error.ToString());
                Assert.True(Same(value, decoded!), "decoded value differs");
                Assert.Equal(encoded, decoded!.Encode());
                Assert.Equal(encoded, Canonical(decoded));
            },
            iter: 2000);
    }

    [Fact]
    public void TryDecode_ArbitraryBytes_NeverThrowsAndKeepsItsContract()
    {
        Gen.Byte.Array[0, 300].Sample(CheckTotal, iter: 5000);
    }

    [Fact]
    public void TryDecode_BytesFromTheBencodeAlphabet_NeverThrowsAndKeepsItsContract()
    {
        // Random bytes rarely get past the first one; bytes drawn from bencode's own alphabet do.
        Gen.Char["ilde0123456789:-"].Array[0, 80]
            .Select(chars => Encoding.ASCII.GetBytes(chars))
            .Sample(CheckTotal, iter: 20000);
    }

    [Fact]
    public void TryDecode_DamagedEncodings_NeverThrowAndKeepItsContract()
    {
        Gen.Select(Values(), Gen.Int, Gen.Int[0, 7], Gen.Int[0, 2]).Sample(
            (value, position, bit, damage) =>
            {
                var bytes = value.Encode();
                var at = (int)((uint)position % (uint)bytes.Length);
                var damaged = damage switch
                {
                    0 => bytes[..at],
                    1 => [.. bytes[..at], .. bytes[(at + 1)..]],
                    _ => Flip(bytes, at, bit),
                };
                CheckTotal(damaged);
            },
            iter: 5000);
    }

    /// <summary>Decoding is total: success yields a value that re-encodes to the input; failure yields no value and a reason.</summary>
    private static void CheckTotal(byte[] bytes)
    {
        if (Bencode.TryDecode(bytes, out var value, out var error))
        {
            Assert.Equal(BencodeError.None, error);
            Assert.Equal(bytes, value!.Encode());
        }
        else
        {
            Assert.Null(value);
            Assert.NotEqual(BencodeError.None, error);
        }
    }

    private static byte[] Flip(byte[] bytes, int at, int bit)
    {
        var copy = (byte[])bytes.Clone();
        copy[at] ^= (byte)(1 << bit);
        return copy;
    }

    private static byte[] Nested(int levels, string inner) =>
        Encoding.ASCII.GetBytes(new string('l', levels) + inner + new string('e', levels));

    /// <summary>The canonical encoding, ignoring the raw bytes a decoded value keeps.</summary>
    private static byte[] Canonical(BValue value) => Strip(value).Encode();

    private static BValue Strip(BValue value) => value switch
    {
        BString s => new BString(s.Value),
        BInteger i => new BInteger(i.Value),
        BList l => new BList([.. l.Items.Select(Strip)]),
        BDictionary d => d.Entries.Aggregate(new BDictionary(), (copy, e) => copy.Set(e.Key, Strip(e.Value))),
        _ => throw new ArgumentException("Unknown value.", nameof(value)),
    };

    private static bool Same(BValue a, BValue b) => (a, b) switch
    {
        (BString x, BString y) => x.Value.AsSpan().SequenceEqual(y.Value),
        (BInteger x, BInteger y) => x.Value == y.Value,
        (BList x, BList y) => x.Items.Count == y.Items.Count && x.Items.Zip(y.Items).All(p => Same(p.First, p.Second)),
        (BDictionary x, BDictionary y) => x.Count == y.Count && x.Entries.Zip(y.Entries).All(p => p.First.Key == p.Second.Key && Same(p.First.Value, p.Second.Value)),
        _ => false,
    };

    private static Gen<BValue> Values(int depth = 4)
    {
        var leaf = Gen.OneOf(
            Gen.Byte.Array[0, 40].Select(b => (BValue)new BString(b)),
            Gen.Long.Select(n => (BValue)new BInteger(n)));
        if (depth == 0)
        {
            return leaf;
        }

        var inner = Values(depth - 1);
        var list = inner.List[0, 5].Select(items => (BValue)new BList(items));
        var dictionary = Gen.Select(Gen.Byte.Array[0, 6], inner).List[0, 5].Select(entries =>
            (BValue)entries.Aggregate(new BDictionary(), (d, e) => d.Set(Encoding.Latin1.GetString(e.Item1), e.Item2)));
        return Gen.OneOf(leaf, leaf, list, dictionary);
    }
}
