using CsCheck;
using SecureChat.Storage.Search;
using SecureChat.Testing;

namespace SecureChat.Storage.Tests.Search;

/// <summary>
/// The search index snapshot (MessageIndex.Serialize) as a codec: any index reads back as the same
/// bytes; random and damaged snapshots give an index or null, never an exception, and never cost
/// more memory than their size justifies.
/// </summary>
public sealed class IndexSnapshotPropertyTests
{
    private static readonly Gen<(int Kind, int Position, byte[] Bytes)> Mutations =
        Gen.Select(Gen.Int[0, ByteMutation.Kinds - 1], Gen.Int[0, int.MaxValue], Gen.Byte.Array[1, 8]);

    private static readonly HashSet<long> Conversations = [1, 2, 3, 4, 5];

    /// <summary>Messages as (row step, conversation, terms); rows are the running sum of the steps.</summary>
    private static readonly Gen<(long Step, long Contact, string[] Terms)[]> Messages =
        Gen.Select(Gen.Long[1, 1_000_000], Gen.Long[1, 5], Gen.OneOf("a", "ab", "abc", "é", "日本", "zz", "word", "🎉").Array[0, 6]).Array[0, 30];

    [Fact]
    public void TryDeserialize_SerializedIndexes_GiveTheSameBytes()
    {
        Messages.Sample(messages =>
        {
            var serialized = Build(messages).Serialize();

            var read = MessageIndex.TryDeserialize(serialized, Conversations);

            Assert.NotNull(read);
            Assert.Equal(messages.Length, read.Count);
            Assert.Equal(serialized, read.Serialize());
        }, iter: 1000);
    }

    [Fact]
    public void TryDeserialize_ArbitraryAndDamagedSnapshots_NeverThrowNorAllocateBeyondTheirSize()
    {
        var damaged = Gen.Select(Messages, Mutations).Select((messages, mutation) =>
            ByteMutation.Apply(Build(messages).Serialize(), mutation.Kind, mutation.Position, mutation.Bytes));
        Gen.OneOf(Gen.Byte.Array[0, 200], damaged).Sample(snapshot =>
        {
            var before = GC.GetAllocatedBytesForCurrentThread();

            var read = MessageIndex.TryDeserialize(snapshot, Conversations);

            Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, 64 * 1024 + (256L * snapshot.Length));
            Assert.True(read is null || read.Count <= snapshot.Length / 3);
        }, iter: 5000);
    }

    /// <summary>
    /// Found by the property above: a posting count read from the snapshot sized a list before any
    /// posting was read, so five bytes asked for an array of 2^31-1 integers and threw
    /// OutOfMemoryException. One term "a" with that count and no messages:
    /// </summary>
    [Fact]
    public void TryDeserialize_PostingCountBeyondTheSnapshot_IsNull()
    {
        Assert.Null(MessageIndex.TryDeserialize([0x01, 0x01, 0x61, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0x00], Conversations));
    }

    private static MessageIndex Build((long Step, long Contact, string[] Terms)[] messages)
    {
        var index = new MessageIndex();
        var row = 0L;
        foreach (var (step, contact, terms) in messages)
        {
            row += step;
            index.Add(row, contact, terms.Distinct().ToList());
        }

        return index;
    }
}
