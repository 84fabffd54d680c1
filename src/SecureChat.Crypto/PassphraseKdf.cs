using NSec.Cryptography;

namespace SecureChat.Crypto;

/// <summary>Argon2id cost parameters, stored beside whatever they protect so they can be raised later.</summary>
/// <param name="MemoryKiB">Memory in KiB.</param>
/// <param name="Passes">Number of passes over memory.</param>
public sealed record Argon2idParameters(int MemoryKiB, int Passes)
{
    /// <summary>64 MiB, 3 passes: about a quarter of a second on one core of this project's reference machine.</summary>
    public static Argon2idParameters Default { get; } = new(64 * 1024, 3);

    /// <summary>The smallest accepted cost; anything cheaper is refused when read back from disk.</summary>
    public static Argon2idParameters Minimum { get; } = new(8 * 1024, 1);

    /// <summary>Within bounds: at least <see cref="Minimum"/>, at most 1 GiB and 16 passes (a tampered file cannot make unlocking take forever).</summary>
    public bool IsWithinBounds => MemoryKiB >= Minimum.MemoryKiB && Passes >= Minimum.Passes && MemoryKiB <= 1024 * 1024 && Passes <= 16;
}

/// <summary>Derives a 32-byte key from a passphrase with Argon2id (RFC 9106).</summary>
public static class PassphraseKdf
{
    public const int SaltSize = 16;
    public const int KeySize = 32;

    public static SecretBytes DeriveKey(ReadOnlySpan<byte> passphrase, ReadOnlySpan<byte> salt, Argon2idParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (salt.Length != SaltSize)
        {
            throw new ArgumentException($"Expected a {SaltSize}-byte salt.", nameof(salt));
        }

        if (!parameters.IsWithinBounds)
        {
            throw new ArgumentException("Argon2id parameters are outside the accepted range.", nameof(parameters));
        }

        var algorithm = PasswordBasedKeyDerivationAlgorithm.Argon2id(new Argon2Parameters
        {
            DegreeOfParallelism = 1,
            MemorySize = parameters.MemoryKiB,
            NumberOfPasses = parameters.Passes,
        });
        var key = new byte[KeySize];
        algorithm.DeriveBytes(passphrase, salt, key);
        return SecretBytes.Adopt(key);
    }
}
