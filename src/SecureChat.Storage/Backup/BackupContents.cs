using System.Buffers.Binary;
using System.Text;
using SecureChat.Protocol.Identity;

namespace SecureChat.Storage.Backup;

/// <summary>
/// The plaintext of a backup, which the chunks carry (so all of it, the account and the time
/// included, is encrypted: the clear header says nothing about whose backup it is):
/// <code>
///  size
///   8   created at: Unix milliseconds (big-endian)
///   1   n: length of the account ID
///   n   the account ID, as `securechat id` prints it (ASCII)
///   4   length of identity.json (big-endian), then its bytes as they were on disk
///   8   length of securechat.db (big-endian), then the database image (an SQLite file)
///       nothing after
/// </code>
/// </summary>
/// <param name="CreatedAt">When the backup was made.</param>
/// <param name="Account">The account backed up.</param>
/// <param name="Identity">Where <c>identity.json</c> lies in the plaintext.</param>
/// <param name="Database">Where <c>securechat.db</c> lies in the plaintext.</param>
internal readonly record struct BackupContents(DateTimeOffset CreatedAt, AccountId Account, Range Identity, Range Database)
{
    /// <summary>Everything before identity.json's bytes.</summary>
    public static byte[] EncodePrefix(DateTimeOffset createdAt, AccountId account, int identityLength)
    {
        var id = Encoding.ASCII.GetBytes(account.Text);
        var prefix = new byte[8 + 1 + id.Length + 4];
        BinaryPrimitives.WriteInt64BigEndian(prefix, createdAt.ToUnixTimeMilliseconds());
        prefix[8] = checked((byte)id.Length);
        id.CopyTo(prefix, 9);
        BinaryPrimitives.WriteInt32BigEndian(prefix.AsSpan(9 + id.Length), identityLength);
        return prefix;
    }

    /// <summary>The length field between identity.json and the database.</summary>
    public static byte[] EncodeDatabaseLength(long length)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(bytes, length);
        return bytes;
    }

    /// <summary>Total: false for any plaintext that is not exactly the layout above.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> plaintext, out BackupContents contents)
    {
        contents = default;
        if (plaintext.Length < 9)
        {
            return false;
        }

        var createdMs = BinaryPrimitives.ReadInt64BigEndian(plaintext);
        int idLength = plaintext[8];
        var offset = 9;
        if (createdMs < DateTimeOffset.MinValue.ToUnixTimeMilliseconds() || createdMs > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds()
            || plaintext.Length - offset < idLength + 4
            || !AccountId.TryParse(Encoding.ASCII.GetString(plaintext.Slice(offset, idLength)), out var account))
        {
            return false;
        }

        offset += idLength;
        var identityLength = BinaryPrimitives.ReadInt32BigEndian(plaintext[offset..]);
        offset += 4;
        if (identityLength < 0 || plaintext.Length - offset < (long)identityLength + 8)
        {
            return false;
        }

        var identity = new Range(offset, offset + identityLength);
        offset += identityLength;
        var databaseLength = BinaryPrimitives.ReadInt64BigEndian(plaintext[offset..]);
        offset += 8;
        if (databaseLength != plaintext.Length - offset)
        {
            return false;
        }

        contents = new BackupContents(DateTimeOffset.FromUnixTimeMilliseconds(createdMs), account, identity, new Range(offset, plaintext.Length));
        return true;
    }
}
