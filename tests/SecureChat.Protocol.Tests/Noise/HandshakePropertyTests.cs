using CsCheck;
using SecureChat.Protocol.Noise;
using SecureChat.Testing;

namespace SecureChat.Protocol.Tests.Noise;

/// <summary>
/// ReadMessage (Noise section 5.3) as a decoder of hostile bytes: any handshake message of XX, IK
/// or NN damaged (bit flip, truncation, extension, overwrite, insertion, removal) or replaced by
/// random bytes gives a result value, never an exception, and the handshake never completes.
/// </summary>
public sealed class HandshakePropertyTests
{
    private static readonly Gen<(int Kind, int Position, byte[] Bytes)> Mutations =
        Gen.Select(Gen.Int[0, ByteMutation.Kinds - 1], Gen.Int[0, int.MaxValue], Gen.Byte.Array[1, 8]);

    public static TheoryData<string> Protocols => [HandshakePair.Xx, HandshakePair.Ik, HandshakePair.Nn];

    [Theory]
    [MemberData(nameof(Protocols))]
    public void ReadMessage_AnyMessageDamaged_IsRejectedThenOrLater(string protocolName)
    {
        var messageCount = NoiseProtocol.Parse(protocolName).Pattern.Messages.Count;
        Gen.Select(Gen.Int[0, messageCount - 1], Mutations).Sample((target, mutation) =>
        {
            using var pair = HandshakePair.Create(protocolName);
            pair.Exchange(target);
            var message = pair.Write();
            var damaged = ByteMutation.Apply(message, mutation.Kind, mutation.Position, mutation.Bytes);
            var encrypted = pair.Reader.MessageIndex > 0 || protocolName == HandshakePair.Ik;

            var result = pair.Deliver(damaged);

            if (damaged.AsSpan().SequenceEqual(message))
            {
                Assert.Equal(NoiseReadResult.Ok, result);
                return;
            }

            // A message read under a key is authenticated; a bare ephemeral (the first message
            // of XX and NN) is not, but it is hashed in, so the next message fails.
            Assert.True(!encrypted || result != NoiseReadResult.Ok, $"damaged message {target} was accepted");
            if (result == NoiseReadResult.Ok)
            {
                Assert.NotEqual(NoiseReadResult.Ok, RestOfHandshake(pair));
            }

            Assert.False(pair.Initiator.IsHandshakeComplete && pair.Responder.IsHandshakeComplete);
        }, iter: 500);
    }

    [Theory]
    [MemberData(nameof(Protocols))]
    public void ReadMessage_RandomBytesForAnyMessage_NeverThrowsAndNeverCompletes(string protocolName)
    {
        var messageCount = NoiseProtocol.Parse(protocolName).Pattern.Messages.Count;
        Gen.Select(Gen.Int[0, messageCount - 1], Gen.Byte.Array[0, 200]).Sample((target, random) =>
        {
            using var pair = HandshakePair.Create(protocolName);
            pair.Exchange(target);
            pair.Write();
            var payload = new byte[Math.Max(random.Length, 1)];

            var result = pair.Reader.ReadMessage(random, payload, out var length);

            if (result != NoiseReadResult.Ok)
            {
                Assert.Equal(0, length);
                Assert.DoesNotContain(payload, b => b != 0);
                Assert.Throws<InvalidOperationException>(() => pair.Deliver(random));
            }
            else
            {
                Assert.NotEqual(NoiseReadResult.Ok, RestOfHandshake(pair));
            }

            Assert.False(pair.Initiator.IsHandshakeComplete && pair.Responder.IsHandshakeComplete);
        }, iter: 500);
    }

    /// <summary>Writes and delivers the remaining messages honestly; the first result other than Ok, or Ok.</summary>
    private static NoiseReadResult RestOfHandshake(HandshakePair pair)
    {
        while (!pair.Initiator.IsHandshakeComplete || !pair.Responder.IsHandshakeComplete)
        {
            if (pair.Deliver(pair.Write()) is var result && result != NoiseReadResult.Ok)
            {
                return result;
            }
        }

        return NoiseReadResult.Ok;
    }
}
