using System.Globalization;
using System.Text;

namespace SecureChat.Bench.Search;

/// <summary>
/// The one tokenizer shared by the index, the query and the re-check, so that what was indexed and
/// what is asked for are folded the same way:
/// <list type="number">
/// <item>Unicode canonical decomposition (FormD), so "é" becomes "e" + U+0301;</item>
/// <item>every non-spacing mark (category Mn) is dropped: the accent goes, the letter stays;</item>
/// <item>every letter is lower-cased with the invariant culture (simple case mapping);</item>
/// <item>a word is a run of letters (L*), digits (Nd, Nl, No) and spacing marks (Mc, which
/// Indic scripts need inside words); anything else — spaces, punctuation, symbols, emoji — splits.</item>
/// </list>
/// The result is the words separated by single spaces: "Café, ÜBER-morgen! 🙂" → "cafe uber morgen".
/// Not folded, on purpose or because FormD does not decompose them: ß, ø, æ, ł, đ (no canonical
/// decomposition), ligatures and full-width forms (compatibility decompositions, FormKD).
/// </summary>
public static class TextNormalizer
{
    // FoldTable values below U+0020 are markers: no letter or digit folds to a control character.
    private const char Unknown = '\u0000';
    private const char Separator = '\u0001';
    private const char Drop = '\u0002';
    private const char Complex = '\u0003';

    /// <summary>What each UTF-16 unit folds to, filled on first sight (benign races: every writer writes the same value).</summary>
    private static readonly char[] FoldTable = new char[65536];

    /// <summary>Fails fast on a runtime whose normalization is a no-op (globalization-invariant mode).</summary>
    public static void EnsureUnicodeNormalizationWorks()
    {
        const string Sample = "Ça Über mañana ΚΑΛΗΜΈΡΑ Ёлка, 한국어 𝐀𝐁 İstanbul ǅ";
        char[] scratch = [];
        var whole = new string(NormalizeWhole(Sample, ref scratch));
        if (!whole.StartsWith("ca uber manana καλημερα елка ", StringComparison.Ordinal) || Normalize(Sample) != whole)
        {
            throw new InvalidOperationException(
                "Unicode normalization does not decompose accents here: run with ICU (InvariantGlobalization=false and libicu installed).");
        }
    }

    /// <summary>The normalized words of <paramref name="text"/>, separated by single spaces.</summary>
    public static string Normalize(ReadOnlySpan<char> text)
    {
        char[] scratch = [];
        return new string(Normalize(text, ref scratch));
    }

    /// <summary>
    /// The normalized words of <paramref name="text"/>, written into <paramref name="scratch"/>
    /// (replaced by a larger array when too small) and valid until its next use.
    /// </summary>
    public static ReadOnlySpan<char> Normalize(ReadOnlySpan<char> text, ref char[] scratch)
    {
        ArgumentNullException.ThrowIfNull(scratch);
        Grow(ref scratch, text.Length);
        var written = FoldByCharacter(text, scratch);
        return written >= 0 ? scratch.AsSpan(0, written) : NormalizeWhole(text, ref scratch);
    }

    /// <summary>
    /// The same as <see cref="NormalizeWhole"/>, one UTF-16 unit at a time through a table filled
    /// lazily from ICU: canonical decomposition works character by character, so folding each
    /// character alone gives the same words (up to the canonical order of kept combining marks).
    /// Returns -1 when a character needs the whole-text path (a surrogate, or one that folds to
    /// more than one character, such as a Hangul syllable).
    /// </summary>
    private static int FoldByCharacter(ReadOnlySpan<char> text, Span<char> output)
    {
        var written = 0;
        var inWord = false;
        foreach (var c in text)
        {
            char folded;
            if (c < 0x80)
            {
                folded = char.IsAsciiLetterOrDigit(c) ? (char)(char.IsAsciiLetterUpper(c) ? c | 0x20 : c) : Separator;
            }
            else
            {
                folded = FoldTable[c];
                if (folded == Unknown)
                {
                    folded = FoldTable[c] = FoldOne(c);
                }

                if (folded == Drop)
                {
                    continue;
                }

                if (folded == Complex)
                {
                    return -1;
                }
            }

            if (folded == Separator)
            {
                inWord = false;
                continue;
            }

            if (!inWord && written > 0)
            {
                output[written++] = ' ';
            }

            inWord = true;
            output[written++] = folded;
        }

        return written;
    }

    private static char FoldOne(char c)
    {
        if (char.IsSurrogate(c))
        {
            return Complex;
        }

        var one = c.ToString();
        char[] scratch = [];
        var folded = NormalizeWhole(one, ref scratch);
        if (folded.Length == 1)
        {
            return folded[0];
        }

        if (folded.Length > 1)
        {
            return Complex;
        }

        // Nothing left: either only non-spacing marks (dropped, the word goes on) or a separator.
        var decomposed = one.Normalize(NormalizationForm.FormD);
        return decomposed.All(d => CharUnicodeInfo.GetUnicodeCategory(d) == UnicodeCategory.NonSpacingMark) ? Drop : Separator;
    }

    /// <summary>The rules applied to the whole text at once, through ICU.</summary>
    private static ReadOnlySpan<char> NormalizeWhole(ReadOnlySpan<char> text, ref char[] scratch)
    {
        if (Ascii.IsValid(text))
        {
            Grow(ref scratch, text.Length);
            return scratch.AsSpan(0, NormalizeAscii(text, scratch));
        }

        // FormD is decomposed into the upper half of scratch, then folded into the lower half: the
        // fold writes at most as many characters as it has read, so it never overtakes its input.
        // A BMP character decomposes into at most 4, so 8 per input character is always enough.
        Grow(ref scratch, (8 * text.Length) + 8);
        var half = scratch.Length / 2;
        if (!text.TryNormalize(scratch.AsSpan(half), out var decomposedLength, NormalizationForm.FormD))
        {
            scratch = new char[2 * (text.GetNormalizedLength(NormalizationForm.FormD) + 8)];
            half = scratch.Length / 2;
            if (!text.TryNormalize(scratch.AsSpan(half), out decomposedLength, NormalizationForm.FormD))
            {
                throw new InvalidOperationException("FormD did not fit the length it announced.");
            }
        }

        var written = FoldDecomposed(scratch, half, decomposedLength);
        return scratch.AsSpan(0, written);
    }

    private static int FoldDecomposed(char[] scratch, int start, int length)
    {
        var written = 0;
        var inWord = false;
        var index = start;
        var end = start + length;
        Span<char> lowered = stackalloc char[2];
        while (index < end)
        {
            Rune.DecodeFromUtf16(scratch.AsSpan(index, end - index), out var rune, out var consumed);
            index += consumed;
            var category = Rune.GetUnicodeCategory(rune);
            if (category == UnicodeCategory.NonSpacingMark)
            {
                continue;
            }

            if (!IsWordCategory(category))
            {
                inWord = false;
                continue;
            }

            if (!inWord && written > 0)
            {
                scratch[written++] = ' ';
            }

            inWord = true;
            var count = Rune.ToLowerInvariant(rune).EncodeToUtf16(lowered);
            if (written + count > index)
            {
                throw new InvalidOperationException("Lower-casing grew the text past what was read.");
            }

            lowered[..count].CopyTo(scratch.AsSpan(written));
            written += count;
        }

        return written;
    }

    private static void Grow(ref char[] scratch, int length)
    {
        if (scratch.Length < length)
        {
            scratch = new char[Math.Max(length, 2 * scratch.Length)];
        }
    }

    /// <summary>
    /// Whether every word of <paramref name="queryTerms"/> begins some word of the normalized
    /// <paramref name="normalizedText"/> (a one-character term must equal a one-character word).
    /// </summary>
    public static bool MatchesAll(ReadOnlySpan<char> normalizedText, IReadOnlyList<string> queryTerms)
    {
        foreach (var term in queryTerms)
        {
            if (!Matches(normalizedText, term))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether <paramref name="term"/> begins a word of <paramref name="normalizedText"/>.</summary>
    public static bool Matches(ReadOnlySpan<char> normalizedText, ReadOnlySpan<char> term)
    {
        var rest = normalizedText;
        while (!rest.IsEmpty)
        {
            var space = rest.IndexOf(' ');
            var word = space < 0 ? rest : rest[..space];
            if (term.Length == 1 ? word.SequenceEqual(term) : word.StartsWith(term, StringComparison.Ordinal))
            {
                return true;
            }

            rest = space < 0 ? [] : rest[(space + 1)..];
        }

        return false;
    }

    /// <summary>The distinct normalized terms of a query, in the order typed.</summary>
    public static IReadOnlyList<string> QueryTerms(string query)
    {
        ArgumentNullException.ThrowIfNull(query);
        return [.. Normalize(query).Split(' ', StringSplitOptions.RemoveEmptyEntries).Distinct(StringComparer.Ordinal)];
    }

    private static int NormalizeAscii(ReadOnlySpan<char> text, Span<char> output)
    {
        var written = 0;
        var inWord = false;
        foreach (var c in text)
        {
            if (char.IsAsciiLetterOrDigit(c))
            {
                if (!inWord && written > 0)
                {
                    output[written++] = ' ';
                }

                inWord = true;
                output[written++] = char.IsAsciiLetterUpper(c) ? (char)(c | 0x20) : c;
            }
            else
            {
                inWord = false;
            }
        }

        return written;
    }

    private static bool IsWordCategory(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter
            or UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber
            or UnicodeCategory.SpacingCombiningMark => true,
        _ => false,
    };
}
