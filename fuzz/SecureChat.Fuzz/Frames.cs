using System.Buffers.Binary;

namespace SecureChat.Fuzz;

/// <summary>
/// Inputs that carry several messages (a handshake, a run of ratchet messages, datagrams) hold
/// each behind a 2-byte big-endian length, as SecureChat's frames do; a short last one is cut.
/// </summary>
internal static class Frames
{
    public static List<byte[]> Split(ReadOnlySpan<byte> input, int max = 64)
    {
        var messages = new List<byte[]>();
        while (input.Length >= 2 && messages.Count < max)
        {
            var length = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(input), input.Length - 2);
            messages.Add(input.Slice(2, length).ToArray());
            input = input[(2 + length)..];
        }

        return messages;
    }

    public static byte[] Join(params IEnumerable<byte[]> messages)
    {
        var output = new List<byte>();
        foreach (var message in messages)
        {
            output.Add((byte)(message.Length >> 8));
            output.Add((byte)message.Length);
            output.AddRange(message);
        }

        return [.. output];
    }
}
