using Google.Protobuf;
using SecureChat.Protocol.Messages;
using SecureChat.Protocol.Messages.Wire;

namespace SecureChat.Fuzz.Targets;

/// <summary>
/// The node protocol's protobuf messages (docs/protocol.md section 6): the same bytes as a
/// <see cref="NodeFrame"/> and as an <see cref="Envelope"/>, through <see cref="NodeWire"/>'s checks.
/// </summary>
internal sealed class EnvelopeTarget : IFuzzTarget
{
    public string Name => "envelope";

    public bool Run(byte[] input)
    {
        var accepted = false;
        if (NodeWire.TryParseFrame(input, out var frame))
        {
            FuzzInvariantException.Check(NodeWire.TryParseFrame(NodeWire.Encode(frame), out _), "An accepted frame does not survive its own encoding.");
            accepted = true;
        }

        if (NodeWire.TryParseEnvelope(input, out var envelope))
        {
            var kind = NodeWire.KindOf(envelope);
            FuzzInvariantException.Check(NodeWire.TryParseEnvelope(NodeWire.Encode(envelope), out var again) && NodeWire.KindOf(again) == kind, "An accepted envelope does not survive its own encoding.");
            FuzzInvariantException.Check(kind != EnvelopeKind.Text || NodeWire.IsValidText(envelope.Text.Content), "An accepted text is not valid text.");
            accepted = true;
        }

        return accepted;
    }

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        var id = Enumerable.Range(1, NodeWire.IdSize).Select(i => (byte)i).ToArray();
        var key = FuzzKeys.PublicAgreementKey(FuzzKeys.Key("envelope ratchet"));
        yield return ("hello", NodeWire.Encode(new NodeFrame { Hello = new Hello { ListenPort = 7000, SessionId = ByteString.CopyFrom(id), RatchetKey = ByteString.CopyFrom(key) } }));
        yield return ("hello-invite", NodeWire.Encode(new NodeFrame { Hello = new Hello { ListenPort = 7000, RatchetKey = ByteString.CopyFrom(key), InviteToken = ByteString.CopyFrom([.. Enumerable.Range(1, 16).Select(i => (byte)i)]) } }));
        yield return ("ratchet-frame", NodeWire.Encode(new NodeFrame { Ratchet = ByteString.CopyFrom(new byte[64]) }));
        Envelope Base() => new()
        {
            MessageId = ByteString.CopyFrom(id),
            Conversation = ByteString.CopyFrom(id.Reverse().ToArray()),
            SenderDevice = ByteString.CopyFrom(new byte[NodeWire.IdSize]),
            Lamport = 42,
            SentAt = FuzzKeys.Now.ToUnixTimeMilliseconds(),
        };
        var text = Base();
        text.Text = new Text { Content = "Hello, Zoë 🙂" };
        yield return ("text", NodeWire.Encode(text));
        yield return ("text-padded", NodeWire.EncodePadded(text));
        var start = Base();
        start.SessionStart = new SessionStart();
        yield return ("session-start", NodeWire.Encode(start));
        var delivered = Base();
        delivered.Delivered = new Receipt { MessageIds = { ByteString.CopyFrom(id), ByteString.CopyFrom(new byte[NodeWire.IdSize]) } };
        yield return ("delivered", NodeWire.Encode(delivered));
        var read = Base();
        read.Read = new Receipt { MessageIds = { ByteString.CopyFrom(id) } };
        yield return ("read", NodeWire.Encode(read));
        var typing = Base();
        typing.Typing = new Typing { Active = true };
        yield return ("typing", NodeWire.Encode(typing));
    }
}
