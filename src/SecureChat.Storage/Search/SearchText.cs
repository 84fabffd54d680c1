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
        var terms = new List<string>();
        var word = new StringBuilder();
        foreach (var c in text.Normalize(NormalizationForm.FormD))
        {
            var category = CharUnicodeInfo.GetUnicodeCategory(c);
            if (category is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark)
            {
                continue;
            }

            if (char.IsLetterOrDigit(c))
            {
                if (word.Length < MaxTermLength)
                {
                    word.Append(char.ToLowerInvariant(c));
                }

                continue;
            }

            Flush();
        }

        Flush();
        return terms;

        void Flush()
        {
            if (word.Length > 0)
            {
                var term = word.ToString();
                if (!terms.Contains(term))
                {
                    terms.Add(term);
                }

                word.Clear();
            }
        }
    }
}
