using System.Buffers.Binary;
using System.Security.Cryptography;
using CsCheck;
using SecureChat.Protocol.Discovery;

namespace SecureChat.Protocol.Tests.Discovery;

/// <summary>
/// LAN beacons (docs/discovery.md section 5): the layout, that only the contacts a beacon is
/// meant for recognise it, that stale and damaged beacons are not, how many contacts fit in one,
/// and a reader that is total.
/// </summary>
public sealed class LanBeaconTests : IDisposable
{
    private const int Port = 7313;
    private static readonly DateTimeOffset Now = new(2025, 5, 1, 9, 0, 0, TimeSpan.Zero);

    private readonly DiscoveryAccount _alice = new();
    private readonly DiscoveryAccount _bob = new();
    private readonly DiscoveryAccount _carol = new();
    private readonly DiscoveryAccount _dave = new();

    public void Dispose()
    {
        _alice.Dispose();
        _bob.Dispose();
        _carol.Dispose();
        _dave.Dispose();
    }

    [Fact]
    public void Build_TwoContacts_HeaderAndTagsFollowTheSpecification()
    {
        var toBob = _alice.TagKey(_bob, _alice, _bob);
        var toCarol = _alice.TagKey(_carol, _alice, _carol);

        var beacon = Assert.Single(LanBeacon.Build([toBob, toCarol], Port, Now));

        // "SCL1" | nonce 16 | sent at i64 | port u16 | n u8 | n × tag
        Assert.Equal(31, LanBeacon.HeaderSize);
        Assert.Equal("SCL1"u8.ToArray(), beacon[..4]);
        Assert.Equal(Now.ToUnixTimeSeconds(), BinaryPrimitives.ReadInt64BigEndian(beacon.AsSpan(20)));
        Assert.Equal(Port, BinaryPrimitives.ReadUInt16BigEndian(beacon.AsSpan(28)));
        Assert.Equal(8, beacon[30]);
        Assert.Equal(31 + (8 * 16), beacon.Length);

        // tag = HMAC-SHA256(tag_key, the 31 header bytes)[0..16], once each, among random padding.
        var tags = beacon[31..].Chunk(16).Select(Convert.ToHexString).ToList();
        Assert.Single(tags, Convert.ToHexString(HMACSHA256.HashData(toBob, beacon[..31])[..16]));
        Assert.Single(tags, Convert.ToHexString(HMACSHA256.HashData(toCarol, beacon[..31])[..16]));
        Assert.Equal(8, tags.Distinct().Count());
    }

    [Fact]
    public void TagKey_AnyPair_MatchesSpecification()
    {
        using var pair = _alice.PairWith(_bob);

        var key = LanBeacon.TagKey(pair.Span, _alice.Id, _bob.Id);

        byte[] info = [.. "SecureChat LAN beacon v1"u8, .. _alice.Id.PublicKey, .. _bob.Id.PublicKey];
        Assert.Equal(HKDF.Expand(HashAlgorithmName.SHA256, pair.Span.ToArray(), 32, info), key);
    }

    [Fact]
    public void TagKey_BothSidesOfAPair_SameKeyForEachDirectionAndDifferentAcrossDirections()
    {
        var aliceToBob = _alice.TagKey(_bob, _alice, _bob);

        Assert.Equal(aliceToBob, _bob.TagKey(_alice, _alice, _bob));
        Assert.NotEqual(aliceToBob, _bob.TagKey(_alice, _bob, _alice));
        Assert.NotEqual(aliceToBob, _alice.TagKey(_carol, _alice, _carol));
    }

    [Fact]
    public void Recognise_ContactsOfTheSender_FindTheSenderAndPort()
    {
        var beacons = LanBeacon.Build([_alice.TagKey(_bob, _alice, _bob), _alice.TagKey(_carol, _alice, _carol)], Port, Now);
        var beacon = Assert.Single(beacons);

        // Bob's contacts are dave, alice and carol; only alice sent this.
        var bobIncoming = new List<byte[]> { _bob.TagKey(_dave, _dave, _bob), _bob.TagKey(_alice, _alice, _bob), _bob.TagKey(_carol, _carol, _bob) };
        var carolIncoming = new List<byte[]> { _carol.TagKey(_alice, _alice, _carol) };

        AssertFound(LanBeacon.Recognise(beacon, bobIncoming, Now), [1], Port);
        AssertFound(LanBeacon.Recognise(beacon, carolIncoming, Now), [0], Port);
    }

    [Fact]
    public void Recognise_KeysInBeaconAndOthers_ReturnsExactlyTheIndexesOfThoseInIt()
    {
        var keys = Enumerable.Range(0, 20).Select(_ => RandomNumberGenerator.GetBytes(32)).ToList();
        var beacons = LanBeacon.Build(keys.Take(10).ToList(), Port, Now);
        var beacon = Assert.Single(beacons);

        var (senders, port) = LanBeacon.Recognise(beacon, [keys[15], keys[3], keys[12], keys[9], keys[0], keys[19]], Now);

        Assert.Equal([1, 3, 4], senders);
        Assert.Equal(Port, port);
    }

    [Fact]
    public void Recognise_AccountsTheBeaconIsNotFor_FindNothing()
    {
        var beacon = Assert.Single(LanBeacon.Build([_alice.TagKey(_bob, _alice, _bob)], Port, Now));

        // Dave is no contact of alice: whatever he computes, nothing matches.
        List<byte[]> daveGuesses = [_dave.TagKey(_alice, _alice, _dave), _dave.TagKey(_bob, _alice, _bob), _dave.TagKey(_bob, _bob, _dave)];

        // Alice's own beacon read with the keys for what bob sends her: the other direction.
        List<byte[]> aliceIncoming = [_alice.TagKey(_bob, _bob, _alice)];

        Assert.Empty(LanBeacon.Recognise(beacon, daveGuesses, Now).Senders);
        Assert.Empty(LanBeacon.Recognise(beacon, aliceIncoming, Now).Senders);
        Assert.Empty(LanBeacon.Recognise(beacon, [], Now).Senders);
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(119, true)]
    [InlineData(-119, true)]
    [InlineData(120, true)] // exactly two minutes
    [InlineData(-120, true)]
    [InlineData(121, false)]
    [InlineData(-121, false)]
    [InlineData(3600, false)]
    [InlineData(-86400, false)]
    public void Recognise_ReceiverClockOffset_AcceptedWithinTwoMinutes(int offsetSeconds, bool recognised)
    {
        var key = _alice.TagKey(_bob, _alice, _bob);
        var beacon = Assert.Single(LanBeacon.Build([key], Port, Now));

        var (senders, port) = LanBeacon.Recognise(beacon, [key], Now.AddSeconds(offsetSeconds));

        Assert.Equal(recognised ? [0] : [], senders);
        Assert.Equal(recognised ? Port : 0, port);
    }

    [Fact]
    public void Recognise_EveryBitOfTheHeaderFlipped_ContactNotRecognised()
    {
        var key = _alice.TagKey(_bob, _alice, _bob);
        var beacon = Assert.Single(LanBeacon.Build([key], Port, Now));
        Assert.Equal([0], LanBeacon.Recognise(beacon, [key], Now).Senders);

        for (var bit = 0; bit < LanBeacon.HeaderSize * 8; bit++)
        {
            var damaged = beacon.ToArray();
            damaged[bit / 8] ^= (byte)(1 << (bit % 8));

            Assert.Empty(LanBeacon.Recognise(damaged, [key], Now).Senders);
        }
    }

    [Fact]
    public void Recognise_EveryBitOfOneContactsTagFlipped_OnlyThatContactNotRecognised()
    {
        var keys = Enumerable.Range(0, 8).Select(_ => RandomNumberGenerator.GetBytes(32)).ToList();
        var beacon = Assert.Single(LanBeacon.Build(keys, Port, Now));
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7], LanBeacon.Recognise(beacon, keys, Now).Senders);

        for (var bit = LanBeacon.HeaderSize * 8; bit < beacon.Length * 8; bit++)
        {
            var damaged = beacon.ToArray();
            damaged[bit / 8] ^= (byte)(1 << (bit % 8));

            var (senders, port) = LanBeacon.Recognise(damaged, keys, Now);

            // The tags are in random order: the damaged one is found by whose it was.
            var slot = beacon.AsSpan(LanBeacon.HeaderSize + ((bit / 8) - LanBeacon.HeaderSize) / LanBeacon.TagSize * LanBeacon.TagSize, LanBeacon.TagSize).ToArray();
            var owner = keys.FindIndex(k => HMACSHA256.HashData(k, beacon[..LanBeacon.HeaderSize])[..LanBeacon.TagSize].SequenceEqual(slot));
            Assert.NotEqual(-1, owner);
            Assert.Equal(Enumerable.Range(0, 8).Where(i => i != owner), senders);
            Assert.Equal(Port, port);
        }
    }

    [Fact]
    public void Recognise_PaddingTagFlipped_ContactStillRecognised()
    {
        var key = _alice.TagKey(_bob, _alice, _bob);
        var beacon = Assert.Single(LanBeacon.Build([key], Port, Now));
        var header = beacon[..LanBeacon.HeaderSize];
        var own = HMACSHA256.HashData(key, header)[..16];

        for (var slot = 0; slot < 8; slot++)
        {
            var tag = beacon.AsSpan(LanBeacon.HeaderSize + (slot * 16), 16);
            if (tag.SequenceEqual(own))
            {
                continue;
            }

            var damaged = beacon.ToArray();
            damaged[LanBeacon.HeaderSize + (slot * 16)] ^= 0x01;

            Assert.Equal([0], LanBeacon.Recognise(damaged, [key], Now).Senders);
        }
    }

    [Fact]
    public void Recognise_TruncatedOrExtended_FindsNothing()
    {
        var key = _alice.TagKey(_bob, _alice, _bob);
        var beacon = Assert.Single(LanBeacon.Build([key], Port, Now));

        for (var length = 0; length < beacon.Length; length++)
        {
            AssertFound(LanBeacon.Recognise(beacon.AsSpan(0, length), [key], Now), [], 0);
        }

        AssertFound(LanBeacon.Recognise([.. beacon, 0], [key], Now), [], 0);
        AssertFound(LanBeacon.Recognise([.. beacon, .. new byte[16]], [key], Now), [], 0);
    }

    [Theory]
    [InlineData(1, new[] { 8 })]
    [InlineData(8, new[] { 8 })]
    [InlineData(9, new[] { 16 })]
    [InlineData(63, new[] { 64 })]
    [InlineData(64, new[] { 64 })]
    [InlineData(65, new[] { 64, 8 })]
    [InlineData(130, new[] { 64, 64, 8 })]
    [InlineData(200, new[] { 64, 64, 64, 8 })]
    public void Build_ManyContacts_BeaconsOfAtMost64TagsPaddedToMultiplesOf8(int contacts, int[] tagCounts)
    {
        var keys = Enumerable.Range(0, contacts).Select(_ => RandomNumberGenerator.GetBytes(32)).ToList();

        var beacons = LanBeacon.Build(keys, Port, Now);

        Assert.Equal(tagCounts, beacons.Select(b => (int)b[30]));
        Assert.All(beacons, b => Assert.Equal(LanBeacon.HeaderSize + (b[30] * LanBeacon.TagSize), b.Length));

        // Every contact is in exactly one beacon.
        var found = beacons.SelectMany(b => LanBeacon.Recognise(b, keys, Now).Senders).Order().ToList();
        Assert.Equal(Enumerable.Range(0, contacts), found);
    }

    [Fact]
    public void Build_NoContacts_NoBeacons()
    {
        Assert.Empty(LanBeacon.Build([], Port, Now));
    }

    [Fact]
    public void Build_SameContactsTwice_NoTagOrNonceRepeats()
    {
        var key = _alice.TagKey(_bob, _alice, _bob);

        var first = Assert.Single(LanBeacon.Build([key], Port, Now));
        var second = Assert.Single(LanBeacon.Build([key], Port, Now));

        // An observer cannot follow a node from beacon to beacon by its tags.
        Assert.NotEqual(first[4..20], second[4..20]);
        Assert.Empty(first[31..].Chunk(16).Select(Convert.ToHexString).Intersect(second[31..].Chunk(16).Select(Convert.ToHexString)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(65536)]
    public void Build_PortOutOfRange_ThrowsArgumentException(int port)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => LanBeacon.Build([RandomNumberGenerator.GetBytes(32)], port, Now));
    }

    [Fact]
    public void Recognise_PortZeroInAValidlyTaggedBeacon_FindsNothing()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var beacon = Assert.Single(LanBeacon.Build([key], Port, Now));
        beacon[28] = 0;
        beacon[29] = 0;
        HMACSHA256.HashData(key, beacon[..31]).AsSpan(0, 16).CopyTo(beacon.AsSpan(31));

        AssertFound(LanBeacon.Recognise(beacon, [key], Now), [], 0);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(65)]
    [InlineData(255)]
    public void Recognise_TagCountOutOfRange_FindsNothing(byte count)
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var beacon = new byte[LanBeacon.HeaderSize + (count * LanBeacon.TagSize)];
        "SCL1"u8.CopyTo(beacon);
        BinaryPrimitives.WriteInt64BigEndian(beacon.AsSpan(20), Now.ToUnixTimeSeconds());
        BinaryPrimitives.WriteUInt16BigEndian(beacon.AsSpan(28), Port);
        beacon[30] = count;
        for (var i = 0; i < count; i++)
        {
            HMACSHA256.HashData(key, beacon[..31]).AsSpan(0, 16).CopyTo(beacon.AsSpan(31 + (i * 16)));
        }

        AssertFound(LanBeacon.Recognise(beacon, [key], Now), [], 0);
    }

    [Theory]
    [InlineData(long.MinValue)]
    [InlineData(long.MaxValue)]
    [InlineData(0)]
    public void Recognise_SentAtFarFromAnyClock_FindsNothing(long sentAt)
    {
        var key = RandomNumberGenerator.GetBytes(32);
        AssertFound(LanBeacon.Recognise(Forge(key, Now.ToUnixTimeSeconds()), [key], Now), [0], Port);

        AssertFound(LanBeacon.Recognise(Forge(key, sentAt), [key], Now), [], 0);
    }

    [Fact]
    public void Recognise_SentAtWhereClockDifferenceOverflows_FindsNothing()
    {
        // A hostile sender picks "sent at" so that now - sent at is long.MinValue, whose absolute value does not exist.
        var key = RandomNumberGenerator.GetBytes(32);
        var sentAt = unchecked(Now.ToUnixTimeSeconds() - long.MinValue);
        AssertFound(LanBeacon.Recognise(Forge(key, Now.ToUnixTimeSeconds()), [key], Now), [0], Port);

        AssertFound(LanBeacon.Recognise(Forge(key, sentAt), [key], Now), [], 0);
    }

    [Fact]
    public void Recognise_RandomBytes_NeverThrows()
    {
        var keys = new List<byte[]> { RandomNumberGenerator.GetBytes(32) };

        Gen.Byte.Array[0, 1200].Sample(bytes => Assert.Empty(LanBeacon.Recognise(bytes, keys, Now).Senders), iter: 5000);
    }

    [Fact]
    public void Recognise_RandomHeaderAndTagsBehindTheMagic_NeverThrows()
    {
        // Past the magic, with a length that matches the count: every field is reached.
        var keys = new List<byte[]> { RandomNumberGenerator.GetBytes(32), RandomNumberGenerator.GetBytes(32) };
        Gen.Select(Gen.Byte.Array[27], Gen.Byte[0, 70], Gen.Int[-1, 1], Gen.Long, Gen.Bool).Sample((header, count, lengthError, sentAt, nearNow) =>
        {
            var beacon = new byte[Math.Max(LanBeacon.HeaderSize, LanBeacon.HeaderSize + (count * LanBeacon.TagSize) + lengthError)];
            "SCL1"u8.CopyTo(beacon);
            header.CopyTo(beacon, 4);
            beacon[30] = count;
            BinaryPrimitives.WriteInt64BigEndian(beacon.AsSpan(20), nearNow ? Now.ToUnixTimeSeconds() + (sentAt % 300) : sentAt);
            RandomNumberGenerator.Fill(beacon.AsSpan(LanBeacon.HeaderSize));

            var (senders, port) = LanBeacon.Recognise(beacon, keys, Now);

            Assert.Empty(senders);
            Assert.InRange(port, 0, 65535);
        }, iter: 5000);
    }

    /// <summary>A beacon for one tag key with a chosen "sent at", correctly tagged: only the time can make it fail.</summary>
    private static byte[] Forge(byte[] key, long sentAt)
    {
        var beacon = Assert.Single(LanBeacon.Build([key], Port, Now));
        BinaryPrimitives.WriteInt64BigEndian(beacon.AsSpan(20), sentAt);
        var tag = HMACSHA256.HashData(key, beacon[..LanBeacon.HeaderSize]).AsSpan(0, LanBeacon.TagSize);
        for (var slot = 0; slot < beacon[30]; slot++)
        {
            tag.CopyTo(beacon.AsSpan(LanBeacon.HeaderSize + (slot * LanBeacon.TagSize)));
        }

        return beacon;
    }

    private static void AssertFound((List<int> Senders, int Port) result, int[] senders, int port)
    {
        Assert.Equal(senders, result.Senders);
        Assert.Equal(port, result.Port);
    }
}
