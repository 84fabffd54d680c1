using System.Text;

namespace SecureChat.Protocol.Identity;

/// <summary>
/// Rules for text a peer chooses and a person reads (display names, chat lines, close reasons):
/// characters that can make text look other than it is are refused or replaced.
/// </summary>
public static class DisplayText
{
    /// <summary>
    /// Control characters (terminal escapes, line breaks), bidirectional embeddings, overrides,
    /// isolates and marks (which can reverse how a name or an ID reads), and invisible separators.
    /// Zero-width joiners stay allowed: emoji sequences and several scripts need them.
    /// </summary>
    public static bool IsDeceptive(char c) =>
        char.IsControl(c)
        || c is '\u061C' or '\u200B' or '\u200E' or '\u200F' or '\uFEFF'
        || c is >= '\u202A' and <= '\u202E'
        || c is >= '\u2060' and <= '\u2069';

    /// <summary>Replaces each deceptive character with U+FFFD, so it shows instead of acting.</summary>
    public static string Sanitize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var builder = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            builder.Append(IsDeceptive(c) ? '\uFFFD' : c);
        }

        return builder.ToString();
    }
}
