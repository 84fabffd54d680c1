using System.Buffers.Binary;
using CsCheck;
using SecureChat.Protocol.Ratchet;
using SecureChat.Testing;

namespace SecureChat.Protocol.Tests.Ratchet;

/// <summary>
/// Property tests of the ratchet's codecs (docs/ratchet.md, sections 3 and 5): the message header,
/// messages of generated conversations (late, out of order, lost) and the exported state. Valid
/// values round-trip; random and damaged bytes give a <see cref="RatchetError"/> or null, leave the
/// session as it was, and never throw.
/// </summary>
public sealed class RatchetPropertyTests
{
    private static readonly Gen<(int Kind, int Position, byte[] Bytes)> Mutations =
        Gen.Select(Gen.Int[0, ByteMutation.Kinds - 1], Gen.Int[0, int.MaxValue], Gen.Byte.Array[1, 8]);

    /// <summary>
    /// A conversation as turns: who speaks (true: Alice), how many messages, and which of them are
    /// delivered in which order (a permutation key per message; negative means lost).
    /// </summary>
    private static readonly Gen<(bool Alice, int[] Keys)[]> Conversations =
        Gen.Select(Gen.Bool, Gen.Int[-3, 20].Array[1, 6]).Array[1, 6];

    [Fact]
    public void HeaderTryRead_WrittenHeaders_RoundTrip()
    {
        Gen.Select(Gen.Byte.Array[RatchetPublicKey.Size], Gen.UInt, Gen.UInt[0, RatchetHeader.MaxMessageNumber], Gen.Byte.Array[0, 40])
            .Sample((key, previous, number, rest) =>
            {
                var header = new RatchetHeader(RatchetPublicKey.Read(key), previous, number);
                var message = new byte[RatchetHeader.Size + RatchetFunctions.TagSize + rest.Length];
                header.WriteTo(message);

                Assert.True(RatchetHeader.TryRead(message, out var read));
                Assert.Equal(header, read);
            }, iter: 1000);
    }

    [Fact]
    public void HeaderTryRead_ArbitraryBytes_ReadsExactlyWhatTheLayoutAllows()
    {
        var nearHeaders = Gen.Select(Gen.Byte.Array[RatchetHeader.Size - 1, RatchetHeader.Size + RatchetFunctions.TagSize + 2], Gen.Bool)
            .Select((bytes, versioned) =>
            {
                if (versioned && bytes.Length > 0)
                {
                    bytes[0] = RatchetHeader.Version;
                }

                return bytes;
            });
        Gen.OneOf(Gen.Byte.Array[0, 100], nearHeaders).Sample(bytes =>
        {
            var accepted = RatchetHeader.TryRead(bytes, out var header);

            var valid = bytes.Length >= RatchetHeader.Size + RatchetFunctions.TagSize
                && bytes[0] == RatchetHeader.Version
                && BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(37)) <= RatchetHeader.MaxMessageNumber;
            Assert.Equal(valid, accepted);
            if (accepted)
            {
                Assert.Equal(RatchetPublicKey.Read(bytes.AsSpan(1, 32)), header.PublicKey);
                Assert.Equal(BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(33)), header.PreviousChainLength);
                Assert.Equal(BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(37)), header.MessageNumber);
            }
        }, iter: 5000);
    }

    [Fact]
    public void TryDecrypt_GeneratedConversations_DeliverEveryMessageThatArrivesAndExportRoundTrips()
    {
        Conversations.Sample(turns =>
        {
            using var pair = RatchetPair.Create();
            Play(pair, turns, (receiver, message, text) => Assert.Equal(text, RatchetPair.Receive(receiver, message)));

            foreach (var session in new[] { pair.Alice, pair.Bob })
            {
                var state = session.Export();
                using var imported = RatchetSession.Import(state);
                Assert.NotNull(imported);
                Assert.Equal(state, imported.Export());
            }

            pair.Reload();
            pair.Converse(2);
        }, iter: 150);
    }

    [Fact]
    public void TryDecrypt_DamagedMessages_AreRejectedAndChangeNothing()
    {
        Gen.Select(Conversations, Mutations).Sample((turns, mutation) =>
        {
            using var pair = RatchetPair.Create();
            Play(pair, turns, (receiver, message, text) =>
            {
                var damaged = ByteMutation.Apply(message, mutation.Kind, mutation.Position, mutation.Bytes);
                if (!damaged.AsSpan().SequenceEqual(message))
                {
                    var before = receiver.Export();
                    Assert.NotEqual(RatchetError.None, receiver.TryDecrypt(damaged, RatchetPair.Start, out var plaintext));
                    Assert.Null(plaintext);
                    Assert.Equal(before, receiver.Export());
                }

                Assert.Equal(text, RatchetPair.Receive(receiver, message));
            });
        }, iter: 100);
    }

    [Fact]
    public void TryDecrypt_RandomBytesInAConversation_AreRejectedAndChangeNothing()
    {
        var garbage = Gen.OneOf(
            Gen.Byte.Array[0, 120],
            Gen.Select(Gen.Byte.Array[RatchetHeader.Size + RatchetFunctions.TagSize, 120], Gen.UInt[0, 3]).Select((bytes, number) =>
            {
                bytes[0] = RatchetHeader.Version;
                BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(37), number);
                return bytes;
            }));
        Gen.Select(Conversations, garbage).Sample((turns, random) =>
        {
            using var pair = RatchetPair.Create();
            Play(pair, turns, (receiver, message, text) => Assert.Equal(text, RatchetPair.Receive(receiver, message)));
            foreach (var session in new[] { pair.Alice, pair.Bob })
            {
                var before = session.Export();
                Assert.NotEqual(RatchetError.None, session.TryDecrypt(random, RatchetPair.Start, out var plaintext));
                Assert.Null(plaintext);
                Assert.Equal(before, session.Export());
            }
        }, iter: 300);
    }

    [Fact]
    public void Import_DamagedExportsOfGeneratedConversations_NeverThrowAndAcceptOnlyCanonicalStates()
    {
        Gen.Select(Conversations, Mutations, Gen.Bool).Sample((turns, mutation, alice) =>
        {
            using var pair = RatchetPair.Create();
            Play(pair, turns, (receiver, message, text) => Assert.Equal(text, RatchetPair.Receive(receiver, message)));
            var state = (alice ? pair.Alice : pair.Bob).Export();
            var damaged = ByteMutation.Apply(state, mutation.Kind, mutation.Position, mutation.Bytes);

            using var imported = RatchetSession.Import(damaged);

            if (imported is not null)
            {
                Assert.Equal(damaged, imported.Export());
            }
        }, iter: 300);
    }

    /// <summary>
    /// Plays the turns: the speaker encrypts its messages, then the other side gets those not lost,
    /// in the order of their keys, through <paramref name="deliver"/>. Alice speaks first whatever
    /// the first turn says, since Bob cannot send before he has heard from her.
    /// </summary>
    private static void Play(RatchetPair pair, (bool Alice, int[] Keys)[] turns, Action<RatchetSession, byte[], string> deliver)
    {
        var heardAlice = false;
        var number = 0;
        foreach (var (aliceSpeaks, keys) in turns)
        {
            var alice = aliceSpeaks || !heardAlice;
            var (sender, receiver) = alice ? (pair.Alice, pair.Bob) : (pair.Bob, pair.Alice);
            var sent = keys.Select(key => (Key: key, Text: $"message {number++}")).Select(m => (m.Key, m.Text, Message: sender.Encrypt(RatchetPair.Utf8(m.Text)))).ToList();
            foreach (var (_, text, message) in sent.Where(m => m.Key >= 0).OrderBy(m => m.Key))
            {
                deliver(receiver, message, text);
                heardAlice |= alice;
            }
        }
    }
}
