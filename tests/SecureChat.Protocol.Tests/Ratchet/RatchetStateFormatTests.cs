using System.Buffers.Binary;
using CsCheck;
using SecureChat.Protocol.Ratchet;

namespace SecureChat.Protocol.Tests.Ratchet;

/// <summary>
/// Export and Import (docs/ratchet.md, section 5): a restarted session continues the conversation,
/// the encoding is canonical, and Import is total: any input returns, and anything Export cannot
/// have produced returns null.
/// </summary>
public sealed class RatchetStateFormatTests
{
    // Offsets of the exported state (docs/ratchet.md, section 5).
    private const int FlagsOffset = 5;
    private const int SendingPublicKeyOffset = 38;
    private const int ReceivingChainKeyOffset = 166;
    private const int ReceivingCountOffset = 202;
    private const int AssociatedDataLengthOffset = 210;
    private const int FixedSize = 216;
    private const int SkippedKeySize = 76;

    [Fact]
    public void Import_ExportedMidConversation_ContinuesBothWays()
    {
        using var pair = RatchetPair.Create();
        pair.Converse(3);
        var late = pair.Alice.Encrypt("late"u8);
        RatchetPair.Receive(pair.Bob, pair.Alice.Encrypt("overtakes"u8));

        pair.Reload();

        Assert.Equal(1, pair.Bob.SkippedKeyCount);
        Assert.Equal("late", RatchetPair.Receive(pair.Bob, late));
        pair.Converse(3);
    }

    [Fact]
    public void Import_BobBeforeFirstMessage_StillCannotSendThenReceives()
    {
        using var pair = RatchetPair.Create();

        pair.Reload();

        Assert.False(pair.Bob.CanSend);
        pair.Converse(2);
    }

    [Fact]
    public void Export_OfImportedState_IsTheSameBytes()
    {
        foreach (var state in SampleStates())
        {
            using var imported = RatchetSession.Import(state);
            Assert.NotNull(imported);
            Assert.Equal(state, imported.Export());
        }
    }

    [Fact]
    public void Import_EveryTruncation_ReturnsNull()
    {
        foreach (var state in SampleStates())
        {
            for (var length = 0; length < state.Length; length++)
            {
                Assert.Null(RatchetSession.Import(state.AsSpan(0, length)));
            }
        }
    }

    [Fact]
    public void Import_TrailingBytes_ReturnsNull()
    {
        var state = SampleStates()[^1];

        Assert.Null(RatchetSession.Import([.. state, 0]));
        Assert.Null(RatchetSession.Import([.. state, .. new byte[SkippedKeySize]]));
    }

    [Fact]
    public void Import_RandomBytes_ReturnsNull()
    {
        Gen.Byte.Array[0, 700].Sample(bytes => Assert.Null(RatchetSession.Import(bytes)), iter: 2000);
    }

    [Fact]
    public void Import_RandomBytesAfterValidMagic_ReturnsNull()
    {
        Gen.Byte.Array[0, 700].Sample(bytes => Assert.Null(RatchetSession.Import([.. "SCDR\u0001"u8, .. bytes])), iter: 2000);
    }

    [Fact]
    public void Import_AnyBytesOfValidStateChanged_NeverThrows()
    {
        var state = SampleStates()[^1];

        Gen.Select(Gen.Int[0, state.Length - 1], Gen.Byte.Array[1, 8]).Sample((offset, patch) =>
        {
            var changed = state.ToArray();
            patch.AsSpan(0, Math.Min(patch.Length, changed.Length - offset)).CopyTo(changed.AsSpan(offset));
            using var session = RatchetSession.Import(changed);
            if (session is not null)
            {
                Assert.Equal(changed, session.Export());
            }
        }, iter: 2000);
    }

    public static TheoryData<string> Inconsistencies => new()
    {
        "reserved flag bit",
        "DHr absent but CKs present",
        "CKr present without DHr",
        "CKr absent but bytes not zero",
        "CKr absent but Nr not zero",
        "DHs public key not DHs private key's",
        "DHr a small-order point",
        "associated data longer than 1024 bytes",
        "skipped count above 100,000",
        "skipped key named twice",
        "skipped key numbered 2^32-1",
        "skipped key stored before year 1",
        "skipped key stored after year 9999",
        "other format version",
    };

    [Theory]
    [MemberData(nameof(Inconsistencies))]
    public void Import_InconsistentState_ReturnsNull(string inconsistency)
    {
        var states = SampleStates();
        var aliceBeforeReceiving = states[1];
        var bobWithSkippedKeys = states[^1];
        var firstSkipped = FixedSize + RatchetPair.AssociatedData.Length;
        var secondSkipped = firstSkipped + SkippedKeySize;
        byte[] Patch(byte[] original, Action<byte[]> change)
        {
            var copy = original.ToArray();
            change(copy);
            return copy;
        }

        var bad = inconsistency switch
        {
            "reserved flag bit" => Patch(bobWithSkippedKeys, s => s[FlagsOffset] |= 0x08),
            "DHr absent but CKs present" => Patch(bobWithSkippedKeys, s => s[FlagsOffset] &= 0xFE),
            "CKr present without DHr" => Patch(states[0], s => s[FlagsOffset] = 0x04),
            "CKr absent but bytes not zero" => Patch(aliceBeforeReceiving, s => s[ReceivingChainKeyOffset] = 1),
            "CKr absent but Nr not zero" => Patch(aliceBeforeReceiving, s => s[ReceivingCountOffset + 3] = 1),
            "DHs public key not DHs private key's" => Patch(bobWithSkippedKeys, s => s[SendingPublicKeyOffset] ^= 1),
            "DHr a small-order point" => Patch(bobWithSkippedKeys, s => s.AsSpan(70, 32).Clear()),
            "associated data longer than 1024 bytes" => [.. states[0][..AssociatedDataLengthOffset], 0x04, 0x01, .. new byte[1025], 0, 0, 0, 0],
            "skipped count above 100,000" => Patch(bobWithSkippedKeys, s => BinaryPrimitives.WriteUInt32BigEndian(s.AsSpan(firstSkipped - 4), 100_001)),
            "skipped key named twice" => Patch(bobWithSkippedKeys, s => s.AsSpan(firstSkipped, 36).CopyTo(s.AsSpan(secondSkipped))),
            "skipped key numbered 2^32-1" => Patch(bobWithSkippedKeys, s => BinaryPrimitives.WriteUInt32BigEndian(s.AsSpan(firstSkipped + 32), uint.MaxValue)),
            "skipped key stored before year 1" => Patch(bobWithSkippedKeys, s => BinaryPrimitives.WriteInt64BigEndian(s.AsSpan(firstSkipped + 36), -1)),
            "skipped key stored after year 9999" => Patch(bobWithSkippedKeys, s => BinaryPrimitives.WriteInt64BigEndian(s.AsSpan(firstSkipped + 36), DateTimeOffset.MaxValue.UtcTicks + 1)),
            "other format version" => Patch(bobWithSkippedKeys, s => s[4] = 2),
            _ => throw new ArgumentOutOfRangeException(nameof(inconsistency)),
        };

        Assert.Null(RatchetSession.Import(bad));
    }

    [Fact]
    public void Import_MoreSkippedKeysThanOptionsAllow_KeepsTheNewest()
    {
        using var pair = RatchetPair.Create();
        var messages = Enumerable.Range(0, 6).Select(i => pair.Alice.Encrypt(RatchetPair.Utf8($"{i}"))).ToArray();
        RatchetPair.Receive(pair.Bob, messages[5]);

        using var bob = RatchetSession.Import(pair.Bob.Export(), new RatchetOptions { MaxSkippedKeys = 2 });

        Assert.NotNull(bob);
        Assert.Equal(2, bob.SkippedKeyCount);
        RatchetPair.AssertRejected(bob, messages[2], RatchetError.Unauthenticated);
        Assert.Equal("3", RatchetPair.Receive(bob, messages[3]));
        Assert.Equal("4", RatchetPair.Receive(bob, messages[4]));
    }

    // Bob before any message, Alice before any reply, both mid-conversation, and Bob holding three
    // skipped keys of two chains.
    private static byte[][] SampleStates()
    {
        using var pair = RatchetPair.Create();
        var states = new List<byte[]> { pair.Bob.Export(), pair.Alice.Export() };
        pair.Converse(2);
        states.Add(pair.Alice.Export());
        states.Add(pair.Bob.Export());
        var messages = Enumerable.Range(0, 3).Select(i => pair.Alice.Encrypt(RatchetPair.Utf8($"{i}"))).ToArray();
        RatchetPair.Receive(pair.Bob, messages[1]);
        RatchetPair.Receive(pair.Alice, pair.Bob.Encrypt("reply"u8));
        RatchetPair.Receive(pair.Bob, pair.Alice.Encrypt("3"u8));
        pair.Alice.Encrypt("4"u8);
        RatchetPair.Receive(pair.Bob, pair.Alice.Encrypt("5"u8));
        Assert.Equal(3, pair.Bob.SkippedKeyCount);
        states.Add(pair.Bob.Export());
        return [.. states];
    }
}
