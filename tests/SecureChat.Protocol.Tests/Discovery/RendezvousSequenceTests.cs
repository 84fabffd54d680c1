using System.Buffers.Binary;
using System.Security.Cryptography;
using SecureChat.Protocol.Discovery;

namespace SecureChat.Protocol.Tests.Discovery;

/// <summary>
/// The BEP 44 sequence number of a rendezvous record (docs/discovery.md section 3): the publish
/// time plus a 30-bit offset from the same expansion, so that records published together do not
/// share a seq, while each record's seq still only grows.
/// </summary>
public sealed class RendezvousSequenceTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 9, 0, 0, TimeSpan.Zero);
    private readonly DiscoveryAccount _alice = new();
    private readonly DiscoveryAccount _bob = new();
    private readonly DiscoveryAccount _carol = new();

    public void Dispose()
    {
        _alice.Dispose();
        _bob.Dispose();
        _carol.Dispose();
    }

    [Fact]
    public void SequenceOffset_IsBytes80To84OfTheExpansionMasked()
    {
        var epoch = RendezvousKeys.EpochOf(Now);
        using var pair = _alice.PairWith(_bob);
        using var keys = RendezvousKeys.Derive(pair.Span, epoch, _alice.Id, _bob.Id);
        var context = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(context, epoch);
        var okm = new byte[84];
        HKDF.Expand(HashAlgorithmName.SHA256, pair.Span, okm, [.. "SecureChat rendezvous v1"u8, .. context, .. _alice.Id.PublicKey, .. _bob.Id.PublicKey]);
        Assert.Equal(BinaryPrimitives.ReadUInt32BigEndian(okm.AsSpan(80)) & 0x3fffffffL, keys.SequenceOffset);
        Assert.Equal(Now.ToUnixTimeSeconds() + keys.SequenceOffset, keys.SequenceAt(Now));
    }

    [Fact]
    public void SequenceAt_BothSidesAgreeAndLaterIsHigher()
    {
        var epoch = RendezvousKeys.EpochOf(Now);
        using var publisher = _alice.Rendezvous(_bob, epoch, _alice, _bob);
        using var reader = _bob.Rendezvous(_alice, epoch, _alice, _bob);
        Assert.Equal(publisher.SequenceOffset, reader.SequenceOffset);
        Assert.True(publisher.SequenceAt(Now.AddSeconds(1)) > publisher.SequenceAt(Now));
    }

    [Fact]
    public void SequenceAt_SameSecondOtherRecords_Differ()
    {
        var epoch = RendezvousKeys.EpochOf(Now);
        using var forBob = _alice.Rendezvous(_bob, epoch, _alice, _bob);
        using var forBobTomorrow = _alice.Rendezvous(_bob, epoch + 1, _alice, _bob);
        using var forCarol = _alice.Rendezvous(_carol, epoch, _alice, _carol);
        using var fromBob = _alice.Rendezvous(_bob, epoch, _bob, _alice);
        long[] seqs = [forBob.SequenceAt(Now), forBobTomorrow.SequenceAt(Now), forCarol.SequenceAt(Now), fromBob.SequenceAt(Now)];
        Assert.Equal(seqs.Length, seqs.Distinct().Count());
    }
}
