using System.Globalization;
using System.Text;
using SecureChat.Storage.Search;

namespace SecureChat.Tests.EncryptedStore;

/// <summary>
/// Looks for words in bytes in every form they could have been written down: as typed (NFC), and
/// decomposed (NFD), lower and upper case, folded as the search index folds them (no accents, lower
/// case), each as UTF-8, UTF-16LE and UTF-16BE.
/// </summary>
internal static class PlaintextScan
{
    private static readonly Encoding[] Encodings = [new UTF8Encoding(false), new UnicodeEncoding(bigEndian: false, byteOrderMark: false), new UnicodeEncoding(bigEndian: true, byteOrderMark: false)];

    /// <summary>The distinct byte forms of <paramref name="word"/>, each with a description for failure messages.</summary>
    public static IReadOnlyList<(string Form, byte[] Bytes)> Forms(string word)
    {
        var texts = new List<string>
        {
            word,
            word.Normalize(NormalizationForm.FormC),
            word.Normalize(NormalizationForm.FormD),
            word.ToLowerInvariant(),
            word.ToUpperInvariant(),
            Fold(word),
            Fold(word).ToUpperInvariant(),
        };

        // The index's own terms: the bytes a sealed-then-leaked index would hold.
        texts.AddRange(SearchText.Terms(word).Where(t => t.Length >= 4));
        var forms = new List<(string, byte[])>();
        foreach (var text in texts.Distinct(StringComparer.Ordinal))
        {
            foreach (var encoding in Encodings)
            {
                forms.Add(($"'{text}' in {encoding.WebName}", encoding.GetBytes(text)));
            }
        }

        return forms;
    }

    /// <summary>Every (file, word, form) where one of <paramref name="words"/> appears in <paramref name="snapshot"/>.</summary>
    public static List<string> Find(HomeSnapshot snapshot, IEnumerable<string> words)
    {
        var found = new List<string>();
        foreach (var word in words)
        {
            foreach (var (form, bytes) in Forms(word))
            {
                foreach (var file in snapshot.Files.Where(f => f.Content.AsSpan().IndexOf(bytes) >= 0))
                {
                    found.Add($"{Path.Combine(snapshot.Root, file.RelativePath)} holds {form}");
                }
            }
        }

        return found;
    }

    /// <summary>True when <paramref name="content"/> holds <paramref name="word"/> in any of its forms.</summary>
    public static bool Contains(byte[] content, string word) => Forms(word).Any(f => content.AsSpan().IndexOf(f.Bytes) >= 0);

    /// <summary>Lower case without combining marks, computed here independently of the program's folding.</summary>
    public static string Fold(string text)
    {
        var kept = new StringBuilder(text.Length);
        foreach (var c in text.Normalize(NormalizationForm.FormD))
        {
            if (CharUnicodeInfo.GetUnicodeCategory(c) is not (UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark))
            {
                kept.Append(c);
            }
        }

        return kept.ToString().ToLowerInvariant();
    }
}
