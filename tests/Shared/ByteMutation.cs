namespace SecureChat.Testing;

/// <summary>
/// The damage a property test does to a valid encoding, so that decoders are driven past their
/// first checks (random bytes rarely are): one bit flipped, cut short, bytes appended, overwritten,
/// inserted or removed. Pure, so that CsCheck can draw the arguments and shrink them.
/// </summary>
internal static class ByteMutation
{
    /// <summary>How many kinds <see cref="Apply"/> knows; draw <c>kind</c> from 0 to this minus one.</summary>
    public const int Kinds = 6;

    /// <summary>
    /// A damaged copy of <paramref name="original"/>: <paramref name="position"/> (any non-negative
    /// number) picks the place, <paramref name="bytes"/> (at least one) what is written or how much
    /// goes. The result may equal the original (an overwrite with the same bytes).
    /// </summary>
    public static byte[] Apply(byte[] original, int kind, int position, byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(original);
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        ArgumentOutOfRangeException.ThrowIfZero(bytes.Length);
        if (original.Length == 0)
        {
            return [.. bytes];
        }

        var at = position % original.Length;
        switch (kind)
        {
            case 0:
                var flipped = original.ToArray();
                flipped[at] ^= (byte)(1 << (position / original.Length % 8));
                return flipped;
            case 1:
                return original[..at];
            case 2:
                return [.. original, .. bytes];
            case 3:
                var overwritten = original.ToArray();
                bytes.AsSpan(0, Math.Min(bytes.Length, original.Length - at)).CopyTo(overwritten.AsSpan(at));
                return overwritten;
            case 4:
                return [.. original[..at], .. bytes, .. original[at..]];
            case 5:
                return [.. original[..at], .. original[Math.Min(original.Length, at + bytes.Length)..]];
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), $"A mutation kind is 0 to {Kinds - 1}.");
        }
    }
}
