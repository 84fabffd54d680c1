using System.Security.Cryptography;

namespace SecureChat.Crypto;

/// <summary>
/// Owns a buffer of secret key material and wipes it on <see cref="Dispose"/>. Secrets never live
/// in strings; this is the one type that carries them between layers.
/// </summary>
public sealed class SecretBytes : IDisposable
{
    private readonly byte[] _bytes;
    private bool _disposed;

    /// <summary>Takes a copy of <paramref name="secret"/>; the caller wipes its own copy.</summary>
    public SecretBytes(ReadOnlySpan<byte> secret)
    {
        _bytes = secret.ToArray();
    }

    private SecretBytes(byte[] owned)
    {
        _bytes = owned;
    }

    /// <summary>Fresh random bytes from the operating system's CSPRNG.</summary>
    public static SecretBytes Random(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        return new SecretBytes(RandomNumberGenerator.GetBytes(length));
    }

    /// <summary>Wraps <paramref name="owned"/> without copying; the array now belongs to this instance.</summary>
    public static SecretBytes Adopt(byte[] owned) => new(owned ?? throw new ArgumentNullException(nameof(owned)));

    public int Length => _bytes.Length;

    /// <summary>The secret; valid until <see cref="Dispose"/>.</summary>
    public ReadOnlySpan<byte> Span
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _bytes;
        }
    }

    public void Dispose()
    {
        if (!_disposed)
        {
            CryptographicOperations.ZeroMemory(_bytes);
            _disposed = true;
        }
    }

    /// <summary>Never prints the secret.</summary>
    public override string ToString() => $"SecretBytes[{_bytes.Length}]";
}
