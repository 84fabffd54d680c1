using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using SecureChat.Protocol.Identity;
using SecureChat.Protocol.Messages;
using SecureChat.Protocol.Messages.Wire;

namespace SecureChat.Bench.Micro;

/// <summary>A chat message's envelope built, encoded and parsed back with its checks, as a node sends and receives it.</summary>
public class CodecBenchmarks
{
    public const int TextBytes = 200;

    private byte[] _conversation = [];
    private byte[] _senderDevice = [];
    private string _text = "";

    [GlobalSetup]
    public void Setup()
    {
        using var alice = LocalIdentity.Create("alice", DateTimeOffset.UnixEpoch);
        using var bob = LocalIdentity.Create("bob", DateTimeOffset.UnixEpoch);
        _conversation = NodeWire.Conversation(alice.Account, bob.Account);
        _senderDevice = NodeWire.DeviceId(alice.Certificate);
        const string Sentence = "See you at the station at half past six, I'll bring the tickets and the map. ";
        _text = string.Concat(Enumerable.Repeat(Sentence, (TextBytes / Sentence.Length) + 1))[..TextBytes];
    }

    [Benchmark]
    public int EnvelopeRoundTrip()
    {
        var envelope = new Envelope
        {
            MessageId = ByteString.CopyFrom(NodeWire.NewMessageId()),
            Conversation = ByteString.CopyFrom(_conversation),
            SenderDevice = ByteString.CopyFrom(_senderDevice),
            Lamport = 1_234,
            SentAt = 1_767_225_600_000,
            Text = new Text { Content = _text },
        };
        var encoded = NodeWire.Encode(envelope);
        return NodeWire.TryParseEnvelope(encoded, out var parsed) && NodeWire.KindOf(parsed) == EnvelopeKind.Text
            ? parsed.Text.Content.Length
            : throw new InvalidOperationException("The benchmark's envelope did not parse.");
    }
}
