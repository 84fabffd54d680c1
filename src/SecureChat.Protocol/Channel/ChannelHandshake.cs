using System.Diagnostics.CodeAnalysis;
using SecureChat.Protocol.Identity;
using SecureChat.Protocol.Noise;

namespace SecureChat.Protocol.Channel;

/// <summary>
/// Drives one side of the channel handshake without doing I/O: the caller moves frames between
/// this object and the wire. XX when the initiator does not know the responder's key, IK when it
/// does. Each side's <see cref="HandshakePayload"/> rides in the first message it encrypts under a
/// key that authenticates its static key:
/// <code>
/// XX:  -> e                 (payload empty)
///      &lt;- e, ee, s, es       responder payload
///      -> s, se             initiator payload
/// IK:  -> e, es, s, ss       initiator payload
///      &lt;- e, ee, se           responder payload
/// </code>
/// </summary>
public sealed class ChannelHandshake : IDisposable
{
    public const string XXProtocolName = "Noise_XX_25519_ChaChaPoly_BLAKE2b";
    public const string IKProtocolName = "Noise_IK_25519_ChaChaPoly_BLAKE2b";

    private static readonly NoiseProtocol XX = NoiseProtocol.Parse(XXProtocolName);
    private static readonly NoiseProtocol IK = NoiseProtocol.Parse(IKProtocolName);

    private readonly HandshakeState _state;
    private readonly byte[] _ownPayload;
    private readonly int _ownPayloadMessage;
    private readonly int _peerPayloadMessage;
    private bool _failed;

    private ChannelHandshake(LocalIdentity identity, ChannelPattern pattern, bool initiator, byte[] preamble, ReadOnlySpan<byte> remoteStaticKey, ReadOnlySpan<byte> ephemeralPrivateKey = default)
    {
        Pattern = pattern;
        IsInitiator = initiator;
        Preamble = preamble;
        _state = new HandshakeState(
            pattern == ChannelPattern.XX ? XX : IK,
            initiator,
            Channel.Preamble.Prologue(preamble),
            identity.DeviceAgreementPrivateKey,
            remoteStaticKey,
            localEphemeralPrivateKey: ephemeralPrivateKey);
        _ownPayload = new HandshakePayload(Channel.Preamble.ProtocolVersion, identity.Certificate, identity.DisplayName).Encode();
        var initiatorPayloadMessage = pattern == ChannelPattern.XX ? 2 : 0;
        _ownPayloadMessage = initiator ? initiatorPayloadMessage : 1;
        _peerPayloadMessage = initiator ? 1 : initiatorPayloadMessage;
    }

    public ChannelPattern Pattern { get; }

    public bool IsInitiator { get; }

    /// <summary>The preamble as sent on the wire (the initiator writes it before its first frame).</summary>
    public byte[] Preamble { get; }

    public bool IsMyTurnToWrite => !_failed && !_state.IsHandshakeComplete && _state.IsMyTurnToWrite;

    public bool IsComplete => !_failed && _state.IsHandshakeComplete;

    /// <summary>What the peer said about itself, once its payload has been read and verified.</summary>
    public HandshakePayload? Peer { get; private set; }

    /// <summary>Starts as initiator: IK when <paramref name="responderStaticKey"/> is known, else XX.</summary>
    public static ChannelHandshake StartInitiator(LocalIdentity identity, ReadOnlySpan<byte> responderStaticKey = default)
    {
        ArgumentNullException.ThrowIfNull(identity);
        var pattern = responderStaticKey.IsEmpty ? ChannelPattern.XX : ChannelPattern.IK;
        return new ChannelHandshake(identity, pattern, initiator: true, Channel.Preamble.Encode(pattern), responderStaticKey);
    }

    /// <summary>Starts as responder from the preamble the initiator sent; false with the reason for a bad one.</summary>
    public static bool TryStartResponder(LocalIdentity identity, ReadOnlySpan<byte> preamble, [NotNullWhen(true)] out ChannelHandshake? handshake, out ChannelError error)
    {
        ArgumentNullException.ThrowIfNull(identity);
        handshake = null;
        error = default;
        if (Channel.Preamble.TryDecode(preamble, out var pattern) is { } rejection)
        {
            error = rejection;
            return false;
        }

        handshake = new ChannelHandshake(identity, pattern, initiator: false, preamble.ToArray(), default);
        return true;
    }

    /// <summary>
    /// <see cref="StartInitiator"/> with a fixed ephemeral key, so that a recorded handshake replays
    /// byte for byte (the fuzzing corpus). Reusing an ephemeral key destroys the handshake's security.
    /// </summary>
    internal static ChannelHandshake StartInitiatorWithEphemeral(LocalIdentity identity, ReadOnlySpan<byte> responderStaticKey, ReadOnlySpan<byte> ephemeralPrivateKey)
    {
        var pattern = responderStaticKey.IsEmpty ? ChannelPattern.XX : ChannelPattern.IK;
        return new ChannelHandshake(identity, pattern, initiator: true, Channel.Preamble.Encode(pattern), responderStaticKey, ephemeralPrivateKey);
    }

    /// <summary><see cref="TryStartResponder"/> with a fixed ephemeral key, for the same replays only.</summary>
    internal static ChannelHandshake StartResponderWithEphemeral(LocalIdentity identity, ChannelPattern pattern, ReadOnlySpan<byte> ephemeralPrivateKey) =>
        new(identity, pattern, initiator: false, Channel.Preamble.Encode(pattern), default, ephemeralPrivateKey);

    /// <summary>Produces the next handshake message (a frame's content).</summary>
    public byte[] WriteMessage()
    {
        if (!IsMyTurnToWrite)
        {
            throw new InvalidOperationException("It is not this side's turn to write a handshake message.");
        }

        var payload = _state.MessageIndex == _ownPayloadMessage ? _ownPayload : [];
        var message = new byte[_state.GetMaxMessageLength(payload.Length)];
        var written = _state.WriteMessage(payload, message);
        return written == message.Length ? message : message[..written];
    }

    /// <summary>
    /// Reads the peer's next handshake message. Null on success; otherwise the reason, after which
    /// the handshake is dead.
    /// </summary>
    public ChannelError? ReadMessage(ReadOnlySpan<byte> message)
    {
        if (_failed || _state.IsHandshakeComplete || _state.IsMyTurnToWrite)
        {
            throw new InvalidOperationException("It is not this side's turn to read a handshake message.");
        }

        var index = _state.MessageIndex;
        var payload = new byte[message.Length];
        if (_state.ReadMessage(message, payload, out var length) != NoiseReadResult.Ok)
        {
            return Fail(ChannelError.HandshakeFailed);
        }

        if (index != _peerPayloadMessage)
        {
            return length == 0 ? null : Fail(ChannelError.HandshakeFailed);
        }

        var peer = HandshakePayload.TryDecode(payload.AsSpan(0, length));
        if (peer is not null && peer.ProtocolVersion != Channel.Preamble.ProtocolVersion)
        {
            return Fail(ChannelError.UnsupportedPeer);
        }

        if (peer is null || !peer.Certificate.DeviceAgreementKey.SequenceEqual(_state.RemoteStaticPublicKey))
        {
            return Fail(ChannelError.InvalidPeerCertificate);
        }

        Peer = peer;
        return null;
    }

    /// <summary>Ends the handshake and returns the transport session.</summary>
    public ChannelSession Complete(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        if (!IsComplete || Peer is null)
        {
            throw new InvalidOperationException("The handshake is not complete.");
        }

        return new ChannelSession(_state.Split(), Peer, Pattern, time);
    }

    public void Dispose() => _state.Dispose();

    private ChannelError Fail(ChannelError error)
    {
        _failed = true;
        return error;
    }
}
