using System.Buffers.Binary;
using System.Security.Cryptography;
using Microsoft.Data.Sqlite;

namespace SecureChat.Storage;

/// <summary>
/// The one-time invite tokens this node issued (docs/protocol.md 7.6). A token lets the holder of
/// the link that carries it in without a contact request: one account, once, until it expires.
/// The token itself is never stored: a row is its keyed digest (to find it) and a sealed record of
/// when it was issued and when it expires, bound to that digest. Using a token deletes its row.
/// </summary>
public sealed class InviteTokens
{
    /// <summary>How long a token is good for after it was issued.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromDays(7);

    /// <summary>The size of a token: 128 random bits.</summary>
    public const int TokenBytes = 16;

    /// <summary>At most this many unused tokens are kept; issuing one more forgets the oldest.</summary>
    public const int MaxOutstanding = 1000;

    private const string LookupPurpose = "invite";

    private readonly LocalStore _store;
    private readonly TimeProvider _time;

    internal InviteTokens(LocalStore store, TimeProvider time)
    {
        _store = store;
        _time = time;
    }

    /// <summary>Issues a fresh token (the caller writes it into a link and keeps no copy).</summary>
    public byte[] Issue()
    {
        var token = RandomNumberGenerator.GetBytes(TokenBytes);
        var lookup = _store.Keys.Lookup(LookupPurpose, token);
        var now = _time.GetUtcNow();
        var record = new byte[16];
        BinaryPrimitives.WriteInt64LittleEndian(record, now.ToUnixTimeMilliseconds());
        BinaryPrimitives.WriteInt64LittleEndian(record.AsSpan(8), (now + Lifetime).ToUnixTimeMilliseconds());
        var sealedRecord = _store.Keys.Fields.Seal(AssociatedData(lookup), record);
        _store.Run(connection =>
        {
            using var transaction = connection.BeginTransaction();
            var live = Live(connection, transaction, now);
            if (live.Count >= MaxOutstanding)
            {
                foreach (var oldest in live.OrderBy(r => r.IssuedAt).Take(live.Count - MaxOutstanding + 1))
                {
                    Delete(connection, transaction, oldest.Lookup);
                }
            }

            using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = "INSERT INTO invites (lookup, record) VALUES ($lookup, $record)";
            insert.Parameters.AddWithValue("$lookup", lookup);
            insert.Parameters.AddWithValue("$record", sealedRecord);
            insert.ExecuteNonQuery();
            transaction.Commit();
            return 0;
        });
        return token;
    }

    /// <summary>
    /// Uses a token: true (and the token is spent) when this node issued it, it was not used yet
    /// and has not expired; false for anything else, which changes nothing but forgetting an
    /// expired token.
    /// </summary>
    public bool TryRedeem(ReadOnlySpan<byte> token)
    {
        if (token.Length != TokenBytes)
        {
            return false;
        }

        var lookup = _store.Keys.Lookup(LookupPurpose, token);
        var now = _time.GetUtcNow();
        return _store.Run(connection =>
        {
            using var select = connection.CreateCommand();
            select.CommandText = "SELECT record FROM invites WHERE lookup = $lookup";
            select.Parameters.AddWithValue("$lookup", lookup);
            if (select.ExecuteScalar() is not byte[] sealedRecord)
            {
                return false;
            }

            // Spent whatever it says: a token that does not open or has expired is of no more use.
            Delete(connection, null, lookup);
            return Open(lookup, sealedRecord) is { } times && now < times.ExpiresAt;
        });
    }

    /// <summary>How many issued tokens are unused and unexpired.</summary>
    public int Outstanding => _store.Run(connection => Live(connection, null, _time.GetUtcNow()).Count);

    private List<(byte[] Lookup, DateTimeOffset IssuedAt)> Live(SqliteConnection connection, SqliteTransaction? transaction, DateTimeOffset now)
    {
        using var select = connection.CreateCommand();
        select.Transaction = transaction;
        select.CommandText = "SELECT lookup, record FROM invites";
        var live = new List<(byte[], DateTimeOffset)>();
        var dead = new List<byte[]>();
        using (var reader = select.ExecuteReader())
        {
            while (reader.Read())
            {
                var lookup = (byte[])reader[0];
                if (Open(lookup, (byte[])reader[1]) is { } times && now < times.ExpiresAt)
                {
                    live.Add((lookup, times.IssuedAt));
                }
                else
                {
                    dead.Add(lookup);
                }
            }
        }

        foreach (var lookup in dead)
        {
            Delete(connection, transaction, lookup);
        }

        return live;
    }

    private (DateTimeOffset IssuedAt, DateTimeOffset ExpiresAt)? Open(byte[] lookup, byte[] sealedRecord)
    {
        var plain = _store.Keys.Fields.TryOpen(AssociatedData(lookup), sealedRecord);
        if (plain is not { Length: 16 })
        {
            return null;
        }

        return (DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64LittleEndian(plain)),
            DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64LittleEndian(plain.AsSpan(8))));
    }

    private static void Delete(SqliteConnection connection, SqliteTransaction? transaction, byte[] lookup)
    {
        using var delete = connection.CreateCommand();
        delete.Transaction = transaction;
        delete.CommandText = "DELETE FROM invites WHERE lookup = $lookup";
        delete.Parameters.AddWithValue("$lookup", lookup);
        delete.ExecuteNonQuery();
    }

    private static byte[] AssociatedData(byte[] lookup) => [.. "SecureChat invite v1"u8, .. lookup];
}
