using System.Diagnostics.CodeAnalysis;

namespace SecureChat.Protocol.Noise;

/// <summary>
/// A concrete Noise protocol (Noise spec revision 34, section 8): a handshake pattern with its
/// modifiers, the DH functions (only <c>25519</c>), the cipher functions and the hash function, as
/// named by <c>Noise_&lt;pattern&gt;_&lt;dh&gt;_&lt;cipher&gt;_&lt;hash&gt;</c>. Immutable.
/// </summary>
public sealed class NoiseProtocol
{
    private const string Prefix = "Noise";
    private const string Dh25519 = "25519";

    // Section 8: the whole name is at most 255 bytes.
    private const int MaxNameLength = 255;

    private NoiseProtocol(string name, HandshakePattern pattern, NoiseCipher cipher, NoiseHash hash)
    {
        Name = name;
        Pattern = pattern;
        Cipher = cipher;
        Hash = hash;
    }

    /// <summary>The protocol name, e.g. <c>Noise_XX_25519_ChaChaPoly_BLAKE2b</c>; it is hashed into h.</summary>
    public string Name { get; }

    /// <summary>The handshake pattern, modifiers applied.</summary>
    public HandshakePattern Pattern { get; }

    /// <summary>The cipher functions.</summary>
    public NoiseCipher Cipher { get; }

    /// <summary>The hash function.</summary>
    public NoiseHash Hash { get; }

    /// <summary>Parses a protocol name such as <c>Noise_IK_25519_ChaChaPoly_BLAKE2b</c>.</summary>
    /// <exception cref="ArgumentException">The name is malformed or names something this engine does not implement.</exception>
    public static NoiseProtocol Parse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return TryParse(name, out var protocol, out var error) ? protocol : throw new ArgumentException(error, nameof(name));
    }

    /// <summary>Parses a protocol name; false when it is malformed or unsupported.</summary>
    public static bool TryParse(string? name, [NotNullWhen(true)] out NoiseProtocol? protocol) =>
        TryParse(name, out protocol, out _);

    /// <summary>The protocol name.</summary>
    public override string ToString() => Name;

    private static bool TryParse(string? name, [NotNullWhen(true)] out NoiseProtocol? protocol, out string error)
    {
        protocol = null;
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength || !name.All(char.IsAscii))
        {
            error = "A Noise protocol name is 1 to 255 ASCII characters.";
            return false;
        }

        var sections = name.Split('_');
        if (sections.Length != 5 || sections[0] != Prefix)
        {
            error = $"'{name}' is not of the form Noise_<pattern>_<dh>_<cipher>_<hash>.";
            return false;
        }

        if (!HandshakePattern.TryParse(sections[1], out var pattern, out error))
        {
            return false;
        }

        if (sections[2] != Dh25519)
        {
            error = $"Unsupported DH functions '{sections[2]}': only 25519 is implemented.";
            return false;
        }

        NoiseCipher? cipher = sections[3] switch
        {
            "ChaChaPoly" => NoiseCipher.ChaChaPoly,
            "AESGCM" => NoiseCipher.AesGcm,
            _ => null,
        };
        if (cipher is null)
        {
            error = $"Unsupported cipher functions '{sections[3]}': ChaChaPoly or AESGCM.";
            return false;
        }

        NoiseHash? hash = sections[4] switch
        {
            "SHA256" => NoiseHash.Sha256,
            "SHA512" => NoiseHash.Sha512,
            "BLAKE2b" => NoiseHash.Blake2b,
            "BLAKE2s" => NoiseHash.Blake2s,
            _ => null,
        };
        if (hash is null)
        {
            error = $"Unsupported hash function '{sections[4]}': SHA256, SHA512, BLAKE2b or BLAKE2s.";
            return false;
        }

        protocol = new NoiseProtocol(name, pattern, cipher.Value, hash.Value);
        error = string.Empty;
        return true;
    }
}
