using System.Buffers.Binary;
using System.Text;

namespace SecureChat.Storage.Tests;

/// <summary>
/// Someone holding the disk reads the sealed bodies' sizes: a text is padded to a size bucket
/// before it is sealed, so two texts in one bucket are the same number of bytes in
/// <c>securechat.db</c>; the padding never shows in what is read back; and rows sealed before
/// padding existed (format v1, the bare text) still open and are still found by search.
/// </summary>
public sealed class PaddingAtRestTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2025, 5, 1, 9, 0, 0, TimeSpan.Zero);

    private readonly StoreHome _home = new();
    private readonly Peer _bob = Peer.Create();

    public void Dispose()
    {
        _bob.Dispose();
        _home.Dispose();
    }

    [Theory]
    [InlineData(1, 63, 104)]
    [InlineData(64, 255, 296)]
    [InlineData(300, 1000, 1064)]
    [InlineData(5000, 16000, 16424)]
    public void Add_TwoLengthsInOneBucket_SealToOneSizeOnDisk(int shorter, int longer, int sealedSize)
    {
        string first;
        string second;
        using (var store = _home.Open())
        {
            var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
            first = Add(store, bob, new string('a', shorter), T0);
            second = Add(store, bob, new string('b', longer), T0.AddSeconds(1));
        }

        Assert.Equal(sealedSize, BodyOf(first).Length);
        Assert.Equal(sealedSize, BodyOf(second).Length);
    }

    [Fact]
    public void Add_NextBucket_SealsLarger()
    {
        string inside;
        string beyond;
        using (var store = _home.Open())
        {
            var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
            inside = Add(store, bob, new string('a', 63), T0);
            beyond = Add(store, bob, new string('a', 64), T0.AddSeconds(1));
        }

        Assert.Equal(64 + 40, BodyOf(inside).Length);
        Assert.Equal(256 + 40, BodyOf(beyond).Length);
    }

    public static TheoryData<string> Texts() => new()
    {
        string.Empty,
        "x",
        "ends in NULs\0\0",
        "\0",
        "ends in the marker's character \u0080",
        "Grüße — привет, 你好 🎉",
        new string('é', 32),
        new string('z', 63),
        new string('z', 64),
        new string('q', 16_000),
    };

    [Theory]
    [MemberData(nameof(Texts))]
    public void History_PaddedText_ComesBackExactlyAfterReopen(string text)
    {
        using (var store = _home.Open())
        {
            var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
            Add(store, bob, text, T0);
        }

        using var reopened = _home.Open();
        Assert.Equal(text, Assert.Single(reopened.Messages.History(reopened.Contacts.Resolve("Bob"), 10)).Text);
    }

    [Theory]
    [InlineData("an old row from before padding")]
    [InlineData("sixty-four bytes exactly, the size of a bucket, written unpadded")]
    public void History_RowSealedBeforePadding_StillOpensAndIsFound(string text)
    {
        Assert.Equal(64, Encoding.UTF8.GetByteCount("sixty-four bytes exactly, the size of a bucket, written unpadded"));
        string messageId;
        byte[] oldBody;
        using (var store = _home.Open())
        {
            var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
            messageId = Add(store, bob, "placeholder", T0);
            oldBody = SealAsVersion1(store, bob, messageId, outgoing: true, T0, text);
        }

        // The row as an earlier version wrote it: the bare UTF-8 text, bound to the v1 label.
        Assert.Equal(1, _home.Execute("UPDATE messages SET body = $body WHERE message_id = $id", ("$body", oldBody), ("$id", Convert.FromHexString(messageId))));
        Assert.Equal(Encoding.UTF8.GetByteCount(text) + 40, BodyOf(messageId).Length);

        using var reopened = _home.Open();
        var bobAgain = reopened.Contacts.Resolve("Bob");
        Assert.Equal(text, Assert.Single(reopened.Messages.History(bobAgain, 10)).Text);
        Assert.Equal(text, Assert.Single(reopened.Messages.Search(text.Split(' ')[1], null, 10)).Text);
    }

    [Fact]
    public void History_OldAndNewRowsMixed_AllOpen()
    {
        string oldId;
        byte[] oldBody;
        using (var store = _home.Open())
        {
            var bob = store.Contacts.Add(_bob.Account, "Bob", null, T0);
            oldId = Add(store, bob, "placeholder", T0);
            oldBody = SealAsVersion1(store, bob, oldId, outgoing: true, T0, "written by the old version");
            Add(store, bob, "written by the new version", T0.AddSeconds(1));
        }

        _home.Execute("UPDATE messages SET body = $body WHERE message_id = $id", ("$body", oldBody), ("$id", Convert.FromHexString(oldId)));

        using var reopened = _home.Open();
        Assert.Equal(
            ["written by the old version", "written by the new version"],
            reopened.Messages.History(reopened.Contacts.Resolve("Bob"), 10).Select(m => m.Text));
    }

    /// <summary>A body as version 1 sealed it (docs/protocol.md A.4): the text under "SecureChat message v1\0" || ID || lookup || direction || sent_at.</summary>
    private static byte[] SealAsVersion1(LocalStore store, Contact contact, string messageId, bool outgoing, DateTimeOffset sentAt, string text)
    {
        var lookup = store.Contacts.LookupOf(store.Contacts.IdOf(contact))!;
        var data = new byte[22 + 16 + 16 + 1 + 8];
        "SecureChat message v1\0"u8.CopyTo(data);
        Convert.FromHexString(messageId).CopyTo(data, 22);
        lookup.CopyTo(data, 38);
        data[54] = outgoing ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteInt64BigEndian(data.AsSpan(55), sentAt.ToUnixTimeMilliseconds());
        return store.Keys.Fields.Seal(data, Encoding.UTF8.GetBytes(text));
    }

    private static string Add(LocalStore store, Contact contact, string text, DateTimeOffset sentAt)
    {
        var id = MessageLog.NewId();
        Assert.True(store.Messages.Add(contact, id, outgoing: true, text, sentAt, null, MessageState.Sent));
        return id;
    }

    private byte[] BodyOf(string messageId) =>
        _home.Scalar<byte[]>("SELECT body FROM messages WHERE message_id = $id", ("$id", Convert.FromHexString(messageId)));
}
