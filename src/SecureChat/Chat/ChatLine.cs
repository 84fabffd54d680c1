using System.Text;
using SecureChat.Protocol.Channel;

namespace SecureChat.Chat;

/// <summary>
/// Protocol version 1 carries one chat line per channel message, as UTF-8 (docs/protocol.md).
/// </summary>
internal static class ChatLine
{
    private static readonly UTF8Encoding Strict = new(false, true);

    public static int MaxBytes => ChannelSession.MaxMessageSize;

    /// <summary>Encodes a typed line; null when it is too long for one message.</summary>
    public static byte[]? TryEncode(string line)
    {
        var bytes = Encoding.UTF8.GetBytes(line);
        return bytes.Length <= MaxBytes ? bytes : null;
    }

    /// <summary>Decodes a received line; invalid UTF-8 is shown with replacement characters.</summary>
    public static string Decode(byte[] message)
    {
        try
        {
            return Strict.GetString(message);
        }
        catch (DecoderFallbackException)
        {
            return Encoding.UTF8.GetString(message);
        }
    }
}
