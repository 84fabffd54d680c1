using System.Security.Cryptography;
using System.Text;

namespace SecureChat.Storage.CrashWriter;

/// <summary>
/// What the writer prints and what it stores, shared with the test that kills it. Stdout is one
/// line per event: <see cref="Opening"/>, then <see cref="Ready"/> once the store is open and the
/// contact exists, then <c>saved ID</c> for each message after <c>Messages.Add</c> returned.
/// </summary>
public static class CrashWriterOutput
{
    public const string Opening = "opening";

    public const string Ready = "ready";

    public const string SavedPrefix = "saved ";

    /// <summary>The most UTF-8 bytes a message text takes.</summary>
    public const int MaxTextBytes = 300;

    /// <summary>
    /// Padding characters: ASCII, two-byte Latin and Greek, three-byte CJK and four-byte emoji
    /// (surrogate pairs), so a torn or misplaced write would show as a wrong or undecodable text.
    /// </summary>
    private static readonly string[] Alphabet =
    [
        .. "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789.,!?".Select(c => c.ToString()),
        "é", "ü", "ß", "ç", "ñ", "ø", "Ω", "λ", "π", "日", "本", "語", "中", "文", "한", "🔐", "👍", "🎉",
    ];

    /// <summary>
    /// The text of the <paramref name="index"/>-th message a writer run stores: the index, then
    /// 0–~290 bytes of padding drawn from SHA-256 of the message's (random) ID, so the test that only
    /// sees the ID in the <c>saved</c> line knows the exact text to expect.
    /// </summary>
    public static string Text(string messageId, int index)
    {
        ArgumentNullException.ThrowIfNull(messageId);
        var text = new StringBuilder($"#{index} ");
        var bytes = Encoding.UTF8.GetByteCount(text.ToString());
        var drawn = PaddingBytes(messageId);
        var length = drawn[0] | (drawn[1] << 8);
        var target = length % (MaxTextBytes - bytes + 1);
        for (var i = 2; ; i++)
        {
            if (i == drawn.Length)
            {
                drawn = [.. drawn, .. SHA256.HashData(drawn.AsSpan(drawn.Length - 32))];
            }

            var next = Alphabet[drawn[i] % Alphabet.Length];
            var size = Encoding.UTF8.GetByteCount(next);
            if (bytes + size > target)
            {
                return text.ToString();
            }

            text.Append(next);
            bytes += size;
        }
    }

    private static byte[] PaddingBytes(string messageId) => SHA256.HashData(Encoding.ASCII.GetBytes("SecureChat crash writer\0" + messageId));
}
