using System.Security.Cryptography;
using SecureChat.Crypto.Interop;

namespace SecureChat.Crypto;

/// <summary>
/// X25519 Diffie-Hellman (RFC 7748 section 5) through libsodium, with raw 32-byte keys and raw
/// shared secrets, as the Noise handshake needs them.
/// </summary>
public static class X25519
{
    /// <summary>Size of private keys, public keys and shared secrets, in bytes.</summary>
    public const int KeySize = 32;

    /// <summary>Creates a key pair from the operating system's CSPRNG.</summary>
    /// <exception cref="ArgumentException">A buffer is not <see cref="KeySize"/> bytes.</exception>
    public static void GenerateKeyPair(Span<byte> privateKey, Span<byte> publicKey)
    {
        CheckSize(privateKey.Length, nameof(privateKey));
        CheckSize(publicKey.Length, nameof(publicKey));
        RandomNumberGenerator.Fill(privateKey);
        DerivePublicKey(privateKey, publicKey);
    }

    /// <summary>Computes the public key X25519(privateKey, 9) of a private key.</summary>
    /// <exception cref="ArgumentException">A buffer is not <see cref="KeySize"/> bytes.</exception>
    public static void DerivePublicKey(ReadOnlySpan<byte> privateKey, Span<byte> publicKey)
    {
        CheckSize(privateKey.Length, nameof(privateKey));
        CheckSize(publicKey.Length, nameof(publicKey));
        Libsodium.EnsureInitialized();
        if (Libsodium.crypto_scalarmult_curve25519_base(ref publicKey[0], in privateKey[0]) != 0)
        {
            // Unreachable: the clamped scalar (RFC 7748 section 5) is never zero modulo the group order.
            throw new CryptographicException("X25519 public key derivation failed.");
        }
    }

    /// <summary>
    /// The X25519 form of an Ed25519 public key (the birational map of RFC 7748 section 4.1), so
    /// that two accounts known only by their Ed25519 keys can agree on a secret. False for a key
    /// that is not a valid point.
    /// </summary>
    public static bool TryFromEd25519PublicKey(ReadOnlySpan<byte> ed25519PublicKey, Span<byte> publicKey)
    {
        CheckSize(publicKey.Length, nameof(publicKey));
        if (ed25519PublicKey.Length != Ed25519.PublicKeySize)
        {
            return false;
        }

        Libsodium.EnsureInitialized();
        return Libsodium.crypto_sign_ed25519_pk_to_curve25519(ref publicKey[0], in ed25519PublicKey[0]) == 0;
    }

    /// <summary>The X25519 private key matching <see cref="TryFromEd25519PublicKey"/> for an Ed25519 seed: the clamped first half of SHA-512(seed).</summary>
    public static void FromEd25519PrivateKey(ReadOnlySpan<byte> ed25519Seed, Span<byte> privateKey)
    {
        CheckSize(privateKey.Length, nameof(privateKey));
        if (ed25519Seed.Length != Ed25519.PrivateKeySize)
        {
            throw new ArgumentException($"An Ed25519 seed is {Ed25519.PrivateKeySize} bytes.", nameof(ed25519Seed));
        }

        Span<byte> secretKey = stackalloc byte[64];
        try
        {
            ed25519Seed.CopyTo(secretKey);
            Ed25519.DerivePublicKey(ed25519Seed, secretKey[32..]);
            Libsodium.EnsureInitialized();
            _ = Libsodium.crypto_sign_ed25519_sk_to_curve25519(ref privateKey[0], in secretKey[0]);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secretKey);
        }
    }

    /// <summary>
    /// Computes the shared secret X25519(privateKey, publicKey). Returns false, with
    /// <paramref name="sharedSecret"/> wiped, when the result is all zero: the public key is a point
    /// of small order, which RFC 7748 section 6.1 allows a party to reject. Hostile input is not an
    /// exception.
    /// </summary>
    /// <exception cref="ArgumentException">A buffer is not <see cref="KeySize"/> bytes.</exception>
    public static bool TryAgree(ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> publicKey, Span<byte> sharedSecret)
    {
        CheckSize(privateKey.Length, nameof(privateKey));
        CheckSize(publicKey.Length, nameof(publicKey));
        CheckSize(sharedSecret.Length, nameof(sharedSecret));
        Libsodium.EnsureInitialized();
        if (Libsodium.crypto_scalarmult_curve25519(ref sharedSecret[0], in privateKey[0], in publicKey[0]) != 0)
        {
            CryptographicOperations.ZeroMemory(sharedSecret);
            return false;
        }

        return true;
    }

    /// <summary>
    /// True when <paramref name="publicKey"/> is 32 bytes and not a point of small order, i.e. when
    /// an agreement with it can never yield the all-zero secret. A table lookup, not a scalar
    /// multiplication (a handshake checks every key it receives).
    /// </summary>
    /// <remarks>
    /// Every X25519 scalar is clamped to a multiple of the cofactor 8 (RFC 7748 section 5), so
    /// exactly the small-order inputs, on the curve and on its twist, map to zero. Their u modulo p
    /// are 0, 1, p − 1 and the two points of order 8; X25519 ignores the top bit and reduces u
    /// modulo p, so their encodings are those five and p, p + 1 (the only ones still below 2^255
    /// when p is added), with the top bit either way. (A public key is no secret: comparing it in
    /// variable time leaks nothing.)
    /// </remarks>
    public static bool IsValidPublicKey(ReadOnlySpan<byte> publicKey)
    {
        if (publicKey.Length != KeySize)
        {
            return false;
        }

        Span<byte> u = stackalloc byte[KeySize];
        publicKey.CopyTo(u);
        u[KeySize - 1] &= 0x7f;
        for (var i = 0; i < SmallOrderEncodings.Length; i += KeySize)
        {
            if (u.SequenceEqual(SmallOrderEncodings.Slice(i, KeySize)))
            {
                return false;
            }
        }

        return true;
    }

    // Little-endian, top bit clear: 0, 1, the two points of order 8, p − 1, p, p + 1.
    private static ReadOnlySpan<byte> SmallOrderEncodings =>
    [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
        0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00,
        0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef, 0x5b,
        0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57,
        0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
    ];

    private static void CheckSize(int actual, string name)
    {
        if (actual != KeySize)
        {
            throw new ArgumentException($"Expected {KeySize} bytes, got {actual}.", name);
        }
    }
}
