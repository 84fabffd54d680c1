using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Identity;

namespace SecureChat.Bench.Micro;

/// <summary>Runs both sides of a channel handshake in memory, as two connected nodes would.</summary>
internal static class Handshakes
{
    /// <summary>
    /// One complete IK handshake, Alice initiating to Bob's known static key: preamble, both
    /// messages, each side's certificate check, and both transport sessions.
    /// </summary>
    public static (ChannelSession Initiator, ChannelSession Responder) Channel(LocalIdentity initiatorIdentity, LocalIdentity responderIdentity)
    {
        using var initiator = ChannelHandshake.StartInitiator(initiatorIdentity, responderIdentity.Certificate.DeviceAgreementKey);
        if (!ChannelHandshake.TryStartResponder(responderIdentity, initiator.Preamble, out var responder, out var error))
        {
            throw new InvalidOperationException($"The responder refused the preamble: {error}.");
        }

        using (responder)
        {
            Check(responder.ReadMessage(initiator.WriteMessage()));
            Check(initiator.ReadMessage(responder.WriteMessage()));
            var initiatorSession = initiator.Complete(TimeProvider.System);
            return (initiatorSession, responder.Complete(TimeProvider.System));
        }
    }

    private static void Check(ChannelError? error)
    {
        if (error is { } failure)
        {
            throw new InvalidOperationException($"The benchmark's handshake failed: {failure}.");
        }
    }
}
