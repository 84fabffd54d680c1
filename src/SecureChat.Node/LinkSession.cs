using System.Net;
using System.Security.Cryptography;
using System.Threading.Channels;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using SecureChat.Crypto;
using SecureChat.Net;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Messages;
using SecureChat.Protocol.Messages.Wire;
using SecureChat.Protocol.Ratchet;
using SecureChat.Storage;

namespace SecureChat.Node;

/// <summary>
/// One connection's run of the node protocol (docs/protocol.md section 6): the hello, the choice
/// of ratchet session, then delivery both ways until the connection ends. One task (the actor)
/// owns the ratchet session; a reader feeds it frames and a writer drains what it encrypts, so a
/// peer that stops reading never stalls what this side reads, and the reverse.
/// </summary>
internal sealed partial class LinkSession
{
    private const int MaxFramesPerBatch = 512;
    private const int MaxWriteBacklog = 50_000;

    private readonly ChatNode _node;
    private readonly ContactLink _link;
    private readonly SecureConnection _connection;
    private readonly ILogger _logger;
    private readonly Channel<byte[]?> _inbox = Channel.CreateBounded<byte[]?>(new BoundedChannelOptions(1024) { SingleReader = true });
    private readonly Channel<byte[]> _outgoing = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly HashSet<string> _inFlight = [];

    private readonly HashSet<string> _receiptsInFlight = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _writeBacklog;

    /// <summary>The last outbox message taken on this connection; the next batch is read from after it.</summary>
    private string? _outboxCursor;
    private int _pendingTyping = -1;
    private SessionRecord? _session;
    private string? _sessionStartId;
    private Contact _contact;

    /// <summary>True when this side's hello carried the invite token kept for the contact.</summary>
    private bool _presentedInvite;
    private CloseReason _closeReason = CloseReason.Normal;
    private string _closeText = string.Empty;

    public LinkSession(ChatNode node, ContactLink link, SecureConnection connection, Contact contact, ILogger logger)
    {
        _node = node;
        _link = link;
        _connection = connection;
        _contact = contact;
        _logger = logger;
    }

    public SecureConnection Connection => _connection;

    /// <summary>Completes when the connection has ended and everything of it is released.</summary>
    public Task Completion => _completion.Task;

    /// <summary>Set once the hello exchange is done: the contact is online through this connection.</summary>
    public bool IsOnline { get; private set; }

    /// <summary>The endpoint of the peer as this side sees it.</summary>
    public string RemoteEndpoint => _connection.RemoteEndPoint?.ToString() ?? "?";

    /// <summary>Asks the actor to look at the outbox (a message was queued or marked read).</summary>
    public void Kick() => _inbox.Writer.TryWrite(null);

    public void Start() => _ = RunAsync();

    /// <summary>Closes the connection with a reason and waits until the session has ended.</summary>
    public async Task StopAsync(CloseReason reason, string text)
    {
        _closeReason = reason;
        _closeText = text;
        await _stop.CancelAsync().ConfigureAwait(false);
        await Completion.ConfigureAwait(false);
    }

    private async Task RunAsync()
    {
        try
        {
            await HelloAsync(_stop.Token).ConfigureAwait(false);
            IsOnline = true;
            if (_presentedInvite)
            {
                // The hellos were exchanged: the contact's node has read the token and used it (or
                // found it of no use). It is not presented again (docs/protocol.md 7.6).
                _contact = _node.InviteDelivered(_contact);
            }

            _link.Online(this);
            var reader = ReadAsync(_stop.Token);
            var writer = WriteAsync(_stop.Token);
            var actor = ActAsync(_stop.Token);
            Kick();
            var first = await Task.WhenAny(reader, writer, actor).ConfigureAwait(false);
            await _stop.CancelAsync().ConfigureAwait(false);

            // All three end before the close: the reader must be free to read the peer's CLOSE
            // reply, and no late actor step may save a ratchet state after this session ended.
            await Task.WhenAll(reader, writer, actor).ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
            await first.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Stopped by the node (shutdown, a replacing connection): close below.
        }
        catch (NodeProtocolException ex)
        {
            _logger.LogWarning("Closing the connection to {Contact}: {Reason}", _link.Label, ex.Message);
            _closeReason = ex.Reason;
            _closeText = ex.Message;
            _node.Events.Publish(new ConnectionProblem(_contact.Account, RemoteEndpoint, ex.Message));
        }
        catch (ChannelException ex)
        {
            _logger.LogInformation("The connection to {Contact} ended: {Reason}", _link.Label, ex.Message);
        }
        catch (StoreException ex)
        {
            _logger.LogError("The store failed while talking to {Contact}: {Reason}", _link.Label, ex.Message);
            _closeReason = CloseReason.Shutdown;
            _closeText = "the node could not write to its store";
        }
        finally
        {
            await EndAsync().ConfigureAwait(false);
        }
    }

    private async Task EndAsync()
    {
        _outgoing.Writer.TryComplete();
        try
        {
            if (_connection.PeerClose is null)
            {
                using var abandon = new CancellationTokenSource(_node.Options.Channel.CloseTimeout, _node.Options.Time);
                await _connection.CloseAsync(_closeReason, _closeText, abandon.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is ChannelException or OperationCanceledException or ObjectDisposedException)
        {
            // The connection is already gone; nothing more to say on it.
        }

        await _connection.DisposeAsync().ConfigureAwait(false);
        _resumeTimer?.Dispose();
        _session?.Dispose();
        _link.Ended(this);
        _stop.Dispose();
        _completion.TrySetResult();
    }

    /// <summary>
    /// Each side sends its hello and reads the peer's. They keep their session when both name the
    /// same one; otherwise both start a new one from this connection's handshake, with the dialer
    /// as Alice and the responder's hello key as Bob's first ratchet key. Both decide from the same
    /// two hellos, so they decide the same.
    /// </summary>
    private async Task HelloAsync(CancellationToken cancellationToken)
    {
        var ratchetPrivate = new byte[X25519.KeySize];
        var ratchetPublic = new byte[X25519.KeySize];
        X25519.GenerateKeyPair(ratchetPrivate, ratchetPublic);
        try
        {
            var stored = _node.LoadSession(_contact);
            var mine = new Hello
            {
                ListenPort = (uint)(_node.ListenEndPoint?.Port ?? 0),
                SessionId = ByteString.CopyFrom(stored?.Id ?? []),
                RatchetKey = ByteString.CopyFrom(ratchetPublic),
            };
            if (_node.Store.Contacts.Find(_contact.AccountId) is { Standing: ContactStanding.Contact, InviteToken: { } kept }
                && InviteLink.TryDecodeToken(kept, out var token))
            {
                mine.InviteToken = ByteString.CopyFrom(token);
                _presentedInvite = true;
            }

            await _connection.SendAsync(NodeWire.Encode(new NodeFrame { Hello = mine }), cancellationToken).ConfigureAwait(false);

            using var helloDeadline = new CancellationTokenSource(_node.Options.HelloTimeout, _node.Options.Time);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, helloDeadline.Token);
            byte[]? first;
            try
            {
                first = await _connection.ReceiveAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new NodeProtocolException(CloseReason.ProtocolViolation, "the peer sent no hello in time");
            }

            if (first is null)
            {
                throw new ChannelException(ChannelError.ConnectionLost, "The peer closed the connection before its hello.");
            }

            if (!NodeWire.TryParseFrame(first, out var frame) || frame.FrameCase != NodeFrame.FrameOneofCase.Hello)
            {
                throw new NodeProtocolException(CloseReason.ProtocolViolation, "the first frame was not a node hello: the peer may be a terminal chat (`securechat listen` or `connect`), which does not speak the node protocol");
            }

            var theirs = frame.Hello;
            if (_contact.Standing == ContactStanding.Request && theirs.InviteToken.Length > 0
                && _node.RedeemInvite(_contact, theirs.InviteToken.Span) is { } accepted)
            {
                // A stranger holding a one-time link of this node's person: a contact on this very connection.
                _contact = accepted;
                _link.Promote(accepted);
            }

            LearnEndpoint(theirs.ListenPort);
            _node.Refusals.Reconnected(_contact.Account);
            if (stored is not null && mine.SessionId.Length > 0 && mine.SessionId.Equals(theirs.SessionId))
            {
                _session = stored;
                return;
            }

            stored?.Dispose();
            _session = StartSession(theirs.RatchetKey.Span, ratchetPrivate);
            _node.SaveSession(_contact, _session);
            _logger.LogInformation("Started a new ratchet session with {Contact}", _link.Label);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(ratchetPrivate);
        }
    }

    private SessionRecord StartSession(ReadOnlySpan<byte> theirRatchetKey, ReadOnlySpan<byte> myRatchetPrivate)
    {
        if (_connection.IsInitiator && !X25519.IsValidPublicKey(theirRatchetKey))
        {
            throw new NodeProtocolException(CloseReason.ProtocolViolation, "the hello's ratchet key is not a valid X25519 key");
        }

        var handshakeHash = _connection.HandshakeHash.ToArray();
        var sessionId = handshakeHash[..SessionRecord.SessionIdSize];
        var self = _node.Identity.Account.PublicKey;
        var peer = _connection.PeerAccount.PublicKey;
        byte[] associatedData = _connection.IsInitiator
            ? [.. "SecureChat ratchet v1"u8, .. sessionId, .. self, .. peer]
            : [.. "SecureChat ratchet v1"u8, .. sessionId, .. peer, .. self];
        Span<byte> sharedSecret = stackalloc byte[RatchetSession.KeySize];
        try
        {
            HKDF.DeriveKey(HashAlgorithmName.SHA256, _connection.ExporterSecret, sharedSecret, handshakeHash, "SecureChat ratchet bootstrap v1"u8);
            var ratchet = _connection.IsInitiator
                ? RatchetSession.InitializeAlice(sharedSecret, theirRatchetKey, associatedData, _node.RatchetOptions)
                : RatchetSession.InitializeBob(sharedSecret, myRatchetPrivate, associatedData, _node.RatchetOptions);
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
    /// port), so it is only handed to the link to try: the address is kept once a dial to it
    /// reaches this contact's key (docs/protocol.md 6.2).
    /// </summary>
    private void LearnEndpoint(uint listenPort)
    {
        if (_connection.IsInitiator || listenPort == 0 || _connection.RemoteEndPoint is not IPEndPoint remote)
        {
            return;
        }

        var address = remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;
        _link.Confirm(new PeerEndpoint(address.ToString(), (int)listenPort));
    }

    private async Task ReadAsync(CancellationToken cancellationToken)
    {
        while (await _connection.ReceiveAsync(cancellationToken).ConfigureAwait(false) is { } frame)
        {
            await _inbox.Writer.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
        }

        _logger.LogDebug("{Contact} closed the connection: {Reason}", _link.Label, _connection.PeerClose?.Reason);
    }

    private async Task WriteAsync(CancellationToken cancellationToken)
    {
        await foreach (var frame in _outgoing.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            // Every frame handed to the writer was encrypted with a persisted ratchet state: it may go.
            await _connection.SendAsync(frame, CancellationToken.None).ConfigureAwait(false);
            Interlocked.Decrement(ref _writeBacklog);
        }
    }

    private void Enqueue(byte[] frame)
    {
        if (Interlocked.Increment(ref _writeBacklog) > MaxWriteBacklog)
        {
            throw new NodeProtocolException(CloseReason.ProtocolViolation, "the peer stopped reading");
        }

        _outgoing.Writer.TryWrite(frame);
    }

    private async Task ActAsync(CancellationToken cancellationToken)
    {
        // Grows to the batches that come: most connections are idle and carry a message now and then.
        var frames = new List<byte[]>();
        while (await _inbox.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            frames.Clear();
            while (frames.Count < MaxFramesPerBatch && _inbox.Reader.TryRead(out var item))
            {
                if (item is not null)
                {
                    frames.Add(item);
                }
            }

            if (frames.Count > 0)
            {
                Receive(frames);
            }

            Pump();
        }
    }
}
