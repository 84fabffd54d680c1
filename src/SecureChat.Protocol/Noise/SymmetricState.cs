using System.Security.Cryptography;
using System.Text;

namespace SecureChat.Protocol.Noise;

/// <summary>
/// A Noise <c>SymmetricState</c> (Noise spec revision 34, section 5.2): a <see cref="CipherState"/>
/// plus the chaining key ck and the handshake hash h. Owned by one <see cref="HandshakeState"/>.
/// </summary>
internal sealed class SymmetricState : IDisposable
{
    private readonly NoiseProtocol _protocol;
    private readonly NoiseHashFunction _hash;
    private readonly byte[] _chainingKey;
    private readonly byte[] _handshakeHash;
    private readonly CipherState _cipher;

    /// <summary>InitializeSymmetric(protocol_name).</summary>
    public SymmetricState(NoiseProtocol protocol)
    {
        _protocol = protocol;
        _hash = NoiseHashFunction.Create(protocol.Hash);
        _chainingKey = new byte[_hash.HashLength];
        _handshakeHash = new byte[_hash.HashLength];
        _cipher = new CipherState(protocol.Cipher);

        // h = protocol_name zero-padded to HASHLEN if it fits, HASH(protocol_name) otherwise; ck = h.
        var name = Encoding.ASCII.GetBytes(protocol.Name);
        if (name.Length <= _hash.HashLength)
        {
            name.CopyTo(_handshakeHash, 0);
        }
        else
        {
            _hash.Append(name);
            _hash.Finish(_handshakeHash);
        }

        _handshakeHash.CopyTo(_chainingKey, 0);
    }

    public bool HasKey => _cipher.HasKey;

    /// <summary>h, the hash of everything sent and received so far.</summary>
    public ReadOnlySpan<byte> HandshakeHash => _handshakeHash;

    /// <summary>MixKey: ck, temp_k = HKDF(ck, input_key_material, 2); InitializeKey(temp_k truncated to 32 bytes).</summary>
    public void MixKey(ReadOnlySpan<byte> inputKeyMaterial)
    {
        Span<byte> tempKey = stackalloc byte[_hash.HashLength];
        try
        {
            _hash.Hkdf(_chainingKey, inputKeyMaterial, _chainingKey, tempKey, []);
            _cipher.InitializeKey(tempKey[..CipherState.KeySize]);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(tempKey);
        }
    }

    /// <summary>MixHash: h = HASH(h || data).</summary>
    public void MixHash(ReadOnlySpan<byte> data)
    {
        _hash.Append(_handshakeHash);
        _hash.Append(data);
        _hash.Finish(_handshakeHash);
    }

    /// <summary>
    /// MixKeyAndHash (section 9.1): ck, temp_h, temp_k = HKDF(ck, input_key_material, 3);
    /// MixHash(temp_h); InitializeKey(temp_k truncated to 32 bytes).
    /// </summary>
    public void MixKeyAndHash(ReadOnlySpan<byte> inputKeyMaterial)
    {
        Span<byte> tempHash = stackalloc byte[_hash.HashLength];
        Span<byte> tempKey = stackalloc byte[_hash.HashLength];
        try
        {
            _hash.Hkdf(_chainingKey, inputKeyMaterial, _chainingKey, tempHash, tempKey);
            MixHash(tempHash);
            _cipher.InitializeKey(tempKey[..CipherState.KeySize]);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(tempHash);
            CryptographicOperations.ZeroMemory(tempKey);
        }
    }

    /// <summary>EncryptAndHash: ciphertext = EncryptWithAd(h, plaintext); MixHash(ciphertext).</summary>
    /// <returns>The number of bytes written to <paramref name="ciphertext"/>.</returns>
    public int EncryptAndHash(ReadOnlySpan<byte> plaintext, Span<byte> ciphertext)
    {
        var written = _cipher.Encrypt(_handshakeHash, plaintext, ciphertext);
        MixHash(ciphertext[..written]);
        return written;
    }

    /// <summary>
    /// DecryptAndHash: plaintext = DecryptWithAd(h, ciphertext); MixHash(ciphertext). False, with h
    /// unchanged and the output cleared, when the ciphertext does not authenticate.
    /// </summary>
    public bool TryDecryptAndHash(ReadOnlySpan<byte> ciphertext, Span<byte> plaintext, out int written)
    {
        if (!_cipher.TryDecrypt(_handshakeHash, ciphertext, plaintext, out written))
        {
            return false;
        }

        MixHash(ciphertext);
        return true;
    }

    /// <summary>
    /// Split: temp_k1, temp_k2 = HKDF(ck, empty, 2), each truncated to 32 bytes, keying c1
    /// (initiator to responder) and c2 (responder to initiator). The exporter secret is HKDF's
    /// third output over the same inputs, truncated to 32 bytes: outputs 1 and 2 do not depend on
    /// it, so the transport keys are exactly the spec's, and knowing them reveals nothing of it.
    /// </summary>
    public (CipherState InitiatorToResponder, CipherState ResponderToInitiator, Crypto.SecretBytes Exporter) Split()
    {
        Span<byte> tempKey1 = stackalloc byte[_hash.HashLength];
        Span<byte> tempKey2 = stackalloc byte[_hash.HashLength];
        Span<byte> tempKey3 = stackalloc byte[_hash.HashLength];
        var c1 = new CipherState(_protocol.Cipher);
        var c2 = new CipherState(_protocol.Cipher);
        try
        {
            _hash.Hkdf(_chainingKey, [], tempKey1, tempKey2, tempKey3);
            c1.InitializeKey(tempKey1[..CipherState.KeySize]);
            c2.InitializeKey(tempKey2[..CipherState.KeySize]);
            return (c1, c2, new Crypto.SecretBytes(tempKey3[..CipherState.KeySize]));
        }
        catch
        {
            c1.Dispose();
            c2.Dispose();
            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(tempKey1);
            CryptographicOperations.ZeroMemory(tempKey2);
            CryptographicOperations.ZeroMemory(tempKey3);
        }
    }

    /// <summary>Wipes ck and the handshake key; h survives for channel binding (section 11.2).</summary>
    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_chainingKey);
        _cipher.Dispose();
        _hash.Dispose();
    }
}
