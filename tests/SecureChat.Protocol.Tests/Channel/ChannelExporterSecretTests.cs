using SecureChat.Protocol.Channel;

namespace SecureChat.Protocol.Tests.Channel;

/// <summary>
/// A channel session's exporter secret, which the node derives its ratchet bootstrap from: the same
/// on both sides, fresh for every handshake, and unrelated to what the channel shows.
/// </summary>
public sealed class ChannelExporterSecretTests : IDisposable
{
    private readonly ChannelParties _parties = new();

    public static TheoryData<ChannelPattern> Patterns => new() { ChannelPattern.XX, ChannelPattern.IK };

    public void Dispose() => _parties.Dispose();

    [Theory]
    [MemberData(nameof(Patterns))]
    public void ExporterSecret_BothSides_AreTheSame32Bytes(ChannelPattern pattern)
    {
        var (alice, bob) = _parties.Connect(pattern);
        using (alice)
        using (bob)
        {
            Assert.Equal(32, alice.ExporterSecret.Length);
            Assert.Equal(alice.ExporterSecret.ToArray(), bob.ExporterSecret.ToArray());
        }
    }

    [Theory]
    [MemberData(nameof(Patterns))]
    public void ExporterSecret_TwoHandshakesOfTheSameParties_Differ(ChannelPattern pattern)
    {
        Assert.NotEqual(Exporter(pattern), Exporter(pattern));
    }

    [Theory]
    [MemberData(nameof(Patterns))]
    public void ExporterSecret_IsNotTheHandshakeHash(ChannelPattern pattern)
    {
        var (alice, bob) = _parties.Connect(pattern);
        using (alice)
        using (bob)
        {
            var exporter = alice.ExporterSecret.ToArray();
            var hash = alice.HandshakeHash.ToArray();

            Assert.NotEqual(hash[..32], exporter);
            Assert.NotEqual(hash[^32..], exporter);
        }
    }

    [Fact]
    public void ExporterSecret_PlainNoiseInitiator_MatchesTheChannelResponder()
    {
        // The exporter comes from the Noise handshake alone: a foreign XX initiator derives it too.
        var (alice, bob) = _parties.ConnectForeignInitiator();
        using (alice)
        using (bob)
        {
            Assert.Equal(alice.ExporterSecret.Span.ToArray(), bob.ExporterSecret.ToArray());
        }
    }

    [Fact]
    public void Dispose_Session_WipesTheExporterSecret()
    {
        var (alice, bob) = _parties.Connect(ChannelPattern.XX);
        bob.Dispose();

        alice.Dispose();

        Assert.Throws<ObjectDisposedException>(() => alice.ExporterSecret.ToArray());
    }

    private byte[] Exporter(ChannelPattern pattern)
    {
        var (alice, bob) = _parties.Connect(pattern);
        using (alice)
        using (bob)
        {
            return alice.ExporterSecret.ToArray();
        }
    }
}
