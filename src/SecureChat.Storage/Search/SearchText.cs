using System.Globalization;
using System.Text;

namespace SecureChat.Storage.Search;

/// <summary>
/// How text becomes search terms: canonical decomposition (NFD), combining marks dropped (so "café"
/// and "cafe" are one term), lower case (invariant), and words split at every character that is
/// not a letter or a digit. Any script that separates words with spaces or punctuation works.
/// </summary>
public static class SearchText
{
    /// <summary>The longest term kept; longer words are cut (prefix search still finds them).</summary>
    public const int MaxTermLength = 32;

    /// <summary>The distinct terms of <paramref name="text"/>, in order of first appearance.</summary>
    public static List<string> Terms(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var folded = Fold(text);
        var terms = new List<string>();

        // Distinct by a hash set: a long text of unique words (16,000 bytes hold about 1,500) made
        // a scan of the list per word cost a million comparisons per text.
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var lookup = seen.GetAlternateLookup<ReadOnlySpan<char>>();
        var span = folded.AsSpan();
        var start = -1;
        for (var i = 0; i <= span.Length; i++)
        {
            if (i < span.Length && char.IsLetterOrDigit(span[i]))
            {
                if (start < 0)
                {
                    start = i;
                }

                continue;
            }

            if (start >= 0)
            {
                var word = span[start..Math.Min(i, start + MaxTermLength)];
                if (!lookup.Contains(word))
                {
                    var term = word.ToString();
                    seen.Add(term);
                    terms.Add(term);
                }

                start = -1;
            }
        }

        return terms;
    }

    /// <summary>
    /// Where a search for <paramref name="queryTerms"/> (from <see cref="Terms"/>) hits in
    /// <paramref name="text"/>: each word of the text that one of the terms begins, as its start and
    /// length in <paramref name="text"/>'s own UTF-16 units, in order. A word keeps its combining
    /// marks, so "café" is one word whichever way it was typed.
    /// </summary>
    public static List<(int Start, int Length)> Hits(string text, IReadOnlyList<string> queryTerms)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(queryTerms);
        var hits = new List<(int, int)>();
        var start = -1;
        for (var i = 0; i <= text.Length; i++)
        {
            if (i < text.Length && IsWordChar(text[i], start >= 0))
            {
                if (start < 0)
                {
                    start = i;
                }

                continue;
            }

            if (start >= 0)
            {
                var word = Fold(text[start..i]);
                if (queryTerms.Any(term => word.StartsWith(term, StringComparison.Ordinal)))
                {
                    hits.Add((start, i - start));
                }

                start = -1;
            }
        }

        return hits;
    }

    private static bool IsWordChar(char c, bool inWord) =>
        char.IsLetterOrDigit(c)
        || (inWord && CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark);

    /// <summary>Lower case without combining marks; ASCII text (most chat) skips the Unicode work.</summary>
    private static string Fold(string text)
    {
        if (Ascii.IsValid(text))
        {
            return text.ToLowerInvariant();
        }

        var decomposed = text.Normalize(NormalizationForm.FormD);
        var kept = new StringBuilder(decomposed.Length);
        foreach (var c in decomposed)
        {
            if (CharUnicodeInfo.GetUnicodeCategory(c) is not (UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark))
            {
                kept.Append(c);
            }
        }

        return kept.ToString().ToLowerInvariant();
    }
}
