using System.Security.Cryptography;
using Google.Protobuf;
using SecureChat.Crypto;
using SecureChat.Net;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Identity;
using SecureChat.Protocol.Messages;
using SecureChat.Protocol.Messages.Wire;
using SecureChat.Protocol.Ratchet;

namespace SecureChat.Tests.Node;

/// <summary>
/// A peer that speaks the node protocol (docs/protocol.md section 6) through the project's own
/// libraries — <see cref="ChannelDialer"/>, <see cref="NodeWire"/>, <see cref="RatchetSession"/> —
/// but writes whatever a test tells it to: a hello claiming any listen port, envelopes with any
/// Lamport value, send time or ID. It is how an attacker with a valid key of its own talks to a
/// real <c>securechat run</c> process. It only dials (the node is the responder), and always asks
/// for a new ratchet session, so each connection starts from the handshake alone.
/// </summary>
internal sealed class HostilePeer : IDisposable
{
    private static readonly ChannelOptions Options = new()
    {
        ConnectTimeout = TimeSpan.FromSeconds(10),
        HandshakeTimeout = TimeSpan.FromSeconds(10),
        CloseTimeout = TimeSpan.FromSeconds(2),
    };

    private HostilePeer(LocalIdentity identity) => Identity = identity;

    public LocalIdentity Identity { get; }

    /// <summary>The peer's account ID, as a node shows it.</summary>
    public string Id => Identity.Account.Text;

    /// <summary>A new account with one device, named <paramref name="displayName"/> in its certificate payload.</summary>
    public static HostilePeer Create(string displayName) => new(LocalIdentity.Create(displayName, DateTimeOffset.UtcNow));

    /// <summary>
    /// Dials 127.0.0.1:<paramref name="port"/> (whoever answers is accepted), sends a hello that
    /// claims <paramref name="claimedListenPort"/> and asks for a new session, and reads the node's
    /// hello. The returned link can send envelopes at once.
    /// </summary>
    public async Task<HostileLink> DialAsync(int port, uint claimedListenPort = 0, CancellationToken cancellationToken = default)
    {
        var connection = await ChannelDialer.ConnectAsync(
            new PeerEndpoint("127.0.0.1", port), Identity, ReadOnlyMemory<byte>.Empty, _ => null, Options, cancellationToken);
        var ratchetPrivate = new byte[X25519.KeySize];
        var ratchetPublic = new byte[X25519.KeySize];
        X25519.GenerateKeyPair(ratchetPrivate, ratchetPublic);
        try
        {
            var hello = new Hello
            {
                ListenPort = claimedListenPort,
                SessionId = ByteString.Empty,
                RatchetKey = ByteString.CopyFrom(ratchetPublic),
            };
            await connection.SendAsync(NodeWire.Encode(new NodeFrame { Hello = hello }), cancellationToken);
            var first = await connection.ReceiveAsync(cancellationToken)
                ?? throw new InvalidOperationException($"The node closed the connection before its hello: {connection.PeerClose}");
            if (!NodeWire.TryParseFrame(first, out var frame) || frame.FrameCase != NodeFrame.FrameOneofCase.Hello)
            {
                throw new InvalidOperationException("The node's first frame was not a hello.");
            }

            return new HostileLink(this, connection, StartSession(connection, frame.Hello.RatchetKey.Span));
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(ratchetPrivate);
        }
    }

    /// <summary>A text envelope for the conversation with <paramref name="node"/>, with the Lamport value and send time given.</summary>
    public Envelope TextEnvelope(string node, string text, ulong lamport, DateTimeOffset? sentAt = null) => new()
    {
        MessageId = ByteString.CopyFrom(NodeWire.NewMessageId()),
        Conversation = ByteString.CopyFrom(NodeWire.Conversation(Identity.Account, ParseId(node))),
        SenderDevice = ByteString.CopyFrom(NodeWire.DeviceId(Identity.Certificate)),
        Lamport = lamport,
        SentAt = (sentAt ?? DateTimeOffset.UtcNow).ToUnixTimeMilliseconds(),
        Text = new Text { Content = text },
    };

    /// <summary>An acknowledgement of <paramref name="messageIds"/>, as a node sends it after storing them.</summary>
    public Envelope Delivered(string node, ulong lamport, IEnumerable<ByteString> messageIds)
    {
        var receipt = new Receipt();
        receipt.MessageIds.AddRange(messageIds);
        return new Envelope
        {
            MessageId = ByteString.CopyFrom(NodeWire.NewMessageId()),
            Conversation = ByteString.CopyFrom(NodeWire.Conversation(Identity.Account, ParseId(node))),
            SenderDevice = ByteString.CopyFrom(NodeWire.DeviceId(Identity.Certificate)),
            Lamport = lamport,
            SentAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            Delivered = receipt,
        };
    }

    public void Dispose() => Identity.Dispose();

    private static AccountId ParseId(string id) =>
        AccountId.TryParse(id, out var account) ? account : throw new ArgumentException($"'{id}' is not an account ID.", nameof(id));

    /// <summary>The dialer's side of a new session, as the node derives it (docs/protocol.md 6.3): this peer is Alice.</summary>
    private RatchetSession StartSession(SecureConnection connection, ReadOnlySpan<byte> nodeRatchetKey)
    {
        var handshakeHash = connection.HandshakeHash.ToArray();
        var sessionId = handshakeHash[..16];
        byte[] associatedData = [.. "SecureChat ratchet v1"u8, .. sessionId, .. Identity.Account.PublicKey, .. connection.PeerAccount.PublicKey];
        Span<byte> sharedSecret = stackalloc byte[RatchetSession.KeySize];
        try
        {
            HKDF.DeriveKey(HashAlgorithmName.SHA256, connection.ExporterSecret, sharedSecret, handshakeHash, "SecureChat ratchet bootstrap v1"u8);
            return RatchetSession.InitializeAlice(sharedSecret, nodeRatchetKey, associatedData, RatchetOptions.Default);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(sharedSecret);
        }
    }
}

/// <summary>One connection of a <see cref="HostilePeer"/> to a node, after the hellos.</summary>
internal sealed class HostileLink : IAsyncDisposable
{
    private readonly HostilePeer _peer;
    private readonly RatchetSession _ratchet;

    internal HostileLink(HostilePeer peer, SecureConnection connection, RatchetSession ratchet)
    {
        _peer = peer;
        Connection = connection;
        _ratchet = ratchet;
    }

    public SecureConnection Connection { get; }

    /// <summary>The node's account ID.</summary>
    public string NodeId => Connection.PeerAccount.Text;

    /// <summary>How the node closed the connection, once it has.</summary>
    public PeerClose? Closed => Connection.PeerClose;

    /// <summary>Encrypts <paramref name="envelope"/> in the ratchet and sends it.</summary>
    public async Task SendAsync(Envelope envelope, CancellationToken cancellationToken = default)
    {
        var plaintext = NodeWire.Encode(envelope);
        var frame = NodeWire.Encode(new NodeFrame { Ratchet = ByteString.CopyFrom(_ratchet.Encrypt(plaintext)) });
        await Connection.SendAsync(frame, cancellationToken);
    }

    /// <summary>
    /// The next envelope the node sends, decrypted; null once the node has closed the connection
    /// (then <see cref="Closed"/> says why). Typing notices are passed over.
    /// </summary>
    public async Task<Envelope?> ReceiveAsync(CancellationToken cancellationToken = default)
    {
        while (await Connection.ReceiveAsync(cancellationToken) is { } data)
        {
            if (!NodeWire.TryParseFrame(data, out var frame) || frame.FrameCase != NodeFrame.FrameOneofCase.Ratchet)
            {
                throw new InvalidOperationException("The node sent a frame that is not a ratchet message after its hello.");
            }

            var result = _ratchet.TryDecrypt(frame.Ratchet.Span, DateTimeOffset.UtcNow, out var plaintext);
            if (result != RatchetError.None || !NodeWire.TryParseEnvelope(plaintext, out var envelope))
            {
                throw new InvalidOperationException($"The node sent a ratchet message that did not open ({result}).");
            }

            if (envelope.BodyCase != Envelope.BodyOneofCase.Typing)
            {
                return envelope;
            }
        }

        return null;
    }

    /// <summary>Reads until the node sends a text; acknowledges it as a node would, and returns it. Null if the node closes first.</summary>
    public async Task<Envelope?> ReceiveTextAsync(CancellationToken cancellationToken = default)
    {
        while (await ReceiveAsync(cancellationToken) is { } envelope)
        {
            if (envelope.BodyCase == Envelope.BodyOneofCase.Text)
            {
                await SendAsync(_peer.Delivered(NodeId, envelope.Lamport + 1, [envelope.MessageId]), cancellationToken);
                return envelope;
            }
        }

        return null;
    }

    /// <summary>Reads until the node closes the connection (discarding what it sends) and returns its reason.</summary>
    public async Task<PeerClose> WaitClosedAsync(CancellationToken cancellationToken = default)
    {
        while (await ReceiveAsync(cancellationToken) is not null)
        {
        }

        return Closed ?? throw new InvalidOperationException("The connection ended without a close frame.");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Connection.CloseAsync(CloseReason.Normal, "the test is done", CancellationToken.None);
        }
        catch (ChannelException)
        {
            // Already gone.
        }

        await Connection.DisposeAsync();
        _ratchet.Dispose();
    }
}
