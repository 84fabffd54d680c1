using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Noise;

namespace SecureChat.Protocol.Tests.Channel;

public sealed class ChannelHandshakeTests : IDisposable
{
    private readonly ChannelParties _parties = new();

    public void Dispose() => _parties.Dispose();

    [Theory]
    [InlineData(ChannelPattern.XX)]
    [InlineData(ChannelPattern.IK)]
    public void Run_HonestParties_BothLearnTheOthersCertificateAndAgreeOnTheHash(ChannelPattern pattern)
    {
        using var initiator = ChannelParties.StartInitiator(_parties.Alice, _parties.Bob, pattern);
        using var responder = ChannelParties.StartResponder(_parties.Bob, initiator.Preamble);

        Assert.Null(ChannelParties.Run(initiator, responder));

        Assert.Equal(pattern, responder.Pattern);
        Assert.Equal(_parties.Bob.Certificate, initiator.Peer!.Certificate);
        Assert.Equal(_parties.Alice.Certificate, responder.Peer!.Certificate);
        Assert.Equal("bob", initiator.Peer.DisplayName);
        Assert.Equal("alice", responder.Peer.DisplayName);
        using var a = initiator.Complete(TimeProvider.System);
        using var b = responder.Complete(TimeProvider.System);
        Assert.Equal(a.HandshakeHash.ToArray(), b.HandshakeHash.ToArray());
    }

    [Fact]
    public void StartInitiator_KnownKey_UsesIkAndUnknownKeyUsesXx()
    {
        using var ik = ChannelHandshake.StartInitiator(_parties.Alice, _parties.Bob.Certificate.DeviceAgreementKey);
        using var xx = ChannelHandshake.StartInitiator(_parties.Alice);

        Assert.Equal(ChannelPattern.IK, ik.Pattern);
        Assert.Equal("SCHAT\x01\x02\x00"u8.ToArray(), ik.Preamble);
        Assert.Equal(ChannelPattern.XX, xx.Pattern);
        Assert.Equal("SCHAT\x01\x01\x00"u8.ToArray(), xx.Preamble);
    }

    [Fact]
    public void Run_IkWithAStaleResponderKey_RejectedAtTheFirstMessage()
    {
        using var carol = Identity.LocalIdentity.Create("carol", DateTimeOffset.UnixEpoch);
        using var initiator = ChannelHandshake.StartInitiator(_parties.Alice, carol.Certificate.DeviceAgreementKey);
        using var responder = ChannelParties.StartResponder(_parties.Bob, initiator.Preamble);

        Assert.Equal((ChannelError.HandshakeFailed, 0), ChannelParties.Run(initiator, responder));
        Assert.Null(responder.Peer);
    }

    // Every message, every bit: a flipped bit must never yield a completed handshake. In XX the
    // first message is an unauthenticated ephemeral key with an empty payload, so a flip there
    // is only caught by the next message, whose ee/es keys then differ on the two sides.
    [Theory]
    [InlineData(ChannelPattern.XX)]
    [InlineData(ChannelPattern.IK)]
    public void Run_AnySingleBitFlippedInAnyMessage_IsRejected(ChannelPattern pattern)
    {
        var sizes = MessageSizes(pattern);
        var trials = 0;
        for (var target = 0; target < sizes.Count; target++)
        {
            for (var bit = 0; bit < sizes[target] * 8; bit++)
            {
                using var initiator = ChannelParties.StartInitiator(_parties.Alice, _parties.Bob, pattern);
                using var responder = ChannelParties.StartResponder(_parties.Bob, initiator.Preamble);
                var t = target;
                var b = bit;
                var outcome = ChannelParties.Run(initiator, responder, (index, message) =>
                {
                    if (index == t)
                    {
                        message[b / 8] ^= (byte)(1 << (b % 8));
                    }

                    return message;
                });

                Assert.NotNull(outcome);
                var expectedAt = pattern == ChannelPattern.XX && target == 0 ? 1 : target;
                Assert.Equal(expectedAt, outcome.Value.Message);
                trials++;
            }
        }

        Assert.Equal(sizes.Sum() * 8, trials);
    }

    [Fact]
    public void TryStartResponder_AnySingleBitFlippedInThePreamble_RejectedOrFailsTheHandshake()
    {
        using var honest = ChannelParties.StartInitiator(_parties.Alice, _parties.Bob, ChannelPattern.XX);
        for (var bit = 0; bit < Preamble.Size * 8; bit++)
        {
            using var initiator = ChannelParties.StartInitiator(_parties.Alice, _parties.Bob, ChannelPattern.XX);
            var preamble = (byte[])initiator.Preamble.Clone();
            preamble[bit / 8] ^= (byte)(1 << (bit % 8));
            if (!ChannelHandshake.TryStartResponder(_parties.Bob, preamble, out var responder, out var error))
            {
                Assert.Equal(ChannelError.UnsupportedPeer, error);
                continue;
            }

            // The one flip that still names a valid pattern (XX -> IK) must fail through the prologue.
            using (responder)
            {
                Assert.NotNull(ChannelParties.Run(initiator, responder));
            }
        }
    }

    [Fact]
    public void ReadMessage_TruncatedMessages_AreRejectedNeverThrown()
    {
        using var probe = ChannelParties.StartInitiator(_parties.Alice, _parties.Bob, ChannelPattern.XX);
        using var probeResponder = ChannelParties.StartResponder(_parties.Bob, probe.Preamble);
        probeResponder.ReadMessage(probe.WriteMessage());
        var second = probeResponder.WriteMessage();

        for (var length = 0; length < second.Length; length++)
        {
            using var initiator = ChannelParties.StartInitiator(_parties.Alice, _parties.Bob, ChannelPattern.XX);
            using var responder = ChannelParties.StartResponder(_parties.Bob, initiator.Preamble);
            Assert.Null(responder.ReadMessage(initiator.WriteMessage()));
            var message = responder.WriteMessage();

            Assert.NotNull(initiator.ReadMessage(message.AsSpan(0, length)));
            Assert.False(initiator.IsComplete);
        }
    }

    [Fact]
    public void ReadMessage_ResponderSendsACertificateForAnotherKey_RejectedAsInvalidCertificate()
    {
        // Mallory runs the Noise handshake with her own static key but presents Bob's (valid,
        // signed) certificate: it vouches for another X25519 key, so it must not be believed.
        using var mallory = Identity.LocalIdentity.Create("mallory", DateTimeOffset.UnixEpoch);
        using var initiator = ChannelHandshake.StartInitiator(_parties.Alice);
        using var forged = new HandshakeState(
            NoiseProtocol.Parse(ChannelHandshake.XXProtocolName), initiator: false, Preamble.Prologue(initiator.Preamble), mallory.DeviceAgreementPrivateKey);
        var first = initiator.WriteMessage();
        Assert.Equal(NoiseReadResult.Ok, forged.ReadMessage(first, new byte[first.Length], out _));
        var payload = new HandshakePayload(Preamble.ProtocolVersion, _parties.Bob.Certificate, "bob").Encode();
        var second = new byte[forged.GetMaxMessageLength(payload.Length)];
        var length = forged.WriteMessage(payload, second);

        Assert.Equal(ChannelError.InvalidPeerCertificate, initiator.ReadMessage(second.AsSpan(0, length)));
        Assert.Null(initiator.Peer);
        Assert.False(initiator.IsMyTurnToWrite);
    }

    [Fact]
    public void ReadMessage_PeerSpeaksAnotherProtocolVersionInItsPayload_IsUnsupported()
    {
        using var initiator = ChannelHandshake.StartInitiator(_parties.Alice);
        using var forged = new HandshakeState(
            NoiseProtocol.Parse(ChannelHandshake.XXProtocolName), initiator: false, Preamble.Prologue(initiator.Preamble), _parties.Bob.DeviceAgreementPrivateKey);
        var first = initiator.WriteMessage();
        Assert.Equal(NoiseReadResult.Ok, forged.ReadMessage(first, new byte[first.Length], out _));
        var payload = new HandshakePayload(2, _parties.Bob.Certificate, "bob").Encode();
        var second = new byte[forged.GetMaxMessageLength(payload.Length)];
        var length = forged.WriteMessage(payload, second);

        Assert.Equal(ChannelError.UnsupportedPeer, initiator.ReadMessage(second.AsSpan(0, length)));
    }

    private List<int> MessageSizes(ChannelPattern pattern)
    {
        using var initiator = ChannelParties.StartInitiator(_parties.Alice, _parties.Bob, pattern);
        using var responder = ChannelParties.StartResponder(_parties.Bob, initiator.Preamble);
        var sizes = new List<int>();
        Assert.Null(ChannelParties.Run(initiator, responder, (_, message) =>
        {
            sizes.Add(message.Length);
            return message;
        }));
        Assert.Equal(pattern == ChannelPattern.XX ? 3 : 2, sizes.Count);
        return sizes;
    }
}
