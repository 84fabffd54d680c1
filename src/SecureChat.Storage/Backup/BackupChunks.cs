using System.Buffers.Binary;
using System.Security.Cryptography;
using SecureChat.Crypto;

namespace SecureChat.Storage.Backup;

/// <summary>Seals plaintext into chunks as it is written (the format is described on <see cref="BackupChunks"/>).</summary>
internal sealed class BackupChunkWriter : IDisposable
{
    private readonly Stream _output;
    private readonly byte[] _header;
    private readonly SealingKey _key;
    private readonly byte[] _buffer;
    private int _filled;
    private ulong _index;
    private bool _completed;

    public BackupChunkWriter(Stream output, byte[] header, SealingKey key, int chunkSize)
    {
        _output = output;
        _header = header;
        _key = key;
        _buffer = new byte[chunkSize];
    }

    /// <summary>Appends plaintext; full chunks are sealed and written as they fill.</summary>
    public void Write(ReadOnlySpan<byte> data)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        while (!data.IsEmpty)
        {
            var n = Math.Min(data.Length, _buffer.Length - _filled);
            data[..n].CopyTo(_buffer.AsSpan(_filled));
            _filled += n;
            data = data[n..];
            if (_filled == _buffer.Length)
            {
                SealAndWrite(final: false);
            }
        }
    }

    /// <summary>Seals and writes the last chunk: what is buffered, always shorter than a chunk.</summary>
    public void Complete()
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        SealAndWrite(final: true);
        _completed = true;
    }

    public void Dispose()
    {
        _completed = true;
        CryptographicOperations.ZeroMemory(_buffer);
    }

    private void SealAndWrite(bool final)
    {
        _output.Write(_key.Seal(BackupChunks.AssociatedData(_header, _index, final), _buffer.AsSpan(0, _filled)));
        CryptographicOperations.ZeroMemory(_buffer);
        _filled = 0;
        _index++;
    }
}

/// <summary>
/// The body of a backup: the plaintext cut into chunks of the header's chunk size, each sealed
/// on its own (XChaCha20-Poly1305, <c>nonce (24) || ciphertext || tag (16)</c>) with associated data
/// <c>header (57) || chunk index (8, big-endian, from 0) || final (1: 1 for the last chunk, else 0)</c>.
/// Every chunk but the last holds exactly the chunk size; the last holds less, possibly nothing, so
/// a reader knows it has the last one when the file ends inside it. Moving, repeating or dropping
/// a chunk changes its index, cutting the file at a chunk boundary leaves no final chunk, and a
/// chunk from another backup was sealed under another key (another salt) and another header.
/// </summary>
internal static class BackupChunks
{
    public static byte[] AssociatedData(ReadOnlySpan<byte> header, ulong index, bool final)
    {
        var data = new byte[header.Length + 9];
        header.CopyTo(data);
        BinaryPrimitives.WriteUInt64BigEndian(data.AsSpan(header.Length), index);
        data[^1] = final ? (byte)1 : (byte)0;
        return data;
    }

    /// <summary>
    /// Reads every chunk to the end of <paramref name="input"/> and returns the whole plaintext,
    /// or null if any chunk fails to open, the file ends without a final chunk, or the plaintext
    /// would not fit in one array. Nothing is returned until every chunk has been verified; on
    /// failure every plaintext byte read so far is wiped. The caller wipes the result.
    /// </summary>
    public static byte[]? TryReadAll(Stream input, ReadOnlySpan<byte> header, int chunkSize, SealingKey key)
    {
        var sealedChunk = new byte[chunkSize + SecretBox.Overhead];
        var parts = new List<byte[]>();
        long total = 0;
        var complete = false;
        try
        {
            for (ulong index = 0; !complete; index++)
            {
                var read = input.ReadAtLeast(sealedChunk, sealedChunk.Length, throwOnEndOfStream: false);

                // A full chunk is never the last; a short one (the file ended inside it) always is.
                complete = read < sealedChunk.Length;
                var plaintext = key.TryOpen(AssociatedData(header, index, complete), sealedChunk.AsSpan(0, read));
                if (plaintext is null)
                {
                    return null;
                }

                parts.Add(plaintext);
                total += plaintext.Length;
                if (total > Array.MaxLength)
                {
                    return null;
                }
            }

            var whole = new byte[total];
            var offset = 0;
            foreach (var part in parts)
            {
                part.CopyTo(whole, offset);
                offset += part.Length;
            }

            return whole;
        }
        finally
        {
            foreach (var part in parts)
            {
                CryptographicOperations.ZeroMemory(part);
            }
        }
    }
}
