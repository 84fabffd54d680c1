using System.Security.Cryptography;
using Google.Protobuf;
using SecureChat.Crypto;
using SecureChat.Net;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Identity;
using SecureChat.Protocol.Messages;
using SecureChat.Protocol.Messages.Wire;
using SecureChat.Protocol.Ratchet;

namespace SecureChat.Bench.Capacity;

/// <summary>
/// One peer of the swarm: a contact of the node, connected to it as a node would be (docs/protocol.md
/// section 6): the Noise handshake through <see cref="ChannelDialer"/>, the hellos, a new ratchet
/// session with this side as Alice, and envelopes the node acknowledges. It sends and answers
/// nothing else, so the connection stays idle between pings.
/// </summary>
internal sealed class SwarmPeer : IAsyncDisposable
{
    private readonly SecureConnection _connection;
    private readonly RatchetSession _ratchet;
    private readonly byte[] _conversation;
    private readonly byte[] _deviceId;
    private ulong _lamport;

    private SwarmPeer(SecureConnection connection, RatchetSession ratchet, byte[] conversation, byte[] deviceId)
    {
        _connection = connection;
        _ratchet = ratchet;
        _conversation = conversation;
        _deviceId = deviceId;
    }

    /// <summary>Connects, exchanges hellos, starts the session and waits for the node to acknowledge its start.</summary>
    public static async Task<SwarmPeer> ConnectAsync(PeerEndpoint node, AccountId nodeAccount, LocalIdentity identity, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        PeerVerifier onlyTheNode = payload => payload.Certificate.Account.Equals(nodeAccount)
            ? null
            : new PeerRejection(ChannelError.PeerKeyMismatch, "another node answers at the node's address", "you are not the node measured");
        var connection = await ChannelDialer.ConnectAsync(node, identity, ReadOnlyMemory<byte>.Empty, onlyTheNode, new ChannelOptions(), deadline.Token);
        RatchetSession? ratchet = null;
        try
        {
            ratchet = await StartSessionAsync(connection, identity, deadline.Token);
            var peer = new SwarmPeer(connection, ratchet, NodeWire.Conversation(identity.Account, nodeAccount), NodeWire.DeviceId(identity.Certificate));
            await peer.PingAsync(body => body.SessionStart = new SessionStart(), deadline.Token);
            return peer;
        }
        catch
        {
            ratchet?.Dispose();
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Sends an envelope with no body, which the node acknowledges and otherwise ignores (6.3),
    /// and waits for the acknowledgement: the node still holds this connection and serves it.
    /// </summary>
    public Task PingAsync(CancellationToken cancellationToken) => PingAsync(_ => { }, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _connection.DisposeAsync();
        _ratchet.Dispose();
    }

    /// <summary>
    /// The hellos and the new session of 6.2: SK = HKDF-SHA256(exporter secret, salt = h,
    /// "SecureChat ratchet bootstrap v1"), AD = label || session ID || dialer's account key ||
    /// responder's account key, this side (the dialer) as Alice with the node's hello key as Bob's.
    /// </summary>
    private static async Task<RatchetSession> StartSessionAsync(SecureConnection connection, LocalIdentity identity, CancellationToken cancellationToken)
    {
        var unusedPrivate = new byte[X25519.KeySize];
        var ratchetPublic = new byte[X25519.KeySize];
        X25519.GenerateKeyPair(unusedPrivate, ratchetPublic);
        CryptographicOperations.ZeroMemory(unusedPrivate);
        var hello = new Hello { ListenPort = 0, SessionId = ByteString.Empty, RatchetKey = ByteString.CopyFrom(ratchetPublic) };
        await connection.SendAsync(NodeWire.Encode(new NodeFrame { Hello = hello }), cancellationToken);
        var first = await connection.ReceiveAsync(cancellationToken)
            ?? throw new InvalidOperationException($"The node closed the connection before its hello ({connection.PeerClose?.Reason}: {connection.PeerClose?.Text}).");
        if (!NodeWire.TryParseFrame(first, out var frame) || frame.FrameCase != NodeFrame.FrameOneofCase.Hello || !X25519.IsValidPublicKey(frame.Hello.RatchetKey.Span))
        {
            throw new InvalidOperationException("The node's first frame was not a valid hello.");
        }

        var handshakeHash = connection.HandshakeHash.ToArray();
        var sessionId = handshakeHash[..16];
        byte[] associatedData = [.. "SecureChat ratchet v1"u8, .. sessionId, .. identity.Account.PublicKey, .. connection.PeerAccount.PublicKey];
        var sharedSecret = new byte[RatchetSession.KeySize];
        try
        {
            HKDF.DeriveKey(HashAlgorithmName.SHA256, connection.ExporterSecret, sharedSecret, handshakeHash, "SecureChat ratchet bootstrap v1"u8);
            return RatchetSession.InitializeAlice(sharedSecret, frame.Hello.RatchetKey.Span, associatedData);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(sharedSecret);
        }
    }

    private async Task PingAsync(Action<Envelope> setBody, CancellationToken cancellationToken)
    {
        var envelope = new Envelope
        {
            MessageId = ByteString.CopyFrom(NodeWire.NewMessageId()),
            Conversation = ByteString.CopyFrom(_conversation),
            SenderDevice = ByteString.CopyFrom(_deviceId),
            Lamport = ++_lamport,
            SentAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        };
        setBody(envelope);
        var ciphertext = _ratchet.Encrypt(NodeWire.Encode(envelope));
        await _connection.SendAsync(NodeWire.Encode(new NodeFrame { Ratchet = ByteString.CopyFrom(ciphertext) }), cancellationToken);

        var reply = await _connection.ReceiveAsync(cancellationToken)
            ?? throw new InvalidOperationException($"The node closed the connection ({_connection.PeerClose?.Reason}: {_connection.PeerClose?.Text}).");
        if (!NodeWire.TryParseFrame(reply, out var frame) || frame.FrameCase != NodeFrame.FrameOneofCase.Ratchet
            || _ratchet.TryDecrypt(frame.Ratchet.Span, DateTimeOffset.UtcNow, out var plaintext) != RatchetError.None)
        {
            throw new InvalidOperationException("The node's reply was not a ratchet message of this session.");
        }

        var parsed = NodeWire.TryParseEnvelope(plaintext, out var answer);
        CryptographicOperations.ZeroMemory(plaintext!);
        if (!parsed || NodeWire.KindOf(answer!) != EnvelopeKind.Delivered || !answer!.Delivered.MessageIds.Contains(envelope.MessageId))
        {
            throw new InvalidOperationException("The node's reply was not the acknowledgement of the ping.");
        }

        if (answer.Lamport > _lamport)
        {
            _lamport = answer.Lamport;
        }
    }
}
