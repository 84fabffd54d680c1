using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Noise;
using SecureChat.Protocol.Identity;

namespace SecureChat.Protocol.Tests.Channel;

/// <summary>Two identities and a handshake between them, run in one process without sockets.</summary>
internal sealed class ChannelParties : IDisposable
{
    public LocalIdentity Alice { get; } = LocalIdentity.Create("alice", DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));

    public LocalIdentity Bob { get; } = LocalIdentity.Create("bob", DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));

    public static ChannelHandshake StartInitiator(LocalIdentity initiator, LocalIdentity responder, ChannelPattern pattern) =>
        ChannelHandshake.StartInitiator(initiator, pattern == ChannelPattern.IK ? responder.Certificate.DeviceAgreementKey : default);

    public static ChannelHandshake StartResponder(LocalIdentity responder, byte[] preamble)
    {
        Assert.True(ChannelHandshake.TryStartResponder(responder, preamble, out var handshake, out var error), $"preamble rejected: {error}");
        return handshake;
    }

    /// <summary>Runs a whole handshake, optionally passing every message through <paramref name="tamper"/>.</summary>
    /// <returns>The first rejection and the index of the message that caused it, or null when both completed.</returns>
    public static (ChannelError Error, int Message)? Run(ChannelHandshake initiator, ChannelHandshake responder, Func<int, byte[], byte[]>? tamper = null)
    {
        var index = 0;
        while (!initiator.IsComplete || !responder.IsComplete)
        {
            var (writer, reader) = initiator.IsMyTurnToWrite ? (initiator, responder) : (responder, initiator);
            if (!writer.IsMyTurnToWrite)
            {
                throw new InvalidOperationException("Neither side can write: the handshake is stuck.");
            }

            var message = writer.WriteMessage();
            if (tamper is not null)
            {
                message = tamper(index, message);
            }

            if (reader.ReadMessage(message) is { } error)
            {
                return (error, index);
            }

            index++;
        }

        return null;
    }

    /// <summary>A complete handshake; returns both transport sessions.</summary>
    public (ChannelSession Alice, ChannelSession Bob) Connect(ChannelPattern pattern, TimeProvider? time = null)
    {
        using var initiator = StartInitiator(Alice, Bob, pattern);
        using var responder = StartResponder(Bob, initiator.Preamble);
        Assert.Null(Run(initiator, responder));
        time ??= TimeProvider.System;
        return (initiator.Complete(time), responder.Complete(time));
    }

    /// <summary>
    /// Alice as a foreign implementation would be: plain Noise XX, written from the documented
    /// preamble, prologue and payload, against Bob's channel responder.
    /// </summary>
    public (NoiseTransport Alice, ChannelSession Bob) ConnectForeignInitiator()
    {
        var preamble = "SCHAT\x01\x01\x00"u8.ToArray();
        using var alice = new HandshakeState(
            NoiseProtocol.Parse("Noise_XX_25519_ChaChaPoly_BLAKE2b"),
            initiator: true,
            [.. "SecureChat channel v1"u8, .. preamble],
            Alice.DeviceAgreementPrivateKey);
        using var bob = StartResponder(Bob, preamble);
        var buffer = new byte[65535];

        var length = alice.WriteMessage([], buffer);
        Assert.Null(bob.ReadMessage(buffer.AsSpan(0, length)));
        var second = bob.WriteMessage();
        Assert.Equal(NoiseReadResult.Ok, alice.ReadMessage(second, buffer, out _));
        var payload = new HandshakePayload(1, Alice.Certificate, "alice").Encode();
        length = alice.WriteMessage(payload, buffer);
        Assert.Null(bob.ReadMessage(buffer.AsSpan(0, length)));

        return (alice.Split(), bob.Complete(TimeProvider.System));
    }

    public void Dispose()
    {
        Alice.Dispose();
        Bob.Dispose();
    }
}
