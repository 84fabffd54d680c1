using System.Net;
using CsCheck;
using SecureChat.Protocol.Discovery;
using SecureChat.Testing;

namespace SecureChat.Protocol.Tests.Discovery;

/// <summary>
/// Sealed rendezvous records (docs/discovery.md section 3) as a codec: any endpoint list sealed by
/// the publisher opens for the reader as the same list; random bytes of any length and damaged
/// records open as null and never throw.
/// </summary>
public sealed class RendezvousPropertyTests : IDisposable
{
    private const long Epoch = 20209;

    private static readonly Gen<EndpointList> Lists = Gen.Select(
        Gen.Long[0, 253402300799],
        Gen.Select(Gen.OneOf(Gen.Byte.Array[4], Gen.Byte.Array[16]), Gen.Int[1, 65535], (address, port) => new IPEndPoint(new IPAddress(address), port))
            .List[0, EndpointList.MaxEndpoints],
        (seconds, endpoints) => new EndpointList(DateTimeOffset.FromUnixTimeSeconds(seconds), endpoints));

    private readonly DiscoveryAccount _alice = new();
    private readonly DiscoveryAccount _bob = new();
    private readonly RendezvousKeys _publisher;
    private readonly RendezvousKeys _reader;

    public RendezvousPropertyTests()
    {
        _publisher = _alice.Rendezvous(_bob, Epoch, _alice, _bob);
        _reader = _bob.Rendezvous(_alice, Epoch, _alice, _bob);
    }

    public void Dispose()
    {
        _publisher.Dispose();
        _reader.Dispose();
        _alice.Dispose();
        _bob.Dispose();
    }

    [Fact]
    public void Open_AnySealedList_GivesTheSameList()
    {
        Lists.Sample(list =>
        {
            var sealedValue = _publisher.Seal(list);

            var opened = _reader.Open(sealedValue);

            Assert.Equal(RendezvousKeys.SealedSize, sealedValue.Length);
            Assert.NotNull(opened);
            Assert.Equal(list.Published, opened.Published);
            Assert.Equal(list.Endpoints, opened.Endpoints);
        }, iter: 500);
    }

    [Fact]
    public void Open_RandomBytesOfAnyLength_ReturnsNull()
    {
        Gen.OneOf(Gen.Byte.Array[0, 400], Gen.Byte.Array[RendezvousKeys.SealedSize])
            .Sample(bytes => Assert.Null(_reader.Open(bytes)), iter: 2000);
    }

    [Fact]
    public void Open_DamagedRecords_ReturnNull()
    {
        Gen.Select(Lists, Gen.Int[0, ByteMutation.Kinds - 1], Gen.Int[0, int.MaxValue], Gen.Byte.Array[1, 8]).Sample((list, kind, position, bytes) =>
        {
            var sealedValue = _publisher.Seal(list);
            var damaged = ByteMutation.Apply(sealedValue, kind, position, bytes);

            Assert.Equal(damaged.AsSpan().SequenceEqual(sealedValue), _reader.Open(damaged) is not null);
        }, iter: 1000);
    }
}
