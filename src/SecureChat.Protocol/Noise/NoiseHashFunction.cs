using System.Diagnostics;
using System.Security.Cryptography;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Digests;

namespace SecureChat.Protocol.Noise;

/// <summary>
/// HASH, HMAC-HASH and HKDF as the Noise spec revision 34 defines them (section 4.3), over one of
/// the hash functions of sections 12.5 to 12.8. Not thread-safe: each symmetric state owns one.
/// </summary>
internal abstract class NoiseHashFunction : IDisposable
{
    private const byte InnerPad = 0x36;
    private const byte OuterPad = 0x5c;

    private NoiseHashFunction(int hashLength, int blockLength)
    {
        HashLength = hashLength;
        BlockLength = blockLength;
    }

    /// <summary>HASHLEN: 32 or 64.</summary>
    public int HashLength { get; }

    /// <summary>BLOCKLEN: the hash's internal block size, the B of HMAC (RFC 2104).</summary>
    public int BlockLength { get; }

    public static NoiseHashFunction Create(NoiseHash hash) => hash switch
    {
        NoiseHash.Sha256 => new Sha2(HashAlgorithmName.SHA256, 32, 64),
        NoiseHash.Sha512 => new Sha2(HashAlgorithmName.SHA512, 64, 128),
        NoiseHash.Blake2b => new Blake2(new Blake2bDigest(512), 64, 128),
        NoiseHash.Blake2s => new Blake2(new Blake2sDigest(256), 32, 64),
        _ => throw new ArgumentOutOfRangeException(nameof(hash), hash, "Unknown Noise hash function."),
    };

    /// <summary>Feeds the next part of the input.</summary>
    public abstract void Append(ReadOnlySpan<byte> data);

    /// <summary>Writes HASH(everything appended) to <paramref name="output"/> and starts over.</summary>
    public abstract void Finish(Span<byte> output);

    public abstract void Dispose();

    /// <summary>HMAC-HASH(key, data1 || data2) per RFC 2104, with the key zero-padded to BLOCKLEN.</summary>
    public void Hmac(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data1, ReadOnlySpan<byte> data2, Span<byte> output)
    {
        // Noise only keys HMAC with HASHLEN-byte values (ck and temp_key), never longer than a block.
        Debug.Assert(key.Length <= BlockLength, "HMAC keys are at most one block long in Noise.");
        Debug.Assert(output.Length == HashLength, "HMAC writes exactly HASHLEN bytes.");
        Span<byte> pad = stackalloc byte[BlockLength];
        Span<byte> inner = stackalloc byte[HashLength];
        try
        {
            pad.Clear();
            key.CopyTo(pad);
            Xor(pad, InnerPad);
            Append(pad);
            Append(data1);
            Append(data2);
            Finish(inner);

            Xor(pad, InnerPad ^ OuterPad);
            Append(pad);
            Append(inner);
            Finish(output);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pad);
            CryptographicOperations.ZeroMemory(inner);
        }
    }

    /// <summary>
    /// HKDF(chaining_key, input_key_material, 2 or 3) of section 4.3: RFC 5869 with the chaining key
    /// as salt and an empty info. Each output is HASHLEN bytes; <paramref name="output3"/> is computed
    /// only when it is not empty. An output may alias <paramref name="chainingKey"/>.
    /// </summary>
    public void Hkdf(ReadOnlySpan<byte> chainingKey, ReadOnlySpan<byte> inputKeyMaterial, Span<byte> output1, Span<byte> output2, Span<byte> output3)
    {
        Span<byte> tempKey = stackalloc byte[HashLength];
        try
        {
            Hmac(chainingKey, inputKeyMaterial, [], tempKey);
            Hmac(tempKey, [0x01], [], output1);
            Hmac(tempKey, output1, [0x02], output2);
            if (!output3.IsEmpty)
            {
                Hmac(tempKey, output2, [0x03], output3);
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(tempKey);
        }
    }

    private static void Xor(Span<byte> buffer, int value)
    {
        for (var i = 0; i < buffer.Length; i++)
        {
            buffer[i] ^= (byte)value;
        }
    }

    /// <summary>SHA-256 and SHA-512 (sections 12.5, 12.6) from the BCL.</summary>
    private sealed class Sha2(HashAlgorithmName name, int hashLength, int blockLength) : NoiseHashFunction(hashLength, blockLength)
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(name);

        public override void Append(ReadOnlySpan<byte> data) => _hash.AppendData(data);

        public override void Finish(Span<byte> output) => _hash.GetHashAndReset(output);

        public override void Dispose() => _hash.Dispose();
    }

    /// <summary>Unkeyed BLAKE2b-512 and BLAKE2s-256 (sections 12.7, 12.8, RFC 7693) from BouncyCastle.</summary>
    private sealed class Blake2(IDigest digest, int hashLength, int blockLength) : NoiseHashFunction(hashLength, blockLength)
    {
        public override void Append(ReadOnlySpan<byte> data) => digest.BlockUpdate(data);

        public override void Finish(Span<byte> output) => digest.DoFinal(output);

        public override void Dispose() => digest.Reset();
    }
}
