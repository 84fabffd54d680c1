using System.Buffers.Binary;
using System.Security.Cryptography;

namespace SecureChat.Protocol.Noise;

/// <summary>
/// A Noise <c>CipherState</c> (Noise spec revision 34, section 5.1): a 32-byte key k, which may be
/// empty, and a 64-bit nonce n. During the handshake it encrypts static keys and payloads; after
/// <see cref="HandshakeState.Split"/> one instance encrypts each direction of transport messages.
/// Not thread-safe. The key lives only inside the BCL AEAD object, which is disposed when the key
/// is replaced and on <see cref="Dispose"/>.
/// </summary>
public sealed class CipherState : IDisposable
{
    /// <summary>Size of the authentication tag each encryption adds (section 4.2).</summary>
    public const int TagSize = 16;

    /// <summary>Size of a cipher key (section 4.2).</summary>
    public const int KeySize = 32;

    // Section 5.1: the maximum nonce 2^64-1 is reserved (REKEY uses it); reaching it ends the
    // CipherState.
    private const ulong ReservedNonce = ulong.MaxValue;
    private const int AeadNonceSize = 12;

    private readonly NoiseCipher _cipher;
    private readonly string? _unusableReason;
    private IDisposable? _aead;
    private bool _disposed;

    internal CipherState(NoiseCipher cipher)
    {
        _cipher = cipher;
    }

    private CipherState(NoiseCipher cipher, string unusableReason)
    {
        _cipher = cipher;
        _unusableReason = unusableReason;
    }

    /// <summary>True once a key is set; without one, encryption passes data through (section 5.1).</summary>
    public bool HasKey => _aead is not null;

    /// <summary>The nonce n that the next encryption or decryption uses.</summary>
    public ulong Nonce { get; private set; }

    /// <summary>The cipher functions this state uses.</summary>
    public NoiseCipher Cipher => _cipher;

    /// <summary>
    /// EncryptWithAd (section 5.1): writes ENCRYPT(k, n++, ad, plaintext), the ciphertext followed by
    /// the <see cref="TagSize"/>-byte tag, to <paramref name="ciphertext"/>. Without a key it copies
    /// the plaintext and leaves n unchanged.
    /// </summary>
    /// <returns>The number of bytes written: the plaintext length, plus <see cref="TagSize"/> with a key.</returns>
    /// <exception cref="ArgumentException"><paramref name="ciphertext"/> is too small or overlaps <paramref name="plaintext"/>.</exception>
    /// <exception cref="InvalidOperationException">The nonce space is exhausted (n = 2^64-1): the session must end.</exception>
    public int Encrypt(ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext)
    {
        ThrowIfUnusable();
        var length = plaintext.Length + (HasKey ? TagSize : 0);
        if (ciphertext.Length < length)
        {
            throw new ArgumentException($"The ciphertext buffer needs {length} bytes, it has {ciphertext.Length}.", nameof(ciphertext));
        }

        if (plaintext.Overlaps(ciphertext))
        {
            throw new ArgumentException("The plaintext and ciphertext buffers must not overlap.", nameof(ciphertext));
        }

        if (!HasKey)
        {
            plaintext.CopyTo(ciphertext);
            return length;
        }

        ThrowIfNonceExhausted();
        Seal(Nonce, associatedData, plaintext, ciphertext[..length]);
        Nonce++;
        return length;
    }

    /// <summary>
    /// DecryptWithAd (section 5.1): writes DECRYPT(k, n, ad, ciphertext) to <paramref name="plaintext"/>
    /// and increments n. Without a key it copies the ciphertext and leaves n unchanged.
    /// </summary>
    /// <returns>
    /// False when the ciphertext is shorter than a tag or does not authenticate; then n is unchanged and
    /// <paramref name="plaintext"/> is cleared. Forged input is not an exception.
    /// </returns>
    /// <exception cref="ArgumentException"><paramref name="plaintext"/> cannot hold the plaintext or overlaps <paramref name="ciphertext"/>.</exception>
    /// <exception cref="InvalidOperationException">The nonce space is exhausted (n = 2^64-1): the session must end.</exception>
    public bool TryDecrypt(ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> ciphertext, Span<byte> plaintext, out int written)
    {
        ThrowIfUnusable();
        written = 0;
        if (plaintext.Overlaps(ciphertext))
        {
            throw new ArgumentException("The plaintext and ciphertext buffers must not overlap.", nameof(plaintext));
        }

        if (!HasKey)
        {
            if (plaintext.Length < ciphertext.Length)
            {
                throw new ArgumentException($"The plaintext buffer needs {ciphertext.Length} bytes, it has {plaintext.Length}.", nameof(plaintext));
            }

            ciphertext.CopyTo(plaintext);
            written = ciphertext.Length;
            return true;
        }

        ThrowIfNonceExhausted();
        if (ciphertext.Length < TagSize)
        {
            plaintext.Clear();
            return false;
        }

        var length = ciphertext.Length - TagSize;
        if (plaintext.Length < length)
        {
            throw new ArgumentException($"The plaintext buffer needs {length} bytes, it has {plaintext.Length}.", nameof(plaintext));
        }

        if (!Open(Nonce, associatedData, ciphertext, plaintext[..length]))
        {
            plaintext.Clear();
            return false;
        }

        Nonce++;
        written = length;
        return true;
    }

    /// <summary>
    /// SetNonce (section 5.1), for transports that carry n explicitly (section 11.4). The caller must
    /// then reject replayed nonces itself, and must never encrypt twice under one nonce.
    /// </summary>
    public void SetNonce(ulong nonce)
    {
        ThrowIfUnusable();
        Nonce = nonce;
    }

    /// <summary>
    /// Rekey (sections 4.2, 11.3): k = the first 32 bytes of ENCRYPT(k, 2^64-1, empty, 32 zero bytes).
    /// The nonce is not reset. Both parties must rekey at the same point of the message stream.
    /// </summary>
    /// <exception cref="InvalidOperationException">There is no key to rekey.</exception>
    public void Rekey()
    {
        ThrowIfUnusable();
        if (!HasKey)
        {
            throw new InvalidOperationException("A CipherState without a key cannot be rekeyed.");
        }

        Span<byte> zeros = stackalloc byte[KeySize];
        Span<byte> output = stackalloc byte[KeySize + TagSize];
        zeros.Clear();
        try
        {
            Seal(ReservedNonce, [], zeros, output);
            InitializeKey(output[..KeySize], resetNonce: false);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(output);
        }
    }

    /// <summary>Wipes the key.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _aead?.Dispose();
            _aead = null;
            _disposed = true;
        }
    }

    /// <summary>A state for the direction a one-way pattern never uses (section 7.4): every operation throws.</summary>
    internal static CipherState CreateUnusable(NoiseCipher cipher, string reason) => new(cipher, reason);

    /// <summary>InitializeKey (section 5.1): k = key, n = 0.</summary>
    internal void InitializeKey(ReadOnlySpan<byte> key) => InitializeKey(key, resetNonce: true);

    private void InitializeKey(ReadOnlySpan<byte> key, bool resetNonce)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (key.Length != KeySize)
        {
            throw new ArgumentException($"A cipher key is {KeySize} bytes.", nameof(key));
        }

        // The BCL AEAD keeps its own copy of the key and frees it on Dispose.
        _aead?.Dispose();
        _aead = _cipher switch
        {
            NoiseCipher.ChaChaPoly => new ChaCha20Poly1305(key),
            NoiseCipher.AesGcm => new AesGcm(key, TagSize),
            _ => throw new InvalidOperationException($"Unknown cipher {_cipher}."),
        };
        if (resetNonce)
        {
            Nonce = 0;
        }
    }

    private void Seal(ulong nonce, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> plaintext, Span<byte> output)
    {
        Span<byte> aeadNonce = stackalloc byte[AeadNonceSize];
        FormatNonce(nonce, aeadNonce);
        var ciphertext = output[..plaintext.Length];
        var tag = output.Slice(plaintext.Length, TagSize);
        switch (_aead)
        {
            case ChaCha20Poly1305 chaCha:
                chaCha.Encrypt(aeadNonce, plaintext, ciphertext, tag, associatedData);
                break;
            case AesGcm aesGcm:
                aesGcm.Encrypt(aeadNonce, plaintext, ciphertext, tag, associatedData);
                break;
            default:
                throw new InvalidOperationException("The CipherState has no key.");
        }
    }

    private bool Open(ulong nonce, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> input, Span<byte> plaintext)
    {
        Span<byte> aeadNonce = stackalloc byte[AeadNonceSize];
        FormatNonce(nonce, aeadNonce);
        var ciphertext = input[..plaintext.Length];
        var tag = input.Slice(plaintext.Length, TagSize);
        try
        {
            switch (_aead)
            {
                case ChaCha20Poly1305 chaCha:
                    chaCha.Decrypt(aeadNonce, ciphertext, tag, plaintext, associatedData);
                    break;
                case AesGcm aesGcm:
                    aesGcm.Decrypt(aeadNonce, ciphertext, tag, plaintext, associatedData);
                    break;
                default:
                    throw new InvalidOperationException("The CipherState has no key.");
            }

            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            // A forged or corrupted ciphertext is hostile input, reported as a result (STYLE rule 3).
            return false;
        }
    }

    // Sections 12.3 and 12.4: 32 zero bits, then n as 64 bits, little-endian for ChaChaPoly and
    // big-endian for AESGCM.
    private void FormatNonce(ulong nonce, Span<byte> aeadNonce)
    {
        aeadNonce[..4].Clear();
        if (_cipher == NoiseCipher.ChaChaPoly)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(aeadNonce[4..], nonce);
        }
        else
        {
            BinaryPrimitives.WriteUInt64BigEndian(aeadNonce[4..], nonce);
        }
    }

    private void ThrowIfNonceExhausted()
    {
        if (Nonce == ReservedNonce)
        {
            throw new InvalidOperationException("The nonce space of this CipherState is exhausted (Noise section 5.1): start a new handshake.");
        }
    }

    private void ThrowIfUnusable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_unusableReason is not null)
        {
            throw new InvalidOperationException(_unusableReason);
        }
    }
}
