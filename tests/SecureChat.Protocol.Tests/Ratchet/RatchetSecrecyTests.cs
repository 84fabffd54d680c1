using System.Buffers.Binary;
using System.Security.Cryptography;
using SecureChat.Protocol.Ratchet;

namespace SecureChat.Protocol.Tests.Ratchet;

/// <summary>
/// Forward secrecy (used keys are gone from the state) and post-compromise security (a stolen state
/// stops working after one round trip), shown with an attacker who imports a stolen export.
/// </summary>
public sealed class RatchetSecrecyTests
{
    // Offsets of the exported state (docs/ratchet.md, section 5).
    private const int ReceivingChainKeyOffset = 166;
    private const int ReceivingCountOffset = 202;

    // KDF_CK (docs/ratchet.md, section 2.3).
    private static readonly byte[] MessageKeyInput = [0x01];
    private static readonly byte[] ChainKeyInput = [0x02];

    [Fact]
    public void TryDecrypt_StateStolenWhileMessagesInFlight_AttackerReadsThoseButNothingAfterOneRoundTrip()
    {
        using var pair = RatchetPair.Create();
        pair.Converse(3);
        byte[][] inFlight = [pair.Alice.Encrypt("in flight 1"u8), pair.Alice.Encrypt("in flight 2"u8)];
        var stolen = pair.Bob.Export();
        using var attacker = RatchetSession.Import(stolen);
        Assert.NotNull(attacker);

        Assert.Equal("in flight 1", RatchetPair.Receive(attacker, inFlight[0]));
        Assert.Equal("in flight 2", RatchetPair.Receive(attacker, inFlight[1]));

        // One round trip: Bob's reply carries a ratchet key generated after the theft, and Alice's
        // next messages are encrypted under DH(her new key, that key).
        Assert.Equal("in flight 1", RatchetPair.Receive(pair.Bob, inFlight[0]));
        Assert.Equal("in flight 2", RatchetPair.Receive(pair.Bob, inFlight[1]));
        Assert.Equal("reply", RatchetPair.Receive(pair.Alice, pair.Bob.Encrypt("reply"u8)));
        byte[][] after = [pair.Alice.Encrypt("after 1"u8), pair.Alice.Encrypt("after 2"u8)];

        using var freshCopy = RatchetSession.Import(stolen);
        Assert.NotNull(freshCopy);
        foreach (var message in after)
        {
            RatchetPair.AssertRejected(attacker, message, RatchetError.Unauthenticated);
            RatchetPair.AssertRejected(freshCopy, message, RatchetError.Unauthenticated);
        }

        Assert.Equal("after 1", RatchetPair.Receive(pair.Bob, after[0]));
        Assert.Equal("after 2", RatchetPair.Receive(pair.Bob, after[1]));
    }

    [Fact]
    public void TryDecrypt_StateStolenFromAlice_AttackerLosesBobOnceBobUsesAliceNextKey()
    {
        using var pair = RatchetPair.Create();
        pair.Converse(2);
        using var attacker = RatchetSession.Import(pair.Alice.Export());
        Assert.NotNull(attacker);

        // Alice's current ratchet key pair was generated before the theft, so Bob's answer to it
        // is still readable; reading that answer makes Alice generate a key pair the attacker lacks.
        RatchetPair.Receive(pair.Bob, pair.Alice.Encrypt("alice 1"u8));
        var exposed = pair.Bob.Encrypt("exposed"u8);
        Assert.Equal("exposed", RatchetPair.Receive(attacker, exposed));
        Assert.Equal("exposed", RatchetPair.Receive(pair.Alice, exposed));
        RatchetPair.Receive(pair.Bob, pair.Alice.Encrypt("alice 2"u8));
        var after = pair.Bob.Encrypt("after"u8);

        RatchetPair.AssertRejected(attacker, after, RatchetError.Unauthenticated);
        Assert.Equal("after", RatchetPair.Receive(pair.Alice, after));
    }

    [Fact]
    public void TryDecrypt_MessageDecrypted_ItsKeyIsGoneFromTheState()
    {
        using var pair = RatchetPair.Create();
        var messages = Enumerable.Range(0, 5).Select(i => pair.Alice.Encrypt(RatchetPair.Utf8($"message {i}"))).ToArray();
        RatchetPair.Receive(pair.Bob, messages[0]);
        var before = pair.Bob.Export();
        Assert.Equal(1, ReadCount(before, ReceivingCountOffset));
        // KDF_CK from the receiving chain key of the state before: the keys of messages 1, 2 and 3.
        var chainKeys = new List<byte[]> { before.AsSpan(ReceivingChainKeyOffset, 32).ToArray() };
        var messageKeys = new List<byte[]>();
        for (var i = 1; i <= 3; i++)
        {
            messageKeys.Add(HMACSHA256.HashData(chainKeys[^1], MessageKeyInput));
            chainKeys.Add(HMACSHA256.HashData(chainKeys[^1], ChainKeyInput));
        }

        RatchetPair.Receive(pair.Bob, messages[1]);
        RatchetPair.Receive(pair.Bob, messages[3]);
        var afterSkip = pair.Bob.Export();
        RatchetPair.Receive(pair.Bob, messages[2]);
        var afterAll = pair.Bob.Export();

        Assert.True(Contains(afterSkip, messageKeys[1]), "the skipped key of message 2 is kept until message 2 arrives");
        Assert.False(Contains(afterSkip, messageKeys[0]));
        Assert.False(Contains(afterSkip, messageKeys[2]));
        Assert.All(messageKeys, key => Assert.False(Contains(afterAll, key)));
        Assert.All(chainKeys.Take(3), key => Assert.False(Contains(afterAll, key)));
        foreach (var message in messages[..4])
        {
            RatchetPair.AssertRejected(pair.Bob, message, RatchetError.Unauthenticated);
        }
    }

    [Fact]
    public void TryDecrypt_ReplayOfSkippedThenUsedMessage_IsUnauthenticated()
    {
        using var pair = RatchetPair.Create();
        var first = pair.Alice.Encrypt("first"u8);
        var second = pair.Alice.Encrypt("second"u8);
        RatchetPair.Receive(pair.Bob, second);
        RatchetPair.Receive(pair.Bob, first);

        Assert.Equal(0, pair.Bob.SkippedKeyCount);
        RatchetPair.AssertRejected(pair.Bob, first, RatchetError.Unauthenticated);
        RatchetPair.AssertRejected(pair.Bob, second, RatchetError.Unauthenticated);
    }

    [Fact]
    public void TryDecrypt_ReplayOfMessageFromEarlierChain_IsRejected()
    {
        using var pair = RatchetPair.Create();
        var old = pair.Alice.Encrypt("old"u8);
        RatchetPair.Receive(pair.Bob, old);
        pair.Converse(2);

        RatchetPair.AssertRejected(pair.Bob, old, RatchetError.Unauthenticated);
    }

    private static bool Contains(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle) >= 0;

    private static int ReadCount(byte[] state, int offset) => (int)BinaryPrimitives.ReadUInt32BigEndian(state.AsSpan(offset));
}
