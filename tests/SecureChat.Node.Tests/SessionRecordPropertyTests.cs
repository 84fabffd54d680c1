using CsCheck;
using SecureChat.Crypto;
using SecureChat.Protocol.Ratchet;
using SecureChat.Testing;

namespace SecureChat.Node.Tests;

/// <summary>
/// The persisted session record (version, session ID, flags, ratchet state) as a codec: records of
/// sessions at any point of a conversation read back as the same bytes; random and damaged
/// records give a record that encodes to exactly those bytes, or null, and never an exception.
/// </summary>
public sealed class SessionRecordPropertyTests
{
    private static readonly byte[] AssociatedData = "SecureChat session record test"u8.ToArray();

    /// <summary>Both sides' records after Alice sent some messages and Bob answered some (Bob only after hearing from her).</summary>
    private static readonly Gen<byte[][]> Records = Gen.Select(Gen.Byte.Array[SessionRecord.SessionIdSize], Gen.Bool, Gen.Int[0, 4], Gen.Int[0, 4])
        .Select((id, confirmed, fromAlice, fromBob) => Encode(id, confirmed, fromAlice, fromBob));

    [Fact]
    public void TryDecode_EncodedRecords_GiveTheSameBytes()
    {
        Records.Sample(records =>
        {
            foreach (var encoded in records)
            {
                using var record = SessionRecord.TryDecode(encoded, RatchetOptions.Default);

                Assert.NotNull(record);
                Assert.Equal(encoded.AsSpan(1, SessionRecord.SessionIdSize).ToArray(), record.Id);
                Assert.Equal(encoded[1 + SessionRecord.SessionIdSize] == 1, record.PeerConfirmed);
                Assert.Equal(encoded, record.Encode());
            }
        }, iter: 200);
    }

    [Fact]
    public void TryDecode_ArbitraryAndDamagedRecords_AreNullOrEncodeToTheSameBytes()
    {
        var damaged = Gen.Select(Records, Gen.Int[0, 1], Gen.Int[0, ByteMutation.Kinds - 1], Gen.Int[0, int.MaxValue], Gen.Byte.Array[1, 8])
            .Select((records, side, kind, position, bytes) => ByteMutation.Apply(records[side], kind, position, bytes));
        var behindHeader = Gen.Select(Gen.Byte.Array[SessionRecord.SessionIdSize], Gen.Byte[0, 1], Gen.Byte.Array[0, 400])
            .Select((id, flags, state) => (byte[])[1, .. id, flags, .. "SCDR\u0001"u8, .. state]);
        Gen.OneOf(Gen.Byte.Array[0, 300], behindHeader, damaged).Sample(bytes =>
        {
            using var record = SessionRecord.TryDecode(bytes, RatchetOptions.Default);

            if (record is not null)
            {
                Assert.Equal(bytes, record.Encode());
            }
        }, iter: 2000);
    }

    private static byte[][] Encode(byte[] id, bool confirmed, int fromAlice, int fromBob)
    {
        var sharedSecret = new byte[RatchetSession.KeySize];
        var bobPrivate = new byte[X25519.KeySize];
        var bobPublic = new byte[X25519.KeySize];
        id.CopyTo(sharedSecret, 0);
        X25519.GenerateKeyPair(bobPrivate, bobPublic);
        using var alice = new SessionRecord(id, RatchetSession.InitializeAlice(sharedSecret, bobPublic, AssociatedData), confirmed);
        using var bob = new SessionRecord(id, RatchetSession.InitializeBob(sharedSecret, bobPrivate, AssociatedData), confirmed);
        for (var i = 0; i < fromAlice; i++)
        {
            Assert.Equal(RatchetError.None, bob.Ratchet.TryDecrypt(alice.Ratchet.Encrypt([(byte)i]), DateTimeOffset.UnixEpoch, out _));
        }

        for (var i = 0; i < (fromAlice > 0 ? fromBob : 0); i++)
        {
            Assert.Equal(RatchetError.None, alice.Ratchet.TryDecrypt(bob.Ratchet.Encrypt([(byte)i]), DateTimeOffset.UnixEpoch, out _));
        }

        return [alice.Encode(), bob.Encode()];
    }
}
