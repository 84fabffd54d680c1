using System.Buffers.Binary;
using System.Security.Cryptography;
using SecureChat.Crypto;

namespace SecureChat.Storage.Backup;

/// <summary>What <see cref="BackupHeader.TryDecode"/> found at the start of a file.</summary>
public enum BackupHeaderStatus
{
    Ok,

    /// <summary>The file does not start with <c>SCBK</c>.</summary>
    NotABackup,

    /// <summary>A backup of another format version (newer, or the version byte is damaged).</summary>
    UnsupportedVersion,

    /// <summary>Cut short, its digest does not match, or a field is out of range.</summary>
    Damaged,
}

/// <summary>
/// The clear header at the start of a backup file: what is needed to derive the backup key from
/// the passphrase, and to tell a wrong passphrase from a damaged file. Every field is also
/// authenticated, because the whole header is part of every chunk's associated data.
/// <code>
/// offset size
///   0     4   magic "SCBK"
///   4     1   format version: 1
///   5     4   Argon2id memory in KiB (big-endian; parallelism is always 1)
///   9     4   Argon2id passes (big-endian)
///  13    16   salt, fresh for every backup
///  29     4   plaintext bytes per chunk (big-endian)
///  33    16   key check: HKDF-SHA256(backup key, info "SecureChat backup check v1"), 16 bytes
///  49     8   header digest: the first 8 bytes of SHA-256(bytes 0 to 48)
///  57         (header size)
/// </code>
/// The digest (unkeyed) catches accidental damage before any key is derived, so a damaged header
/// is reported as damage rather than as a wrong passphrase; the key check then tells a wrong
/// passphrase from a damaged chunk.
/// </summary>
/// <param name="Kdf">The Argon2id costs of the backup key.</param>
/// <param name="Salt">The Argon2id salt, <see cref="PassphraseKdf.SaltSize"/> bytes.</param>
/// <param name="ChunkSize">Plaintext bytes per chunk; the last chunk holds fewer (possibly none).</param>
/// <param name="KeyCheck">A value derived from the backup key, <see cref="KeyCheckSize"/> bytes.</param>
public sealed record BackupHeader(Argon2idParameters Kdf, byte[] Salt, int ChunkSize, byte[] KeyCheck)
{
    public const int Size = 57;
    public const byte Version = 1;
    public const int KeyCheckSize = 16;

    /// <summary>1 MiB: large enough that the 40 bytes each chunk adds do not matter.</summary>
    public const int DefaultChunkSize = 1 << 20;

    /// <summary>Small chunks are accepted so tests can make many; a file of them only costs time.</summary>
    public const int MinChunkSize = 256;

    /// <summary>A reader holds one chunk at a time: a hostile header cannot ask for more than this.</summary>
    public const int MaxChunkSize = 16 << 20;

    private const int DigestOffset = 49;
    private const int DigestSize = 8;

    /// <summary>"SCBK", the first four bytes of every backup.</summary>
    public static ReadOnlySpan<byte> Magic => "SCBK"u8;

    /// <summary>The 57 header bytes.</summary>
    public byte[] Encode()
    {
        if (Salt.Length != PassphraseKdf.SaltSize || KeyCheck.Length != KeyCheckSize || !Kdf.IsWithinBounds || ChunkSize is < MinChunkSize or > MaxChunkSize)
        {
            throw new ArgumentException("The backup header has a field of the wrong size or out of range.");
        }

        var bytes = new byte[Size];
        Magic.CopyTo(bytes);
        bytes[4] = Version;
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(5), (uint)Kdf.MemoryKiB);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(9), (uint)Kdf.Passes);
        Salt.CopyTo(bytes, 13);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(29), (uint)ChunkSize);
        KeyCheck.CopyTo(bytes, 33);
        SHA256.HashData(bytes.AsSpan(0, DigestOffset))[..DigestSize].CopyTo(bytes, DigestOffset);
        return bytes;
    }

    /// <summary>
    /// Reads a header from the first bytes of a file (<paramref name="input"/> may be shorter or
    /// longer than <see cref="Size"/>). Total: any input gives a status, and a header only with
    /// <see cref="BackupHeaderStatus.Ok"/>.
    /// </summary>
    public static BackupHeaderStatus TryDecode(ReadOnlySpan<byte> input, out BackupHeader? header)
    {
        header = null;
        if (!input[..Math.Min(input.Length, Magic.Length)].SequenceEqual(Magic[..Math.Min(input.Length, Magic.Length)]))
        {
            return BackupHeaderStatus.NotABackup;
        }

        if (input.Length <= 4)
        {
            return BackupHeaderStatus.Damaged;
        }

        if (input[4] != Version)
        {
            return BackupHeaderStatus.UnsupportedVersion;
        }

        if (input.Length < Size || !SHA256.HashData(input[..DigestOffset])[..DigestSize].AsSpan().SequenceEqual(input.Slice(DigestOffset, DigestSize)))
        {
            return BackupHeaderStatus.Damaged;
        }

        var memory = BinaryPrimitives.ReadUInt32BigEndian(input[5..]);
        var passes = BinaryPrimitives.ReadUInt32BigEndian(input[9..]);
        var chunkSize = BinaryPrimitives.ReadUInt32BigEndian(input[29..]);
        if (memory > int.MaxValue || passes > int.MaxValue || chunkSize is < MinChunkSize or > MaxChunkSize)
        {
            return BackupHeaderStatus.Damaged;
        }

        var kdf = new Argon2idParameters((int)memory, (int)passes);
        if (!kdf.IsWithinBounds)
        {
            return BackupHeaderStatus.Damaged;
        }

        header = new BackupHeader(kdf, input.Slice(13, PassphraseKdf.SaltSize).ToArray(), (int)chunkSize, input.Slice(33, KeyCheckSize).ToArray());
        return BackupHeaderStatus.Ok;
    }
}
