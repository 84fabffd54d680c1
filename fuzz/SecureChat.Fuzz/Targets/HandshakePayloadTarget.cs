using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Identity;

namespace SecureChat.Fuzz.Targets;

/// <summary>
/// What a handshake message carries once decrypted, fuzzed directly (the encryption keeps mutations
/// of whole handshakes from reaching it): <see cref="HandshakePayload"/>, the
/// <see cref="DeviceCertificate"/> inside it, and the clear <see cref="Preamble"/>.
/// </summary>
internal sealed class HandshakePayloadTarget : IFuzzTarget
{
    public string Name => "handshake-payload";

    public bool Run(byte[] input)
    {
        var accepted = false;
        if (HandshakePayload.TryDecode(input) is { } payload)
        {
            FuzzInvariantException.Check(HandshakePayload.IsValidDisplayName(payload.DisplayName), "An accepted payload has an invalid display name.");
            FuzzInvariantException.Check(payload.ProtocolVersion != 0, "An accepted payload has no version.");
            FuzzInvariantException.Check(HandshakePayload.TryDecode(payload.Encode()) == payload, "An accepted payload does not survive its own encoding.");
            accepted = true;
        }

        if (DeviceCertificate.TryDecode(input) is { } certificate)
        {
            FuzzInvariantException.Check(certificate.Encoded.SequenceEqual(input), "A certificate is not the bytes it was decoded from.");
            accepted = true;
        }

        if (Preamble.TryDecode(input, out var pattern) is null)
        {
            FuzzInvariantException.Check(Preamble.Encode(pattern).AsSpan().SequenceEqual(input), "An accepted preamble is not the one of its pattern.");
            accepted = true;
        }

        return accepted;
    }

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        yield return ("payload", new HandshakePayload(Preamble.ProtocolVersion, FuzzKeys.Peer.Certificate, "Peer").Encode());
        yield return ("payload-no-name", new HandshakePayload(Preamble.ProtocolVersion, FuzzKeys.Local.Certificate, string.Empty).Encode());
        yield return ("payload-unicode-name", new HandshakePayload(Preamble.ProtocolVersion, FuzzKeys.Local.Certificate, "Zoë 🙂").Encode());
        yield return ("certificate", FuzzKeys.Peer.Certificate.Encoded.ToArray());
        yield return ("preamble-xx", Preamble.Encode(ChannelPattern.XX));
        yield return ("preamble-ik", Preamble.Encode(ChannelPattern.IK));
    }
}
