using System.Buffers.Binary;
using CsCheck;
using SecureChat.Protocol.Ratchet;

namespace SecureChat.Protocol.Tests.Ratchet;

/// <summary>
/// Hostile ratchet messages: every single-bit flip, every truncation, small-order keys and
/// impossible counters are rejected as result values and leave the receiving session byte-identical.
/// </summary>
public sealed class RatchetAdversarialTests
{
    public const string FirstMessageToBob = "first message to Bob (Bob's first DH ratchet step)";
    public const string NextMessageInChain = "next message in Bob's receiving chain";
    public const string LateMessageWithSkippedKey = "late message opened with a skipped key";
    public const string FirstReplyToAlice = "Bob's first reply (Alice's first DH ratchet step)";
    public const string NewChainAfterGap = "first message of a new chain after a lost one";

    public static TheoryData<string> Scenarios => new()
    {
        FirstMessageToBob,
        NextMessageInChain,
        LateMessageWithSkippedKey,
        FirstReplyToAlice,
        NewChainAfterGap,
    };

    public static TheoryData<string> SmallOrderPoints => new()
    {
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "0000000000000000000000000000000000000000000000000000000000000080",
    };

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void TryDecrypt_AnySingleBitFlipped_IsRejectedAndChangesNothing(string scenario)
    {
        using var pair = RatchetPair.Create();
        var (receiver, message) = Prepare(pair, scenario);
        var before = receiver.Export();

        for (var bit = 0; bit < message.Length * 8; bit++)
        {
            var forged = message.ToArray();
            forged[bit / 8] ^= (byte)(1 << (bit % 8));

            var result = receiver.TryDecrypt(forged, RatchetPair.Start, out var plaintext);

            Assert.True(result != RatchetError.None, $"bit {bit} flipped was accepted");
            Assert.Null(plaintext);
            Assert.Equal(before, receiver.Export());
        }

        Assert.Equal("genuine", RatchetPair.Receive(receiver, message));
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void TryDecrypt_Truncated_IsMalformedOrUnauthenticated(string scenario)
    {
        using var pair = RatchetPair.Create();
        var (receiver, message) = Prepare(pair, scenario);

        for (var length = 0; length < message.Length; length++)
        {
            var expected = length < RatchetHeader.Size + 16 ? RatchetError.Malformed : RatchetError.Unauthenticated;
            RatchetPair.AssertRejected(receiver, message[..length], expected);
        }

        Assert.Equal("genuine", RatchetPair.Receive(receiver, message));
    }

    [Theory]
    [MemberData(nameof(SmallOrderPoints))]
    public void TryDecrypt_SmallOrderHeaderKey_IsInvalidKey(string point)
    {
        using var pair = RatchetPair.Create();
        var message = pair.Alice.Encrypt("genuine"u8);
        var forged = message.ToArray();
        Convert.FromHexString(point).CopyTo(forged, 1);

        RatchetPair.AssertRejected(pair.Bob, forged, RatchetError.InvalidKey);
        Assert.Equal("genuine", RatchetPair.Receive(pair.Bob, message));
        pair.Converse(1);
        RatchetPair.AssertRejected(pair.Alice, forged, RatchetError.InvalidKey);
        RatchetPair.AssertRejected(pair.Bob, forged, RatchetError.InvalidKey);
    }

    [Fact]
    public void TryDecrypt_OtherVersion_IsMalformed()
    {
        using var pair = RatchetPair.Create();
        var message = pair.Alice.Encrypt("genuine"u8);

        foreach (var version in new byte[] { 0, 2, 0xFF })
        {
            var forged = message.ToArray();
            forged[0] = version;
            RatchetPair.AssertRejected(pair.Bob, forged, RatchetError.Malformed);
        }
    }

    [Fact]
    public void TryDecrypt_MessageNumberMaxValue_IsMalformed()
    {
        using var pair = RatchetPair.Create();
        var forged = pair.Alice.Encrypt("genuine"u8);
        BinaryPrimitives.WriteUInt32BigEndian(forged.AsSpan(37), uint.MaxValue);

        RatchetPair.AssertRejected(pair.Bob, forged, RatchetError.Malformed);
    }

    [Theory]
    [InlineData(0u, uint.MaxValue - 1)]
    [InlineData(uint.MaxValue, 0u)]
    [InlineData(uint.MaxValue, uint.MaxValue - 1)]
    public void TryDecrypt_HugeCounters_AreTooManySkipped(uint previousChainLength, uint messageNumber)
    {
        using var pair = RatchetPair.Create();
        pair.Converse(1);
        var newChain = pair.Alice.Encrypt("genuine"u8);
        var forged = newChain.ToArray();
        BinaryPrimitives.WriteUInt32BigEndian(forged.AsSpan(33), previousChainLength);
        BinaryPrimitives.WriteUInt32BigEndian(forged.AsSpan(37), messageNumber);

        RatchetPair.AssertRejected(pair.Bob, forged, RatchetError.TooManySkipped);
        Assert.Equal("genuine", RatchetPair.Receive(pair.Bob, newChain));
        var inChain = pair.Alice.Encrypt("genuine"u8);
        forged = inChain.ToArray();
        BinaryPrimitives.WriteUInt32BigEndian(forged.AsSpan(33), previousChainLength);
        BinaryPrimitives.WriteUInt32BigEndian(forged.AsSpan(37), Math.Max(messageNumber, 1002));

        RatchetPair.AssertRejected(pair.Bob, forged, RatchetError.TooManySkipped);
        Assert.Equal("genuine", RatchetPair.Receive(pair.Bob, inChain));
    }

    [Fact]
    public void TryDecrypt_MessageFromAliceToHerself_IsRejected()
    {
        using var pair = RatchetPair.Create();
        pair.Converse(1);
        var own = pair.Alice.Encrypt("mirror"u8);

        Assert.NotEqual(RatchetError.None, pair.Alice.TryDecrypt(own, RatchetPair.Start, out var plaintext));
        Assert.Null(plaintext);
        Assert.Equal("mirror", RatchetPair.Receive(pair.Bob, own));
    }

    [Fact]
    public void TryDecrypt_RandomGarbage_IsRejectedAndChangesNothing()
    {
        using var pair = RatchetPair.Create();
        pair.Converse(1);
        var before = pair.Bob.Export();

        Gen.Byte.Array[0, 200].Sample(bytes =>
        {
            Assert.NotEqual(RatchetError.None, pair.Bob.TryDecrypt(bytes, RatchetPair.Start, out var plaintext));
            Assert.Null(plaintext);
        }, iter: 500);
        Assert.Equal(before, pair.Bob.Export());
    }

    // Plays the conversation up to the point where receiver is about to read message, whose
    // plaintext is "genuine".
    private static (RatchetSession Receiver, byte[] Message) Prepare(RatchetPair pair, string scenario)
    {
        switch (scenario)
        {
            case FirstMessageToBob:
                return (pair.Bob, pair.Alice.Encrypt("genuine"u8));
            case NextMessageInChain:
                RatchetPair.Receive(pair.Bob, pair.Alice.Encrypt("before"u8));
                return (pair.Bob, pair.Alice.Encrypt("genuine"u8));
            case LateMessageWithSkippedKey:
                var late = pair.Alice.Encrypt("genuine"u8);
                RatchetPair.Receive(pair.Bob, pair.Alice.Encrypt("overtakes"u8));
                Assert.Equal(1, pair.Bob.SkippedKeyCount);
                return (pair.Bob, late);
            case FirstReplyToAlice:
                RatchetPair.Receive(pair.Bob, pair.Alice.Encrypt("hello"u8));
                return (pair.Alice, pair.Bob.Encrypt("genuine"u8));
            case NewChainAfterGap:
                pair.Converse(1);
                pair.Alice.Encrypt("lost"u8);
                RatchetPair.Receive(pair.Alice, pair.Bob.Encrypt("reply"u8));
                return (pair.Bob, pair.Alice.Encrypt("genuine"u8));
            default:
                throw new ArgumentOutOfRangeException(nameof(scenario), scenario, null);
        }
    }
}
