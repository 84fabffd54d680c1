using System.Security.Cryptography;
using SecureChat.Crypto;
using SecureChat.Storage.Backup;

namespace SecureChat.Fuzz.Targets;

/// <summary>
/// Export (backup) files, as <see cref="NodeBackup.Restore"/> reads them, short of writing the node:
/// the clear header, the key check, the sealed chunks and the plaintext layout. The backup key is
/// Argon2id at its cheapest allowed costs, still far too slow to derive per input, so it is derived
/// once for the fixed passphrase and salt of the seeds; a header naming another salt or cost stops
/// where a wrong passphrase would. Two shortcuts reach what the header digest and the chunk
/// encryption would hide from mutation: the header is also decoded with its digest made right, and
/// the input is also read as a plaintext layout (<see cref="BackupContents"/>) directly.
/// </summary>
internal sealed class ExportTarget : IFuzzTarget
{
    private static readonly byte[] Passphrase = "correct horse battery staple"u8.ToArray();
    private static readonly byte[] Salt = FuzzKeys.Key("backup salt")[..PassphraseKdf.SaltSize];
    private static readonly Lazy<BackupKey> Key = new(() => BackupKey.Derive(Passphrase, Salt, Argon2idParameters.Minimum));

    public string Name => "export";

    public bool Run(byte[] input)
    {
        var status = BackupHeader.TryDecode(input, out var header);
        FuzzInvariantException.Check((status == BackupHeaderStatus.Ok) == (header is not null), "A header status that disagrees with its header.");
        if (input.Length >= BackupHeader.Size)
        {
            var fixedUp = input[..BackupHeader.Size];
            SHA256.HashData(fixedUp.AsSpan(0, 49))[..8].CopyTo(fixedUp, 49);
            if (BackupHeader.TryDecode(fixedUp, out var decoded) == BackupHeaderStatus.Ok)
            {
                FuzzInvariantException.Check(decoded!.Encode().AsSpan().SequenceEqual(fixedUp), "A header does not encode back to its bytes.");
                if (ReadChunks(fixedUp, decoded, input.AsSpan(BackupHeader.Size)))
                {
                    return true;
                }
            }
        }

        return CheckLayout(input);
    }

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        yield return ("one-chunk", Backup(identityJson: """{"version":1,"account":"x"}""", database: 40, chunkSize: 1024));
        yield return ("three-chunks", Backup(identityJson: """{"version":1}""", database: 500, chunkSize: BackupHeader.MinChunkSize));
        yield return ("layout", Layout("""{}""", database: 16));
    }

    /// <summary>True when the chunks open and hold a valid layout.</summary>
    private static bool ReadChunks(byte[] headerBytes, BackupHeader header, ReadOnlySpan<byte> chunks)
    {
        if (!header.Salt.AsSpan().SequenceEqual(Salt) || header.Kdf != Argon2idParameters.Minimum || !Key.Value.Matches(header.KeyCheck))
        {
            return false;
        }

        using var stream = new MemoryStream(chunks.ToArray(), writable: false);
        return BackupChunks.TryReadAll(stream, headerBytes, header.ChunkSize, Key.Value.Chunks) is { } plaintext && CheckLayout(plaintext);
    }

    private static bool CheckLayout(byte[] plaintext)
    {
        if (!BackupContents.TryDecode(plaintext, out var contents))
        {
            return false;
        }

        var (identityStart, identityLength) = contents.Identity.GetOffsetAndLength(plaintext.Length);
        var (databaseStart, _) = contents.Database.GetOffsetAndLength(plaintext.Length);
        FuzzInvariantException.Check(identityStart + identityLength + 8 == databaseStart, "The layout's parts do not follow each other.");
        FuzzInvariantException.Check(contents.Database.End.Equals(new Index(plaintext.Length)), "The layout leaves bytes after the database.");
        return true;
    }

    private static byte[] Layout(string identityJson, int database)
    {
        var identity = System.Text.Encoding.UTF8.GetBytes(identityJson);
        byte[] image = [.. "SQLite format 3\0"u8, .. new byte[database]];
        return [.. BackupContents.EncodePrefix(FuzzKeys.Now, FuzzKeys.Local.Account, identity.Length), .. identity, .. BackupContents.EncodeDatabaseLength(image.Length), .. image];
    }

    /// <summary>A backup file as <see cref="NodeBackup.Export"/> writes one, of a small made-up node.</summary>
    private static byte[] Backup(string identityJson, int database, int chunkSize)
    {
        var header = new BackupHeader(Argon2idParameters.Minimum, Salt, chunkSize, Key.Value.Check).Encode();
        using var output = new MemoryStream();
        output.Write(header);
        using (var writer = new BackupChunkWriter(output, header, Key.Value.Chunks, chunkSize))
        {
            writer.Write(Layout(identityJson, database));
            writer.Complete();
        }

        return output.ToArray();
    }
}
