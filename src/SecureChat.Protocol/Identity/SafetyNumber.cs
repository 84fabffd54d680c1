using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace SecureChat.Protocol.Identity;

/// <summary>
/// The numeric safety number two people compare out of band to verify each other: 60 digits in
/// twelve groups of five, the same on both sides.
/// </summary>
/// <remarks>
/// Each account contributes 30 digits derived from its key by 5,200 iterations of SHA-512 (the
/// work factor raises the cost of searching for a key whose half collides); the two halves are
/// ordered by key so both sides print the same number.
/// </remarks>
public static class SafetyNumber
{
    private const int Iterations = 5200;

    public static string Compute(AccountId a, AccountId b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var first = Half(a);
        var second = Half(b);
        var ordered = a.PublicKey.SequenceCompareTo(b.PublicKey) <= 0 ? first + second : second + first;
        var groups = new StringBuilder();
        for (var i = 0; i < ordered.Length; i += 5)
        {
            if (i > 0)
            {
                groups.Append(' ');
            }

            groups.Append(ordered, i, 5);
        }

        return groups.ToString();
    }

    private static string Half(AccountId id)
    {
        var key = id.PublicKey;
        byte[] digest = SHA512.HashData([.. "SecureChat safety number v1"u8, .. key]);
        for (var i = 1; i < Iterations; i++)
        {
            digest = SHA512.HashData([.. digest, .. key]);
        }

        // Six chunks of five bytes, each reduced to five decimal digits.
        var digits = new StringBuilder(30);
        for (var chunk = 0; chunk < 6; chunk++)
        {
            ulong value = 0;
            for (var j = 0; j < 5; j++)
            {
                value = (value << 8) | digest[(chunk * 5) + j];
            }

            digits.Append((value % 100000).ToString("D5", CultureInfo.InvariantCulture));
        }

        return digits.ToString();
    }
}
