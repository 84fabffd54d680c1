using System.Diagnostics.CodeAnalysis;
using SecureChat.Crypto;

namespace SecureChat.Protocol.Identity;

/// <summary>
/// An account's identity: its Ed25519 public key, written as 52 characters of z-base-32.
/// </summary>
public sealed class AccountId : IEquatable<AccountId>
{
    public const int TextLength = 52;

    private readonly byte[] _publicKey;

    private AccountId(byte[] publicKey)
    {
        _publicKey = publicKey;
        Text = ZBase32.Encode(publicKey);
    }

    /// <summary>The account's Ed25519 public key.</summary>
    public ReadOnlySpan<byte> PublicKey => _publicKey;

    /// <summary>The ID as people copy it: 52 z-base-32 characters.</summary>
    public string Text { get; }

    /// <summary>
    /// A short, checksum-free fingerprint for people to compare at a glance: the first 80 bits of
    /// BLAKE2b-256 over a domain label and the key, as four groups of four z-base-32 characters.
    /// </summary>
    public string Fingerprint
    {
        get
        {
            var digest = Blake2b.Hash256([.. "SecureChat fingerprint v1"u8, .. _publicKey]);
            var text = ZBase32.Encode(digest.AsSpan(0, 10));
            return string.Join('-', text.Chunk(4).Select(c => new string(c)));
        }
    }

    public static AccountId FromPublicKey(ReadOnlySpan<byte> publicKey)
    {
        if (publicKey.Length != Ed25519.PublicKeySize)
        {
            throw new ArgumentException($"An account key is {Ed25519.PublicKeySize} bytes.", nameof(publicKey));
        }

        return new AccountId(publicKey.ToArray());
    }

    /// <summary>Parses a typed ID; surrounding white space is ignored, ASCII letters may be upper or lower case.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out AccountId? id)
    {
        id = null;
        var trimmed = text.AsSpan().Trim();
        Span<byte> key = stackalloc byte[Ed25519.PublicKeySize];
        if (!ZBase32.TryDecode(trimmed, key))
        {
            return false;
        }

        id = new AccountId(key.ToArray());
        return true;
    }

    public bool Equals(AccountId? other) => other is not null && _publicKey.AsSpan().SequenceEqual(other._publicKey);

    public override bool Equals(object? obj) => Equals(obj as AccountId);

    public override int GetHashCode() => BitConverter.ToInt32(_publicKey, 0);

    public override string ToString() => Text;
}
