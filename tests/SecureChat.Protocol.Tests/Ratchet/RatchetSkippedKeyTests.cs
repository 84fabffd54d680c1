using SecureChat.Protocol.Ratchet;

namespace SecureChat.Protocol.Tests.Ratchet;

/// <summary>
/// The bounds on skipped message keys: how far one header may make a chain skip (MAX_SKIP), how
/// many keys are held at once, and how long they are kept.
/// </summary>
public sealed class RatchetSkippedKeyTests
{
    private static readonly RatchetOptions SmallSkip = new() { MaxSkipPerChain = 10 };

    [Fact]
    public void TryDecrypt_FirstMessageBeyondMaxSkip_IsTooManySkipped()
    {
        using var pair = RatchetPair.Create(SmallSkip);
        var messages = SendMany(pair.Alice, 12);

        RatchetPair.AssertRejected(pair.Bob, messages[11], RatchetError.TooManySkipped);
        Assert.Equal("10", RatchetPair.Receive(pair.Bob, messages[10]));
        Assert.Equal(10, pair.Bob.SkippedKeyCount);
        Assert.Equal("11", RatchetPair.Receive(pair.Bob, messages[11]));
    }

    [Fact]
    public void TryDecrypt_GapInChainBeyondMaxSkip_IsTooManySkipped()
    {
        using var pair = RatchetPair.Create(SmallSkip);
        var messages = SendMany(pair.Alice, 13);
        RatchetPair.Receive(pair.Bob, messages[0]);

        RatchetPair.AssertRejected(pair.Bob, messages[12], RatchetError.TooManySkipped);
        Assert.Equal("11", RatchetPair.Receive(pair.Bob, messages[11]));
        Assert.Equal(10, pair.Bob.SkippedKeyCount);
    }

    [Theory]
    [InlineData(10, RatchetError.None)]
    [InlineData(11, RatchetError.TooManySkipped)]
    public void TryDecrypt_PreviousChainTailBeyondMaxSkip_IsTooManySkipped(int lost, RatchetError expected)
    {
        using var pair = RatchetPair.Create(SmallSkip);
        RatchetPair.Receive(pair.Bob, pair.Alice.Encrypt("0"u8));
        SendMany(pair.Alice, lost);
        RatchetPair.Receive(pair.Alice, pair.Bob.Encrypt("reply"u8));
        var nextChain = pair.Alice.Encrypt("next chain"u8);

        if (expected == RatchetError.None)
        {
            Assert.Equal("next chain", RatchetPair.Receive(pair.Bob, nextChain));
            Assert.Equal(lost, pair.Bob.SkippedKeyCount);
        }
        else
        {
            RatchetPair.AssertRejected(pair.Bob, nextChain, expected);
        }
    }

    [Fact]
    public void TryDecrypt_ZeroMaxSkip_AcceptsOnlyMessagesInOrder()
    {
        using var pair = RatchetPair.Create(new RatchetOptions { MaxSkipPerChain = 0 });
        var messages = SendMany(pair.Alice, 2);

        RatchetPair.AssertRejected(pair.Bob, messages[1], RatchetError.TooManySkipped);
        Assert.Equal("0", RatchetPair.Receive(pair.Bob, messages[0]));
        Assert.Equal("1", RatchetPair.Receive(pair.Bob, messages[1]));
    }

    [Fact]
    public void TryDecrypt_ManySkippedOverManyChains_KeepsAtMostMaxSkippedKeysNewestFirst()
    {
        var options = new RatchetOptions { MaxSkipPerChain = 10, MaxSkippedKeys = 25 };
        using var pair = RatchetPair.Create(options);
        var late = new List<byte[]>();
        for (var round = 0; round < 8; round++)
        {
            var messages = SendMany(pair.Alice, 6);
            late.AddRange(messages[..5]);
            RatchetPair.Receive(pair.Bob, messages[5]);
            Assert.True(pair.Bob.SkippedKeyCount <= 25, $"{pair.Bob.SkippedKeyCount} keys held after round {round}");
            RatchetPair.Receive(pair.Alice, pair.Bob.Encrypt("reply"u8));
        }

        Assert.Equal(25, pair.Bob.SkippedKeyCount);
        foreach (var evicted in late[..15])
        {
            RatchetPair.AssertRejected(pair.Bob, evicted, RatchetError.Unauthenticated);
        }

        foreach (var kept in late[15..])
        {
            RatchetPair.Receive(pair.Bob, kept);
        }

        Assert.Equal(0, pair.Bob.SkippedKeyCount);
    }

    [Fact]
    public void TryDecrypt_ZeroMaxSkippedKeys_KeepsNoKeys()
    {
        using var pair = RatchetPair.Create(new RatchetOptions { MaxSkippedKeys = 0 });
        var messages = SendMany(pair.Alice, 3);

        RatchetPair.Receive(pair.Bob, messages[2]);

        Assert.Equal(0, pair.Bob.SkippedKeyCount);
        RatchetPair.AssertRejected(pair.Bob, messages[0], RatchetError.Unauthenticated);
    }

    [Fact]
    public void TryDecrypt_SkippedKeyAtExactlyItsLifetime_StillOpensTheMessage()
    {
        using var pair = RatchetPair.Create();
        var messages = SendMany(pair.Alice, 2);
        RatchetPair.Receive(pair.Bob, messages[1], RatchetPair.Start);

        Assert.Equal("0", RatchetPair.Receive(pair.Bob, messages[0], RatchetPair.Start + RatchetOptions.Default.SkippedKeyLifetime));
    }

    [Fact]
    public void TryDecrypt_SkippedKeyOlderThanLifetime_IsDeletedAndItsMessageLost()
    {
        using var pair = RatchetPair.Create();
        var messages = SendMany(pair.Alice, 4);
        RatchetPair.Receive(pair.Bob, messages[2], RatchetPair.Start);
        var expired = RatchetPair.Start + RatchetOptions.Default.SkippedKeyLifetime + TimeSpan.FromTicks(1);

        // A rejected message changes nothing, not even the expired keys it found.
        RatchetPair.AssertRejected(pair.Bob, messages[0], RatchetError.Unauthenticated, expired);
        Assert.Equal(2, pair.Bob.SkippedKeyCount);
        Assert.Equal("3", RatchetPair.Receive(pair.Bob, messages[3], expired));

        Assert.Equal(0, pair.Bob.SkippedKeyCount);
        RatchetPair.AssertRejected(pair.Bob, messages[1], RatchetError.Unauthenticated, expired);
    }

    [Fact]
    public void TryDecrypt_WithSkippedKey_AlsoDeletesOtherExpiredKeys()
    {
        using var pair = RatchetPair.Create();
        var messages = SendMany(pair.Alice, 6);
        RatchetPair.Receive(pair.Bob, messages[2], RatchetPair.Start);
        var later = RatchetPair.Start + TimeSpan.FromDays(20);
        RatchetPair.Receive(pair.Bob, messages[5], later);
        Assert.Equal(4, pair.Bob.SkippedKeyCount);

        Assert.Equal("4", RatchetPair.Receive(pair.Bob, messages[4], RatchetPair.Start + TimeSpan.FromDays(31)));

        Assert.Equal(1, pair.Bob.SkippedKeyCount);
        Assert.Equal("3", RatchetPair.Receive(pair.Bob, messages[3], RatchetPair.Start + TimeSpan.FromDays(31)));
    }

    [Fact]
    public void ExpireSkippedKeys_IdleSession_DeletesOnlyOldKeys()
    {
        using var pair = RatchetPair.Create();
        var messages = SendMany(pair.Alice, 5);
        RatchetPair.Receive(pair.Bob, messages[2], RatchetPair.Start);
        RatchetPair.Receive(pair.Bob, messages[4], RatchetPair.Start + TimeSpan.FromDays(10));

        Assert.Equal(0, pair.Bob.ExpireSkippedKeys(RatchetPair.Start + TimeSpan.FromDays(30)));
        Assert.Equal(2, pair.Bob.ExpireSkippedKeys(RatchetPair.Start + TimeSpan.FromDays(31)));
        Assert.Equal(1, pair.Bob.SkippedKeyCount);
        Assert.Equal("3", RatchetPair.Receive(pair.Bob, messages[3], RatchetPair.Start + TimeSpan.FromDays(31)));
    }

    private static byte[][] SendMany(RatchetSession sender, int count) =>
        Enumerable.Range(0, count).Select(i => sender.Encrypt(RatchetPair.Utf8($"{i}"))).ToArray();
}
