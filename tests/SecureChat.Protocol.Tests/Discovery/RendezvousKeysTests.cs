using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using SecureChat.Crypto;
using SecureChat.Protocol.Discovery;

namespace SecureChat.Protocol.Tests.Discovery;

/// <summary>
/// Private rendezvous records (docs/discovery.md section 3), with alice as the publisher and bob as
/// the reader in one process: both derive the same keys, records of other days, directions and
/// pairs cannot be linked, a sealed record has one size and opens only for the two of them.
/// </summary>
public sealed class RendezvousKeysTests : IDisposable
{
    private const long Epoch = 20209; // 2025-05-01
    private static readonly DateTimeOffset Now = new(2025, 5, 1, 9, 0, 0, TimeSpan.Zero);

    private readonly DiscoveryAccount _alice = new();
    private readonly DiscoveryAccount _bob = new();
    private readonly DiscoveryAccount _carol = new();

    /// <summary>None, one and eight endpoints, IPv4, IPv6 and both.</summary>
    public static TheoryData<string[]> EndpointSets =>
    [
        [],
        ["192.168.1.20:7313"],
        ["[2001:db8::1]:443"],
        [.. Enumerable.Range(1, 8).Select(i => $"10.0.0.{i}:{7300 + i}")],
        [.. Enumerable.Range(1, 8).Select(i => $"[2001:db8:ffff:ffff:ffff:ffff:ffff:{i}]:{65527 + i}")],
        ["203.0.113.7:7313", "[2001:db8::7]:7313", "127.0.0.1:1"],
    ];

    public void Dispose()
    {
        _alice.Dispose();
        _bob.Dispose();
        _carol.Dispose();
    }

    [Fact]
    public void Derive_PublisherAndReader_DeriveTheSameKeys()
    {
        using var publisher = _alice.Rendezvous(_bob, Epoch, _alice, _bob);
        using var reader = _bob.Rendezvous(_alice, Epoch, _alice, _bob);

        Assert.Equal(Epoch, publisher.Epoch);
        Assert.Equal(publisher.PublicKey, reader.PublicKey);
        Assert.Equal(publisher.Salt, reader.Salt);
        Assert.Equal(publisher.SigningSeed.ToArray(), reader.SigningSeed.ToArray());
        Assert.Equal(Ed25519.PublicKeySize, publisher.PublicKey.Length);
        Assert.Equal(RendezvousKeys.SaltSize, publisher.Salt.Length);
    }

    [Fact]
    public void Derive_AnyPair_MatchesSpecification()
    {
        using var pair = _alice.PairWith(_bob);
        using var keys = RendezvousKeys.Derive(pair.Span, Epoch, _alice.Id, _bob.Id);
        var list = new EndpointList(Now, [new IPEndPoint(IPAddress.Parse("192.168.1.20"), 7313)]);

        // okm = HKDF-Expand(pair, "SecureChat rendezvous v1" || u64(e) || P_pk || R_pk, 80)
        var epoch = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(epoch, Epoch);
        byte[] label = [.. "SecureChat rendezvous v1"u8];
        var okm = HKDF.Expand(HashAlgorithmName.SHA256, pair.Span.ToArray(), 80, [.. label, .. epoch, .. _alice.Id.PublicKey, .. _bob.Id.PublicKey]);
        var publicKey = new byte[32];
        Ed25519.DerivePublicKey(okm.AsSpan(0, 32), publicKey);

        Assert.Equal(okm[..32], keys.SigningSeed.ToArray());
        Assert.Equal(publicKey, keys.PublicKey);
        Assert.Equal(okm[32..48], keys.Salt);

        // nonce || XChaCha20-Poly1305(key, ad = label || k || salt, list padded with zeros to 162 bytes)
        var sealedValue = keys.Seal(list);
        using var plain = SecretBox.TryOpen(okm.AsSpan(48, 32), [.. label, .. publicKey, .. okm[32..48]], sealedValue);
        Assert.NotNull(plain);
        Assert.Equal([.. list.Encode(), .. new byte[162 - list.Encode().Length]], plain.Span.ToArray());
    }

    [Fact]
    public void SigningSeed_SignsForThePublicKey()
    {
        using var keys = _alice.Rendezvous(_bob, Epoch, _alice, _bob);
        var message = "4:salt16:................3:seqi1e1:v3:abc"u8.ToArray();
        var signature = new byte[Ed25519.SignatureSize];

        Ed25519.Sign(keys.SigningSeed, message, signature);

        Assert.True(Ed25519.Verify(keys.PublicKey, message, signature));
    }

    [Fact]
    public void Derive_OtherEpochDirectionOrPair_UnlinkableKeysAndSalts()
    {
        RendezvousKeys[] all =
        [
            _alice.Rendezvous(_bob, Epoch, _alice, _bob),
            _alice.Rendezvous(_bob, Epoch + 1, _alice, _bob),
            _alice.Rendezvous(_bob, Epoch - 1, _alice, _bob),
            _alice.Rendezvous(_bob, Epoch, _bob, _alice),
            _alice.Rendezvous(_carol, Epoch, _alice, _carol),
            _alice.Rendezvous(_carol, Epoch, _carol, _alice),
            _bob.Rendezvous(_carol, Epoch, _bob, _carol),
        ];
        try
        {
            Assert.Equal(all.Length, all.Select(k => Convert.ToHexString(k.PublicKey)).Distinct().Count());
            Assert.Equal(all.Length, all.Select(k => Convert.ToHexString(k.Salt)).Distinct().Count());
            Assert.Equal(all.Length, all.Select(k => Convert.ToHexString(k.SigningSeed)).Distinct().Count());

            // Nothing in a record names the accounts.
            Assert.All(all, k => Assert.NotEqual(_alice.Id.PublicKey.ToArray(), k.PublicKey));
            Assert.All(all, k => Assert.NotEqual(_bob.Id.PublicKey.ToArray(), k.PublicKey));
        }
        finally
        {
            foreach (var keys in all)
            {
                keys.Dispose();
            }
        }
    }

    [Theory]
    [MemberData(nameof(EndpointSets))]
    public void Open_SealedByPublisher_ReaderGetsTheList(string[] endpoints)
    {
        using var publisher = _alice.Rendezvous(_bob, Epoch, _alice, _bob);
        using var reader = _bob.Rendezvous(_alice, Epoch, _alice, _bob);
        var list = new EndpointList(Now, [.. endpoints.Select(IPEndPoint.Parse)]);

        var opened = reader.Open(publisher.Seal(list));

        Assert.NotNull(opened);
        Assert.Equal(Now, opened.Published);
        Assert.Equal(list.Endpoints, opened.Endpoints);
    }

    [Theory]
    [MemberData(nameof(EndpointSets))]
    public void Seal_AnyEndpoints_SameSize(string[] endpoints)
    {
        using var keys = _alice.Rendezvous(_bob, Epoch, _alice, _bob);

        var sealedValue = keys.Seal(new EndpointList(Now, [.. endpoints.Select(IPEndPoint.Parse)]));

        Assert.Equal(202, sealedValue.Length);
        Assert.Equal(RendezvousKeys.SealedSize, sealedValue.Length);
    }

    [Fact]
    public void Seal_SameListTwice_DifferentBytes()
    {
        using var keys = _alice.Rendezvous(_bob, Epoch, _alice, _bob);
        var list = new EndpointList(Now, [new IPEndPoint(IPAddress.Loopback, 7313)]);

        Assert.NotEqual(keys.Seal(list), keys.Seal(list));
    }

    [Fact]
    public void Open_EverySingleBitFlipped_ReturnsNull()
    {
        using var publisher = _alice.Rendezvous(_bob, Epoch, _alice, _bob);
        using var reader = _bob.Rendezvous(_alice, Epoch, _alice, _bob);
        var sealedValue = publisher.Seal(new EndpointList(Now, [new IPEndPoint(IPAddress.Parse("192.168.1.20"), 7313)]));
        Assert.NotNull(reader.Open(sealedValue));

        for (var bit = 0; bit < sealedValue.Length * 8; bit++)
        {
            var damaged = sealedValue.ToArray();
            damaged[bit / 8] ^= (byte)(1 << (bit % 8));

            Assert.Null(reader.Open(damaged));
        }
    }

    [Fact]
    public void Open_TruncatedOrExtended_ReturnsNull()
    {
        using var publisher = _alice.Rendezvous(_bob, Epoch, _alice, _bob);
        using var reader = _bob.Rendezvous(_alice, Epoch, _alice, _bob);
        var sealedValue = publisher.Seal(new EndpointList(Now, [new IPEndPoint(IPAddress.Loopback, 7313)]));

        for (var length = 0; length < sealedValue.Length; length++)
        {
            Assert.Null(reader.Open(sealedValue.AsSpan(0, length)));
            Assert.Null(reader.Open(sealedValue.AsSpan(sealedValue.Length - length)));
        }

        Assert.Null(reader.Open([.. sealedValue, 0]));
    }

    [Theory]
    [InlineData(1, false)] // tomorrow's record
    [InlineData(-1, false)] // yesterday's
    [InlineData(0, true)] // today's, but bob's record for alice
    public void Open_RecordOfAnotherEpochOrDirection_ReturnsNull(long epochOffset, bool reversed)
    {
        using var publisher = _alice.Rendezvous(_bob, Epoch, _alice, _bob);
        using var reader = reversed ? _bob.Rendezvous(_alice, Epoch, _bob, _alice) : _bob.Rendezvous(_alice, Epoch + epochOffset, _alice, _bob);

        Assert.Null(reader.Open(publisher.Seal(new EndpointList(Now, [new IPEndPoint(IPAddress.Loopback, 7313)]))));
    }

    [Fact]
    public void Open_KeysOfAnOutsider_ReturnsNull()
    {
        using var publisher = _alice.Rendezvous(_bob, Epoch, _alice, _bob);
        var sealedValue = publisher.Seal(new EndpointList(Now, [new IPEndPoint(IPAddress.Loopback, 7313)]));

        // Carol knows both IDs and the day, and tries every pair secret she can compute.
        RendezvousKeys[] guesses =
        [
            _carol.Rendezvous(_alice, Epoch, _alice, _bob),
            _carol.Rendezvous(_bob, Epoch, _alice, _bob),
            _carol.Rendezvous(_alice, Epoch, _alice, _carol),
            _carol.Rendezvous(_bob, Epoch, _bob, _carol),
        ];
        try
        {
            Assert.All(guesses, guess => Assert.Null(guess.Open(sealedValue)));
            Assert.All(guesses, guess => Assert.NotEqual(publisher.PublicKey, guess.PublicKey));
            Assert.All(guesses, guess => Assert.NotEqual(publisher.Salt, guess.Salt));
        }
        finally
        {
            foreach (var keys in guesses)
            {
                keys.Dispose();
            }
        }
    }

    [Fact]
    public void Open_RandomBytesOfTheRightSize_ReturnsNull()
    {
        using var reader = _bob.Rendezvous(_alice, Epoch, _alice, _bob);

        for (var i = 0; i < 100; i++)
        {
            Assert.Null(reader.Open(RandomNumberGenerator.GetBytes(RendezvousKeys.SealedSize)));
        }
    }

    [Theory]
    [InlineData("1970-01-01T00:00:00Z", 0)]
    [InlineData("1970-01-01T23:59:59Z", 0)]
    [InlineData("1970-01-02T00:00:00Z", 1)]
    [InlineData("2025-04-30T23:59:59Z", 20208)]
    [InlineData("2025-05-01T00:00:00Z", 20209)]
    [InlineData("2025-05-01T23:59:59+00:00", 20209)]
    [InlineData("2025-05-01T20:00:00-04:00", 20210)] // the epoch counts UTC days
    public void EpochOf_Time_IsUtcDaysSinceUnixEpoch(string time, long epoch)
    {
        Assert.Equal(epoch, RendezvousKeys.EpochOf(DateTimeOffset.Parse(time, System.Globalization.CultureInfo.InvariantCulture)));
    }
}
