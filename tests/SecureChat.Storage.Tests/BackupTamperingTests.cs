using SecureChat.Crypto;
using SecureChat.Storage.Backup;

namespace SecureChat.Storage.Tests;

/// <summary>
/// A backup that was changed in any way is refused, and a refused restore writes nothing (the
/// target directory is not even created): every bit of the header, bits all through the chunks,
/// cuts at many points and at chunk boundaries, bytes appended, chunks swapped, repeated, dropped
/// or taken from another backup.
/// </summary>
public sealed class BackupTamperingTests : IDisposable
{
    private const int ChunkSize = 512;
    private const int SealedChunk = ChunkSize + SecretBox.Overhead;

    private readonly BackupTestNode _node = new();
    private readonly byte[] _backup;

    public BackupTamperingTests()
    {
        _backup = _node.Export(ChunkSize);
    }

    private int Chunks => ((_backup.Length - BackupHeader.Size) / SealedChunk) + 1;

    public void Dispose() => _node.Dispose();

    [Fact]
    public void Restore_Untouched_Works()
    {
        Assert.Equal(_node.Account, NodeBackup.Restore(new MemoryStream(_backup), BackupTestNode.BackupPassphrase, _node.NewDirectory("restored")).Account);
    }

    [Fact]
    public void Restore_EveryBitOfTheHeaderFlipped_IsRefusedAsDamageOrAnUnknownVersion()
    {
        for (var bit = 0; bit < BackupHeader.Size * 8; bit++)
        {
            var error = AssertRefused(Flip(_backup, bit), $"header bit {bit}");

            // The digest catches every flip before a key is derived: none reads as a wrong passphrase.
            var expected = bit / 8 == 4 ? StoreError.Unreadable : StoreError.Corrupt;
            Assert.True(error.Error == expected, $"header bit {bit}: {error.Error}, {error.Message}");
        }
    }

    [Fact]
    public void Restore_BitsFlippedThroughTheChunks_AreRefusedAsDamage()
    {
        // Every byte of the first chunk's nonce and first ciphertext bytes, a spread over the rest,
        // and every byte of the last chunk's tag; a different bit of each byte.
        var positions = Enumerable.Range(BackupHeader.Size, 48)
            .Concat(Enumerable.Range(0, 60).Select(i => BackupHeader.Size + 48 + (int)((long)i * (_backup.Length - BackupHeader.Size - 64) / 60)))
            .Concat(Enumerable.Range(_backup.Length - SecretBox.TagSize, SecretBox.TagSize));
        foreach (var position in positions)
        {
            var bit = (position * 8) + (position % 8);
            var error = AssertRefused(Flip(_backup, bit), $"byte {position}");
            Assert.True(error.Error == StoreError.Corrupt, $"byte {position}: {error.Error}, {error.Message}");
        }
    }

    [Fact]
    public void Restore_CutShortAnywhere_IsRefusedAsDamage()
    {
        var boundaries = Enumerable.Range(1, Chunks - 1).Select(k => BackupHeader.Size + (k * SealedChunk));
        var lengths = Enumerable.Range(0, BackupHeader.Size + 2)
            .Concat(boundaries.SelectMany(b => new[] { b - 1, b, b + 1 }))
            .Concat(Enumerable.Range(1, 40).Select(i => (int)((long)i * _backup.Length / 41)))
            .Append(_backup.Length - 1)
            .Where(n => n < _backup.Length)
            .Distinct();
        foreach (var length in lengths)
        {
            var error = AssertRefused(_backup[..length], $"cut to {length} bytes");
            Assert.True(error.Error == StoreError.Corrupt, $"cut to {length} bytes: {error.Error}, {error.Message}");
        }
    }

    [Fact]
    public void Restore_BytesAppended_IsRefused()
    {
        AssertRefused([.. _backup, 0], "one byte appended");
        AssertRefused([.. _backup, .. new byte[SealedChunk]], "a chunk's worth of zeros appended");
        AssertRefused([.. _backup, .. _backup[^SecretBox.Overhead..]], "the last chunk's empty seal repeated");
    }

    [Fact]
    public void Restore_TwoChunksSwapped_IsRefused()
    {
        var chunks = SplitChunks(_backup);

        AssertRefused(Join(chunks[1], chunks[0], chunks[2..]), "chunks 0 and 1 swapped");
        AssertRefused(Join(chunks[..3], chunks[4], chunks[3], chunks[5..]), "chunks 3 and 4 swapped");
    }

    [Fact]
    public void Restore_AChunkRepeatedOrDropped_IsRefused()
    {
        var chunks = SplitChunks(_backup);

        AssertRefused(Join(chunks[..3], chunks[2], chunks[3..]), "chunk 2 repeated");
        AssertRefused(Join(chunks[..2], chunks[3..]), "chunk 2 dropped");
        AssertRefused(Join(chunks[..^2], chunks[^1]), "the last full chunk dropped");
        AssertRefused(Join(chunks[..^1]), "the final chunk dropped");
    }

    [Fact]
    public void Restore_ChunksOrHeaderFromAnotherBackupOfTheSameNodeAndPassphrase_AreRefused()
    {
        var other = SplitChunks(_node.Export(ChunkSize));
        var chunks = SplitChunks(_backup);

        AssertRefused(Join(chunks[..2], other[2], chunks[3..]), "a chunk from another backup");
        var error = AssertRefused(Join(other[0], chunks[1..]), "the header of another backup");
        Assert.Equal(StoreError.Corrupt, error.Error);
    }

    private StoreException AssertRefused(byte[] backup, string what)
    {
        var target = _node.NewDirectory("restored");
        StoreException? error = null;
        try
        {
            NodeBackup.Restore(new MemoryStream(backup), BackupTestNode.BackupPassphrase, target);
        }
        catch (StoreException ex)
        {
            error = ex;
        }

        Assert.True(error is not null, $"{what}: the backup was accepted");
        Assert.False(Directory.Exists(target), $"{what}: {target} was created");
        return error;
    }

    private static byte[] Flip(byte[] bytes, int bit)
    {
        var copy = bytes.ToArray();
        copy[bit / 8] ^= (byte)(1 << (bit % 8));
        return copy;
    }

    /// <summary>The header, then each sealed chunk.</summary>
    private static byte[][] SplitChunks(byte[] backup)
    {
        var parts = new List<byte[]> { backup[..BackupHeader.Size] };
        for (var offset = BackupHeader.Size; offset < backup.Length; offset += SealedChunk)
        {
            parts.Add(backup[offset..Math.Min(offset + SealedChunk, backup.Length)]);
        }

        return [.. parts];
    }

    private static byte[] Join(params object[] parts) =>
        [.. parts.SelectMany(p => p switch
        {
            byte[] one => one,
            byte[][] many => many.SelectMany(b => b),
            _ => throw new ArgumentException("not bytes", nameof(parts)),
        })];
}
