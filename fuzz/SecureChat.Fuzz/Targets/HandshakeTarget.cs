using System.Buffers;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Identity;

namespace SecureChat.Fuzz.Targets;

/// <summary>
/// The channel handshake as one side reads it, then the transport frames after it. The first byte
/// picks the side and pattern (responder or initiator, XX or IK); the rest is the peer's messages,
/// each behind a 2-byte length (<see cref="Frames"/>). The harness plays <see cref="FuzzKeys.Local"/>
/// with a fixed ephemeral key, so that the seeds, real handshakes with <see cref="FuzzKeys.Peer"/>,
/// get past the encryption of messages 2 and 3 and reach the payload and the transport.
/// </summary>
internal sealed class HandshakeTarget : IFuzzTarget
{
    private enum Scenario
    {
        ResponderXX,
        ResponderIK,
        InitiatorXX,
        InitiatorIK,
    }

    public string Name => "handshake";

    public bool Run(byte[] input)
    {
        if (input.Length == 0)
        {
            return false;
        }

        var scenario = (Scenario)(input[0] % 4);
        var messages = new Queue<byte[]>(Frames.Split(input.AsSpan(1)));
        using var handshake = StartLocal(scenario);
        while (!handshake.IsComplete)
        {
            if (handshake.IsMyTurnToWrite)
            {
                handshake.WriteMessage();
                continue;
            }

            if (!messages.TryDequeue(out var message) || handshake.ReadMessage(message) is not null)
            {
                return false;
            }
        }

        // Only the peer's private keys could have produced a handshake that completes.
        FuzzInvariantException.Check(
            handshake.Peer!.Certificate.Equals(FuzzKeys.Peer.Certificate),
            "A handshake completed with a peer other than the one holding the keys.");
        using var session = handshake.Complete(FixedTime.Instance);
        while (messages.TryDequeue(out var frame))
        {
            var read = session.Read(frame);
            FuzzInvariantException.Check(
                (read.Kind == ChannelReadKind.Failed) == (read.Error is not null),
                "A failed read without its reason, or a reason without the failure.");
            if (read.Kind is ChannelReadKind.Failed or ChannelReadKind.Closed)
            {
                break;
            }
        }

        return true;
    }

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        foreach (var scenario in Enum.GetValues<Scenario>())
        {
            yield return (scenario.ToString(), Record(scenario));
        }
    }

    private static ChannelHandshake StartLocal(Scenario scenario) => scenario switch
    {
        Scenario.ResponderXX => ChannelHandshake.StartResponderWithEphemeral(FuzzKeys.Local, ChannelPattern.XX, FuzzKeys.LocalEphemeral),
        Scenario.ResponderIK => ChannelHandshake.StartResponderWithEphemeral(FuzzKeys.Local, ChannelPattern.IK, FuzzKeys.LocalEphemeral),
        Scenario.InitiatorXX => ChannelHandshake.StartInitiatorWithEphemeral(FuzzKeys.Local, default, FuzzKeys.LocalEphemeral),
        _ => ChannelHandshake.StartInitiatorWithEphemeral(FuzzKeys.Local, StaticKey(FuzzKeys.Peer), FuzzKeys.LocalEphemeral),
    };

    private static ChannelHandshake StartPeer(Scenario scenario) => scenario switch
    {
        Scenario.ResponderXX => ChannelHandshake.StartInitiatorWithEphemeral(FuzzKeys.Peer, default, FuzzKeys.PeerEphemeral),
        Scenario.ResponderIK => ChannelHandshake.StartInitiatorWithEphemeral(FuzzKeys.Peer, StaticKey(FuzzKeys.Local), FuzzKeys.PeerEphemeral),
        Scenario.InitiatorXX => ChannelHandshake.StartResponderWithEphemeral(FuzzKeys.Peer, ChannelPattern.XX, FuzzKeys.PeerEphemeral),
        _ => ChannelHandshake.StartResponderWithEphemeral(FuzzKeys.Peer, ChannelPattern.IK, FuzzKeys.PeerEphemeral),
    };

    private static byte[] StaticKey(LocalIdentity identity) => identity.Certificate.DeviceAgreementKey.ToArray();

    /// <summary>A real handshake between the two fixed identities, then three transport frames from the peer.</summary>
    private static byte[] Record(Scenario scenario)
    {
        using var local = StartLocal(scenario);
        using var peer = StartPeer(scenario);
        var sent = new List<byte[]>();
        while (!local.IsComplete || !peer.IsComplete)
        {
            if (peer.IsMyTurnToWrite)
            {
                var message = peer.WriteMessage();
                sent.Add(message);
                Expect(local.ReadMessage(message));
            }
            else
            {
                Expect(peer.ReadMessage(local.WriteMessage()));
            }
        }

        using var session = peer.Complete(FixedTime.Instance);
        var transport = new ArrayBufferWriter<byte>();
        session.WriteMessage(transport, "hello from the peer"u8);
        session.WriteMessage(transport, new byte[40]);
        session.WriteClose(transport, CloseReason.Normal, "bye");
        return [(byte)scenario, .. Frames.Join(sent), .. transport.WrittenSpan];
    }

    private static void Expect(ChannelError? error)
    {
        if (error is not null)
        {
            throw new InvalidOperationException($"The recorded handshake failed: {error}.");
        }
    }
}
