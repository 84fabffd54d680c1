using System.Text;
using CsCheck;
using SecureChat.Crypto;
using SecureChat.Protocol.Identity;
using SecureChat.Storage.Backup;
using SecureChat.Testing;

namespace SecureChat.Storage.Tests;

/// <summary>
/// The backup file's codecs (docs/backup.md): the clear header and the plaintext layout the chunks
/// carry. Generated values round-trip; random and damaged bytes give a status or false, a header
/// only with Ok, and never an exception.
/// </summary>
public sealed class BackupPropertyTests
{
    private static readonly Gen<(int Kind, int Position, byte[] Bytes)> Mutations =
        Gen.Select(Gen.Int[0, ByteMutation.Kinds - 1], Gen.Int[0, int.MaxValue], Gen.Byte.Array[1, 8]);

    private static readonly Gen<BackupHeader> Headers = Gen.Select(
        Gen.Int[Argon2idParameters.Minimum.MemoryKiB, 1024 * 1024],
        Gen.Int[Argon2idParameters.Minimum.Passes, 16],
        Gen.Byte.Array[PassphraseKdf.SaltSize],
        Gen.OneOf(Gen.Int[BackupHeader.MinChunkSize, BackupHeader.MaxChunkSize], Gen.OneOf(BackupHeader.MinChunkSize, BackupHeader.DefaultChunkSize, BackupHeader.MaxChunkSize)),
        Gen.Byte.Array[BackupHeader.KeyCheckSize],
        (memory, passes, salt, chunkSize, keyCheck) => new BackupHeader(new Argon2idParameters(memory, passes), salt, chunkSize, keyCheck));

    [Fact]
    public void HeaderTryDecode_EncodedHeadersWithAnythingAfter_RoundTrip()
    {
        Gen.Select(Headers, Gen.Byte.Array[0, 40]).Sample((header, after) =>
        {
            var status = BackupHeader.TryDecode([.. header.Encode(), .. after], out var decoded);

            Assert.Equal(BackupHeaderStatus.Ok, status);
            Assert.NotNull(decoded);
            Assert.Equal(header.Kdf, decoded.Kdf);
            Assert.Equal(header.Salt, decoded.Salt);
            Assert.Equal(header.ChunkSize, decoded.ChunkSize);
            Assert.Equal(header.KeyCheck, decoded.KeyCheck);
            Assert.Equal(header.Encode(), decoded.Encode());
        }, iter: 1000);
    }

    [Fact]
    public void HeaderTryDecode_ArbitraryBytes_GiveAStatusAndAHeaderOnlyWhenOk()
    {
        var behindMagic = Gen.Byte.Array[0, 80].Select(bytes => (byte[])[.. BackupHeader.Magic, BackupHeader.Version, .. bytes]);
        Gen.OneOf(Gen.Byte.Array[0, 80], behindMagic).Sample(bytes =>
        {
            var status = BackupHeader.TryDecode(bytes, out var header);

            Assert.True(Enum.IsDefined(status));
            Assert.Equal(status == BackupHeaderStatus.Ok, header is not null);
            Assert.Equal(
                !bytes.AsSpan(0, Math.Min(bytes.Length, 4)).SequenceEqual(BackupHeader.Magic[..Math.Min(bytes.Length, 4)]),
                status == BackupHeaderStatus.NotABackup);
        }, iter: 5000);
    }

    [Fact]
    public void HeaderTryDecode_DamagedHeaders_AreRefusedUnlessTheHeaderBytesAreIntact()
    {
        Gen.Select(Headers, Mutations).Sample((header, mutation) =>
        {
            var encoded = header.Encode();
            var damaged = ByteMutation.Apply(encoded, mutation.Kind, mutation.Position, mutation.Bytes);

            var status = BackupHeader.TryDecode(damaged, out var decoded);

            var intact = damaged.Length >= BackupHeader.Size && damaged.AsSpan(0, BackupHeader.Size).SequenceEqual(encoded);
            Assert.Equal(intact, status == BackupHeaderStatus.Ok);
            Assert.Equal(intact, decoded is not null);
        }, iter: 2000);
    }

    [Fact]
    public void ContentsTryDecode_EncodedContents_RoundTrip()
    {
        var createdAt = Gen.Long[DateTimeOffset.MinValue.ToUnixTimeMilliseconds(), DateTimeOffset.MaxValue.ToUnixTimeMilliseconds()].Select(DateTimeOffset.FromUnixTimeMilliseconds);
        Gen.Select(createdAt, Gen.Byte.Array[32], Gen.Byte.Array[0, 200], Gen.Byte.Array[0, 300]).Sample((created, key, identity, database) =>
        {
            var account = AccountId.FromPublicKey(key);
            byte[] plaintext = [.. BackupContents.EncodePrefix(created, account, identity.Length), .. identity, .. BackupContents.EncodeDatabaseLength(database.Length), .. database];

            Assert.True(BackupContents.TryDecode(plaintext, out var contents));
            Assert.Equal(created, contents.CreatedAt);
            Assert.Equal(account, contents.Account);
            Assert.Equal(identity, plaintext[contents.Identity]);
            Assert.Equal(database, plaintext[contents.Database]);
        }, iter: 1000);
    }

    [Fact]
    public void ContentsTryDecode_ArbitraryAndDamagedPlaintexts_NeverThrowAndStayInBounds()
    {
        var valid = Gen.Select(Gen.Long[0, 4_000_000_000_000], Gen.Byte.Array[0, 40], Gen.Byte.Array[0, 60]).Select((created, identity, database) =>
        {
            var account = AccountId.FromPublicKey(Encoding.ASCII.GetBytes("thirty-two bytes of account key!"));
            return (byte[])[.. BackupContents.EncodePrefix(DateTimeOffset.FromUnixTimeMilliseconds(created), account, identity.Length), .. identity, .. BackupContents.EncodeDatabaseLength(database.Length), .. database];
        });
        var damaged = Gen.Select(valid, Mutations).Select((plaintext, mutation) => ByteMutation.Apply(plaintext, mutation.Kind, mutation.Position, mutation.Bytes));
        Gen.OneOf(Gen.Byte.Array[0, 200], damaged).Sample(plaintext =>
        {
            if (BackupContents.TryDecode(plaintext, out var contents))
            {
                var (identityStart, identityLength) = contents.Identity.GetOffsetAndLength(plaintext.Length);
                var (databaseStart, databaseLength) = contents.Database.GetOffsetAndLength(plaintext.Length);
                Assert.Equal(identityStart + identityLength + 8, databaseStart);
                Assert.Equal(plaintext.Length, databaseStart + databaseLength);
            }
        }, iter: 5000);
    }
}
