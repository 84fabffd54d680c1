using System.Text.Json;
using SecureChat.Protocol.Noise;
using SecureChat.Testing;

namespace SecureChat.Protocol.Tests.Noise;

/// <summary>
/// The cacophony test vectors (public domain), which cover every pattern of the Noise spec
/// revision 34 with every cipher and hash: each 25519 vector is one theory row.
/// </summary>
public sealed class CacophonyVectorTests
{
    private const int Expected25519VectorCount = 472;

    private static readonly Lazy<IReadOnlyList<Vector>> AllVectors = new(Load);

    /// <summary>One row per 25519 vector: its index in the file (unique) and its protocol name (readable).</summary>
    public static TheoryData<int, string> Vectors25519
    {
        get
        {
            var data = new TheoryData<int, string>();
            for (var i = 0; i < AllVectors.Value.Count; i++)
            {
                if (Is25519(AllVectors.Value[i]))
                {
                    data.Add(i, AllVectors.Value[i].ProtocolName);
                }
            }

            return data;
        }
    }

    [Fact]
    public void VectorFile_25519Vectors_AreAllFound()
    {
        Assert.Equal(Expected25519VectorCount, AllVectors.Value.Count(Is25519));
    }

    [Theory]
    [MemberData(nameof(Vectors25519))]
    public void Handshake_CacophonyVector_MatchesEveryMessageAndHash(int index, string protocolName)
    {
        var vector = AllVectors.Value[index];
        Assert.Equal(protocolName, vector.ProtocolName);
        var protocol = NoiseProtocol.Parse(protocolName);

        using var initiator = new HandshakeState(
            protocol,
            initiator: true,
            Hex(vector.InitPrologue),
            Hex(vector.InitStatic),
            Hex(vector.InitRemoteStatic),
            vector.InitPsks?.Select(Hex).ToList(),
            Hex(vector.InitEphemeral),
            Hex(vector.InitRemoteEphemeral));
        using var responder = new HandshakeState(
            protocol,
            initiator: false,
            Hex(vector.RespPrologue),
            Hex(vector.RespStatic),
            Hex(vector.RespRemoteStatic),
            vector.RespPsks?.Select(Hex).ToList(),
            Hex(vector.RespEphemeral),
            Hex(vector.RespRemoteEphemeral));

        var messageIndex = 0;
        var buffer = new byte[HandshakeState.MaxMessageLength];
        var received = new byte[HandshakeState.MaxMessageLength];
        for (; !initiator.IsHandshakeComplete; messageIndex++)
        {
            var message = vector.Messages[messageIndex];
            var (writer, reader) = initiator.IsMyTurnToWrite ? (initiator, responder) : (responder, initiator);
            Assert.True(writer.IsMyTurnToWrite);
            Assert.False(reader.IsMyTurnToWrite);
            var payload = Hex(message.Payload);
            var expectedLength = writer.GetMaxMessageLength(payload.Length);

            var written = writer.WriteMessage(payload, buffer);

            Assert.Equal(expectedLength, written);
            Assert.Equal(message.Ciphertext, Convert.ToHexStringLower(buffer, 0, written));
            Assert.Equal(NoiseReadResult.Ok, reader.ReadMessage(buffer.AsSpan(0, written), received, out var receivedLength));
            Assert.Equal(message.Payload, Convert.ToHexStringLower(received, 0, receivedLength));
        }

        Assert.True(responder.IsHandshakeComplete);
        Assert.Equal(vector.HandshakeHash, Convert.ToHexStringLower(initiator.HandshakeHash));
        Assert.Equal(vector.HandshakeHash, Convert.ToHexStringLower(responder.HandshakeHash));

        using var initiatorTransport = initiator.Split();
        using var responderTransport = responder.Split();
        Assert.Equal(vector.HandshakeHash, Convert.ToHexStringLower(initiatorTransport.HandshakeHash));
        Assert.Equal(vector.HandshakeHash, Convert.ToHexStringLower(responderTransport.HandshakeHash));

        // Transport messages continue the alternation of the handshake (even indexes from the
        // initiator), except after a one-way pattern, where only the initiator sends (section 7.4).
        for (; messageIndex < vector.Messages.Count; messageIndex++)
        {
            var message = vector.Messages[messageIndex];
            var fromInitiator = protocol.Pattern.IsOneWay || messageIndex % 2 == 0;
            var (send, receive) = fromInitiator
                ? (initiatorTransport.Send, responderTransport.Receive)
                : (responderTransport.Send, initiatorTransport.Receive);
            var payload = Hex(message.Payload);

            var written = send.Encrypt([], payload, buffer);

            Assert.Equal(message.Ciphertext, Convert.ToHexStringLower(buffer, 0, written));
            Assert.True(receive.TryDecrypt([], buffer.AsSpan(0, written), received, out var receivedLength));
            Assert.Equal(message.Payload, Convert.ToHexStringLower(received, 0, receivedLength));
        }
    }

    private static bool Is25519(Vector vector) => vector.ProtocolName.Split('_') is [_, _, "25519", _, _];

    private static byte[] Hex(string? hex) => hex is null ? [] : Convert.FromHexString(hex);

    private static IReadOnlyList<Vector> Load()
    {
        var path = RepoPaths.SharedFile("vectors", "noise", "cacophony.txt");
        using var stream = File.OpenRead(path);
        var file = JsonSerializer.Deserialize<VectorFile>(stream, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower });
        return file?.Vectors ?? throw new InvalidDataException($"{path} has no \"vectors\" array.");
    }

    private sealed record VectorFile(IReadOnlyList<Vector> Vectors);

    private sealed record Vector(
        string ProtocolName,
        string InitPrologue,
        IReadOnlyList<string>? InitPsks,
        string? InitStatic,
        string? InitEphemeral,
        string? InitRemoteStatic,
        string? InitRemoteEphemeral,
        string RespPrologue,
        IReadOnlyList<string>? RespPsks,
        string? RespStatic,
        string? RespEphemeral,
        string? RespRemoteStatic,
        string? RespRemoteEphemeral,
        string HandshakeHash,
        IReadOnlyList<VectorMessage> Messages);

    private sealed record VectorMessage(string Payload, string Ciphertext);
}
