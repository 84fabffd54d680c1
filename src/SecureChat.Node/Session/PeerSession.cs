using System.Net;
using System.Security.Cryptography;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using SecureChat.Crypto;
using SecureChat.Net;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Messages;
using SecureChat.Protocol.Messages.Wire;
using SecureChat.Protocol.Ratchet;
using SecureChat.Storage;

namespace SecureChat.Node.Session;

/// <summary>
/// One connection's run of the node protocol (docs/protocol.md section 6) as a state machine with
/// no I/O: the hello, the choice of ratchet session, then delivery both ways. Frames, the time and
/// the node's wishes come in through its methods; frames to write, events and a close come out in
/// a <see cref="SessionOutput"/>. It writes the store only through <see cref="ISessionStore"/>, and
/// only ever returns a frame after the store call that saved the ratchet state which encrypted it,
/// so a shell that writes the frames it is given never sends under a state a crash could lose.
/// </summary>
/// <remarks>
/// One caller at a time: the shell's actor owns it. Timers are "call <see cref="Pump"/> at
/// <see cref="WakeAt"/>"; the session itself never reads a clock.
/// </remarks>
internal sealed partial class PeerSession : IDisposable
{
    private readonly ChannelFacts _channel;
    private readonly PeerIntent _intent;
    private readonly ISessionStore _store;
    private readonly ILamportClock _clock;
    private readonly ReceiveQuota _quota;
    private readonly DeliveryRefusals _refusals;
    private readonly NodeOptions _options;
    private readonly RatchetOptions _ratchetOptions;
    private readonly ILogger _logger;

    private SessionRecord? _stored;
    private SessionRecord? _session;
    private byte[]? _ratchetPrivate;
    private byte[] _helloSessionId = [];
    private DateTimeOffset _helloDeadline;
    private bool _presentedInvite;
    private bool _started;
    private bool _closed;
    private int _pendingTyping = -1;
    private Contact _contact;
    private SessionOutput _output = new();

    public PeerSession(
        ChannelFacts channel, PeerIntent intent, SessionRecord? stored, ISessionStore store, ILamportClock clock,
        ReceiveQuota quota, DeliveryRefusals refusals, NodeOptions options, RatchetOptions ratchetOptions, ILogger logger)
    {
        _channel = channel;
        _intent = intent;
        _stored = stored;
        _store = store;
        _clock = clock;
        _quota = quota;
        _refusals = refusals;
        _options = options;
        _ratchetOptions = ratchetOptions;
        _logger = logger;
        _contact = intent.Contact;
    }

    /// <summary>The peer's record as this session last knew it (a redeemed invite or a spent token change it).</summary>
    public Contact Contact => _contact;

    /// <summary>True once the hello exchange is done.</summary>
    public bool IsOnline => _session is not null && !_closed;

    /// <summary>True once the session asked for the connection to close.</summary>
    public bool IsClosed => _closed;

    /// <summary>The ID of the ratchet session in use, once chosen.</summary>
    public ReadOnlyMemory<byte> SessionId => _session?.Id ?? ReadOnlyMemory<byte>.Empty;

    /// <summary>When the shell must call <see cref="Pump"/> even if nothing arrives: the hello deadline, the end of a refusal, or the time to write held acknowledgements.</summary>
    public DateTimeOffset? WakeAt => this switch
    {
        { _closed: true } or { _started: false } => null,
        { _session: null } => _helloDeadline,
        _ when _resumeAt > DateTimeOffset.MinValue => HeldUntil is { } held && held < _resumeAt ? held : _resumeAt,
        _ => HeldUntil,
    };

    /// <summary>
    /// Writes this side's hello: the listen port, the stored session's ID, a fresh ratchet key,
    /// (once) the invite token, and where the peer's connection was seen coming from. The peer's
    /// hello is awaited until <see cref="NodeOptions.HelloTimeout"/>.
    /// </summary>
    public SessionOutput Start(DateTimeOffset now)
    {
        if (_started)
        {
            throw new InvalidOperationException("The session has already sent its hello.");
        }

        _started = true;
        var output = Begin();
        _ratchetPrivate = new byte[X25519.KeySize];
        var ratchetPublic = new byte[X25519.KeySize];
        X25519.GenerateKeyPair(_ratchetPrivate, ratchetPublic);
        _helloSessionId = _stored?.Id ?? [];
        var hello = new Hello
        {
            ListenPort = _intent.ListenPort,
            SessionId = ByteString.CopyFrom(_helloSessionId),
            RatchetKey = ByteString.CopyFrom(ratchetPublic),
        };
        if (_channel.Remote is IPEndPoint remote)
        {
            // Tells the peer how its connection looks from here: behind a NAT, that is the only
            // way it learns the address and port the NAT gave it (docs/discovery.md, "Reachability").
            hello.ObservedEndpoint = ByteString.CopyFrom(ObservedEndpoint.Encode(remote));
        }

        if (_intent.InviteToken is { } token)
        {
            hello.InviteToken = ByteString.CopyFrom(token);
            _presentedInvite = true;
        }

        output.Frames.Add(NodeWire.Encode(new NodeFrame { Hello = hello }));
        _helloDeadline = now + _options.HelloTimeout;
        return output;
    }

    /// <summary>
    /// Handles frames as they came: the peer's hello first, then ratchet messages. What they carry
    /// is stored, and acknowledged in the same store write.
    /// </summary>
    public SessionOutput Receive(IReadOnlyList<byte[]> frames, DateTimeOffset now)
    {
        if (!_started)
        {
            throw new InvalidOperationException("The session must send its hello before it reads frames.");
        }

        var output = Begin();
        if (_closed || frames.Count == 0)
        {
            return output;
        }

        var rest = frames;
        if (_session is null)
        {
            if (!NodeWire.TryParseFrame(frames[0], out var frame) || frame.FrameCase != NodeFrame.FrameOneofCase.Hello)
            {
                return Fail(CloseReason.ProtocolViolation, "the first frame was not a node hello: the peer may be a terminal chat (`securechat listen` or `connect`), which does not speak the node protocol");
            }

            if (!AcceptHello(frame.Hello))
            {
                return output;
            }

            rest = frames.Count == 1 ? [] : [.. frames.Skip(1)];
        }

        if (rest.Count > 0)
        {
            ReceiveRatchet(rest, now);
        }

        return output;
    }

    /// <summary>
    /// Sends what waits (a typing notice, the session start, read receipts, the outbox) and acts on
    /// the time: a hello that did not come by its deadline closes the connection.
    /// </summary>
    public SessionOutput Pump(DateTimeOffset now)
    {
        var output = Begin();
        if (_closed)
        {
            return output;
        }

        if (_session is null)
        {
            return _started && now >= _helloDeadline ? Fail(CloseReason.ProtocolViolation, "the peer sent no hello in time") : output;
        }

        SendWaiting(now);
        WriteHeldIfDue(now);
        return output;
    }

    /// <summary>Sends a typing notice (not stored, not acknowledged) with the next batch.</summary>
    public void Typing(bool active) => _pendingTyping = active ? 1 : 0;

    public void Dispose()
    {
        _stored?.Dispose();
        _stored = null;
        _session?.Dispose();
        _session = null;
        WipeRatchetKey();
    }

    private SessionOutput Begin() => _output = new SessionOutput();

    private SessionOutput Fail(CloseReason reason, string text)
    {
        _closed = true;
        _output.Close = new SessionClose(reason, text);
        _output.Frames.Clear();
        return _output;
    }

    /// <summary>
    /// Each side reads the peer's hello. They keep their session when both named the same one;
    /// otherwise both start a new one from this connection's handshake, with the dialer as Alice
    /// and the responder's hello key as Bob's first ratchet key. Both decide from the same two
    /// hellos, so they decide the same.
    /// </summary>
    private bool AcceptHello(Hello theirs)
    {
        if (_contact.Standing == ContactStanding.Request && theirs.InviteToken.Length > 0
            && _store.RedeemInvite(_contact, theirs.InviteToken.Span) is { } accepted)
        {
            // A stranger holding a one-time link of this node's person: a contact on this very connection.
            _contact = accepted;
            _output.Promoted = accepted;
        }

        _output.ClaimedEndpoint = ClaimedEndpoint(theirs.ListenPort);

        // The peer's word on where it sees this node: a claim for the reachability classification,
        // which trusts no single peer. A malformed one is dropped: older peers send none at all.
        _output.SeenAt = ObservedEndpoint.TryDecode(theirs.ObservedEndpoint.Span);
        _refusals.Reconnected(_contact.Account);
        if (_stored is not null && _helloSessionId.Length > 0 && theirs.SessionId.Span.SequenceEqual(_helloSessionId))
        {
            _session = _stored;
            _stored = null;
        }
        else
        {
            if (_channel.IsInitiator && !X25519.IsValidPublicKey(theirs.RatchetKey.Span))
            {
                WipeRatchetKey();
                Fail(CloseReason.ProtocolViolation, "the hello's ratchet key is not a valid X25519 key");
                return false;
            }

            _stored?.Dispose();
            _stored = null;
            _session = StartSession(theirs.RatchetKey.Span);
            _store.SaveSession(_contact, _session);
            _logger.LogInformation("Started a new ratchet session with {Contact}", _intent.Label);
        }

        WipeRatchetKey();
        if (_presentedInvite)
        {
            // The hellos were exchanged: the contact's node has read the token and used it (or
            // found it of no use). It is not presented again (docs/protocol.md 7.6).
            _contact = _store.InviteDelivered(_contact);
        }

        _output.CameOnline = true;
        return true;
    }

    /// <summary>
    /// A new session from this connection: the root key is derived from the channel's exporter
    /// secret under the handshake hash, and the associated data binds the session ID and both
    /// accounts, Alice's first (docs/protocol.md 6.3).
    /// </summary>
    private SessionRecord StartSession(ReadOnlySpan<byte> theirRatchetKey)
    {
        var handshakeHash = _channel.HandshakeHash;
        var sessionId = handshakeHash[..SessionRecord.SessionIdSize];
        byte[] associatedData = _channel.IsInitiator
            ? [.. "SecureChat ratchet v1"u8, .. sessionId, .. _channel.SelfAccount, .. _channel.PeerAccount]
            : [.. "SecureChat ratchet v1"u8, .. sessionId, .. _channel.PeerAccount, .. _channel.SelfAccount];
        Span<byte> sharedSecret = stackalloc byte[RatchetSession.KeySize];
        try
        {
            HKDF.DeriveKey(HashAlgorithmName.SHA256, _channel.ExporterSecret, sharedSecret, handshakeHash, "SecureChat ratchet bootstrap v1"u8);
            var ratchet = _channel.IsInitiator
                ? RatchetSession.InitializeAlice(sharedSecret, theirRatchetKey, associatedData, _ratchetOptions)
                : RatchetSession.InitializeBob(sharedSecret, _ratchetPrivate, associatedData, _ratchetOptions);
            return new SessionRecord(sessionId, ratchet, peerConfirmed: false);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(sharedSecret);
        }
    }

    /// <summary>
    /// A peer that dialed in says where it listens: its address as this side saw it, with the port
    /// its hello claims. That is a claim, not a proof (anyone behind the same NAT can name any
    /// port), so it is only handed on to try: the address is kept once a dial to it reaches this
    /// contact's key (docs/protocol.md 6.2).
    /// </summary>
    private PeerEndpoint? ClaimedEndpoint(uint listenPort)
    {
        if (_channel.IsInitiator || listenPort == 0 || listenPort > ushort.MaxValue || _channel.Remote is not IPEndPoint remote)
        {
            return null;
        }

        var address = remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;
        return new PeerEndpoint(address.ToString(), (int)listenPort);
    }

    /// <summary>Wipes the secrets only a new session's start needs: the hello's ratchet key and the channel's exporter secret.</summary>
    private void WipeRatchetKey()
    {
        CryptographicOperations.ZeroMemory(_channel.ExporterSecret);
        if (_ratchetPrivate is not null)
        {
            CryptographicOperations.ZeroMemory(_ratchetPrivate);
            _ratchetPrivate = null;
        }
    }
}
