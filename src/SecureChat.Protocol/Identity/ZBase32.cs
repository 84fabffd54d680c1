namespace SecureChat.Protocol.Identity;

/// <summary>
/// z-base-32 (Zooko's human-oriented base-32), as Pkarr writes Ed25519 keys: bits are taken most
/// significant first, five at a time, and the last character is padded with zero bits.
/// </summary>
public static class ZBase32
{
    private const string Alphabet = "ybndrfg8ejkmcpqxot1uwisza345h769";

    public static int EncodedLength(int byteCount) => ((byteCount * 8) + 4) / 5;

    public static string Encode(ReadOnlySpan<byte> data)
    {
        var chars = new char[EncodedLength(data.Length)];
        int buffer = 0, bits = 0, index = 0;
        foreach (var b in data)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                bits -= 5;
                chars[index++] = Alphabet[(buffer >> bits) & 31];
            }
        }

        if (bits > 0)
        {
            chars[index] = Alphabet[(buffer << (5 - bits)) & 31];
        }

        return new string(chars);
    }

    /// <summary>
    /// Decodes exactly <paramref name="output"/>.Length bytes. False for a wrong length, a character
    /// outside the alphabet (ASCII letters in either case; nothing else), or non-zero padding bits (so each value has one spelling).
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<char> text, Span<byte> output)
    {
        if (text.Length != EncodedLength(output.Length))
        {
            return false;
        }

        int buffer = 0, bits = 0, index = 0;
        foreach (var c in text)
        {
            // ASCII case folding only: a look-alike such as U+212A KELVIN SIGN is not a 'k'.
            var lower = c is >= 'A' and <= 'Z' ? (char)(c | 0x20) : c;
            var value = Alphabet.IndexOf(lower, StringComparison.Ordinal);
            if (value < 0)
            {
                return false;
            }

            buffer = ((buffer << 5) | value) & 0xFFF;
            bits += 5;
            if (bits >= 8)
            {
                bits -= 8;
                output[index++] = (byte)(buffer >> bits);
            }
        }

        return (buffer & ((1 << bits) - 1)) == 0;
    }
}
