using System.Security.Cryptography;
using SecureChat.Crypto;
using SecureChat.Protocol.Identity;

namespace SecureChat.Protocol.Discovery;

/// <summary>
/// The secret two accounts share without ever having talked: X25519 between their account keys
/// (each Ed25519 key mapped to its X25519 form), run through HKDF-SHA256 with both keys, lower one
/// first, so each side derives the same 32 bytes. Everything discovery publishes or recognises for
/// the pair (rendezvous keys, LAN beacon tags) comes from it; no one else can compute it.
/// </summary>
public static class PairSecret
{
    public const int Size = 32;
    private static ReadOnlySpan<byte> Salt => "SecureChat pair secret v1"u8;

    /// <summary>The pair secret; null when the contact's key is not a valid point (a damaged or hostile ID).</summary>
    public static SecretBytes? Derive(ReadOnlySpan<byte> ownAccountSeed, AccountId own, AccountId contact)
    {
        ArgumentNullException.ThrowIfNull(own);
        ArgumentNullException.ThrowIfNull(contact);
        Span<byte> privateKey = stackalloc byte[X25519.KeySize];
        Span<byte> contactKey = stackalloc byte[X25519.KeySize];
        Span<byte> shared = stackalloc byte[X25519.KeySize];
        try
        {
            if (!X25519.TryFromEd25519PublicKey(contact.PublicKey, contactKey))
            {
                return null;
            }

            X25519.FromEd25519PrivateKey(ownAccountSeed, privateKey);
            if (!X25519.TryAgree(privateKey, contactKey, shared))
            {
                return null;
            }

            var first = own.PublicKey.SequenceCompareTo(contact.PublicKey) < 0 ? own : contact;
            var second = first == own ? contact : own;
            byte[] info = [.. first.PublicKey, .. second.PublicKey];
            var secret = new byte[Size];
            HKDF.DeriveKey(HashAlgorithmName.SHA256, shared, secret, Salt, info);
            return SecretBytes.Adopt(secret);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(privateKey);
            CryptographicOperations.ZeroMemory(shared);
        }
    }

    /// <summary>HKDF-Expand of the pair secret for one purpose, one direction (publisher or sender first).</summary>
    internal static byte[] Expand(ReadOnlySpan<byte> pairSecret, ReadOnlySpan<byte> label, ReadOnlySpan<byte> context, AccountId from, AccountId to, int length)
    {
        byte[] info = [.. label, .. context, .. from.PublicKey, .. to.PublicKey];
        var output = new byte[length];
        HKDF.Expand(HashAlgorithmName.SHA256, pairSecret, output, info);
        return output;
    }
}
