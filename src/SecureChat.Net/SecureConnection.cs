using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Identity;

namespace SecureChat.Net;

/// <summary>Why this side refuses a peer after reading its handshake payload.</summary>
/// <param name="Error">The code reported locally.</param>
/// <param name="Message">The sentence shown to the person on this side.</param>
/// <param name="RemoteText">The sentence sent to the peer in the close frame, where one can be sent.</param>
public sealed record PeerRejection(ChannelError Error, string Message, string RemoteText);

/// <summary>Decides whether a peer that completed authentication is accepted; null accepts it.</summary>
public delegate PeerRejection? PeerVerifier(HandshakePayload peer);

/// <summary>How the peer closed the channel.</summary>
public sealed record PeerClose(CloseReason Reason, string Text);

/// <summary>
/// One authenticated, encrypted connection: the channel protocol's handshake and transport
/// (<see cref="ChannelHandshake"/>, <see cref="ChannelSession"/>) driven over a
/// <see cref="ChannelTransport"/>, which may be TCP, an in-memory pipe or anything else that
/// carries a reliable ordered byte stream. The handshake timeout, the close timeout and the frame
/// size limit are enforced here, so they hold on every transport.
/// Sends may come from any thread; receives from one reader at a time.
/// </summary>
public sealed class SecureConnection : IAsyncDisposable
{
    private const string ClosedDuringHandshakeText =
        "The peer closed the connection during the handshake: it may not be a SecureChat node, may run an incompatible version, or did not accept this node's key.";

    private readonly ChannelTransport _transport;
    private readonly PipeReader _reader;
    private readonly ChannelSession _session;
    private readonly ChannelOptions _options;
    private readonly SemaphoreSlim _writeLock = new(1, 1);

    /// <summary>Where frames are sealed before they are written; reused under the write lock, it holds only ciphertext.</summary>
    private readonly ArrayBufferWriter<byte> _output = new(256);
    private readonly TaskCompletionSource _receiveEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _receiving;
    private bool _receiveDone;
    private bool _broken;
    private int _disposed;

    /// <summary>What carries this connection's frames (tests read the TCP socket's options through it).</summary>
    internal ChannelTransport Transport => _transport;

    private SecureConnection(ChannelTransport transport, ChannelSession session, ChannelOptions options)
    {
        _transport = transport;
        _reader = transport.Input;
        _session = session;
        _options = options;
    }

    /// <summary>The peer's verified handshake payload: certificate, account and display name.</summary>
    public HandshakePayload Peer => _session.Peer;

    public AccountId PeerAccount => _session.Peer.Certificate.Account;

    /// <summary>The peer's network address where the transport knows one (TCP); null over a pipe or a relay.</summary>
    public EndPoint? RemoteEndPoint => _transport.RemoteEndPoint;

    /// <summary>This side's address of the connection (the local port a NAT may or may not keep); null over a pipe or a relay.</summary>
    public EndPoint? LocalEndPoint => _transport.LocalEndPoint;

    public ChannelPattern Pattern => _session.Pattern;

    public ReadOnlySpan<byte> HandshakeHash => _session.HandshakeHash;

    /// <summary>A secret both sides share from this connection's handshake, for keys above the channel.</summary>
    public ReadOnlySpan<byte> ExporterSecret => _session.ExporterSecret;

    /// <summary>True when this side dialed the connection (the Noise initiator).</summary>
    public bool IsInitiator { get; private init; }

    /// <summary>
    /// True when the connection was a TCP simultaneous open: this side dialed from its listen port,
    /// the peer dialed it at the same time, and the crossed handshake was resolved (protocol 3.11).
    /// </summary>
    public bool WasSimultaneousOpen { get; private init; }

    /// <summary>Set once the peer has closed the channel with a close frame.</summary>
    public PeerClose? PeerClose { get; private set; }

    public int SendRekeys => _session.SendRekeys;

    /// <summary>The peer as error messages name it: its address where the transport knows one.</summary>
    private string Where => RemoteEndPoint?.ToString() ?? "the peer";

    private bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>A place this connection holds (a listener's admission ticket), given back when it is disposed.</summary>
    internal IDisposable? Lease { get; set; }

    public int ReceiveRekeys => _session.ReceiveRekeys;

    /// <summary>
    /// Runs the initiator's handshake over <paramref name="transport"/>: IK when
    /// <paramref name="knownResponderKey"/> is given, else XX. <paramref name="verify"/> judges the
    /// responder before this side reveals itself (XX) or before the connection is handed out (IK).
    /// Owns the transport from here on, also on failure. (Over TCP, <see cref="ChannelDialer"/>
    /// dials, and falls back from a refused IK to XX on a new connection.)
    /// </summary>
    public static Task<SecureConnection> ConnectAsync(
        ChannelTransport transport, LocalIdentity identity, ReadOnlyMemory<byte> knownResponderKey, PeerVerifier verify, ChannelOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentNullException.ThrowIfNull(verify);
        ArgumentNullException.ThrowIfNull(options);
        return HandshakeAsync(transport, identity, knownResponderKey, initiator: true, simultaneousOpen: false, verify, options, cancellationToken);
    }

    /// <summary>
    /// <see cref="ConnectAsync"/> for a connection dialed from this node's own listen port, which
    /// may turn out to be a TCP simultaneous open: the peer dialed this node from its listen port at
    /// the same moment, both SYNs crossed, and both sides sent a preamble and message 1. Then the
    /// side whose message 1 carries the greater ephemeral key stays initiator and the other answers
    /// as responder (protocol 3.11); <see cref="IsInitiator"/> tells which role this side ended in.
    /// The peer is judged exactly as on any dial: by <paramref name="verify"/>, and, when
    /// <paramref name="knownResponderKey"/> is given, by that key also in the responder's role.
    /// </summary>
    public static Task<SecureConnection> ConnectFromListenPortAsync(
        ChannelTransport transport, LocalIdentity identity, ReadOnlyMemory<byte> knownResponderKey, PeerVerifier verify, ChannelOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentNullException.ThrowIfNull(verify);
        ArgumentNullException.ThrowIfNull(options);
        return HandshakeAsync(transport, identity, knownResponderKey, initiator: true, simultaneousOpen: true, verify, options, cancellationToken);
    }

    /// <summary>
    /// Runs the responder's handshake over <paramref name="transport"/>, XX or IK as the initiator
    /// chose. Owns the transport from here on, also on failure.
    /// </summary>
    public static Task<SecureConnection> AcceptAsync(
        ChannelTransport transport, LocalIdentity identity, PeerVerifier verify, ChannelOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentNullException.ThrowIfNull(verify);
        ArgumentNullException.ThrowIfNull(options);
        return HandshakeAsync(transport, identity, ReadOnlyMemory<byte>.Empty, initiator: false, simultaneousOpen: false, verify, options, cancellationToken);
    }

    private static async Task<SecureConnection> HandshakeAsync(
        ChannelTransport transport, LocalIdentity identity, ReadOnlyMemory<byte> responderKey, bool initiator, bool simultaneousOpen, PeerVerifier verify, ChannelOptions options, CancellationToken cancellationToken)
    {
        var reader = transport.Input;
        ChannelHandshake? handshake = null;
        using var timeout = new CancellationTokenSource(options.HandshakeTimeout, options.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            if (initiator)
            {
                handshake = ChannelHandshake.StartInitiator(identity, responderKey.Span);
                await WriteHandshakeAsync(transport.Output, handshake.Preamble, linked.Token).ConfigureAwait(false);
            }
            else
            {
                var preamble = await ReadExactlyAsync(reader, Preamble.Size, linked.Token).ConfigureAwait(false);
                if (!ChannelHandshake.TryStartResponder(identity, preamble, out handshake, out var error))
                {
                    throw new ChannelException(error, "The peer is not a SecureChat node or speaks an unsupported protocol version.");
                }
            }

            PeerRejection? rejection = null;
            var crossed = false;
            byte[]? ownFirstMessage = null;
            byte[]? crossedFirstMessage = null;
            ReadOnlyMemory<byte> pinnedAsResponder = default;
            while (!handshake.IsComplete)
            {
                if (handshake.IsMyTurnToWrite)
                {
                    var message = handshake.WriteMessage();
                    ownFirstMessage ??= message;
                    var output = new ArrayBufferWriter<byte>();
                    FrameReader.WriteFrame(output, message);
                    await WriteHandshakeAsync(transport.Output, output.WrittenMemory, linked.Token).ConfigureAwait(false);
                    continue;
                }

                if (simultaneousOpen)
                {
                    // Only the first read of a dial from the listen port can meet a crossing initiator.
                    simultaneousOpen = false;
                    if (await ReadCrossingAsync(reader, linked.Token).ConfigureAwait(false) is { } crossing)
                    {
                        crossed = true;
                        if (!IsRemoteInitiatorFirst(ownFirstMessage!, crossing.FirstMessage))
                        {
                            // This side's key is the greater: it stays initiator; the peer's message 1 is dropped
                            // and its answer as responder (message 2) follows on the stream.
                            continue;
                        }

                        // The peer's key is the greater: this side's message 1 is forgotten, and the
                        // peer's is answered as any responder answers it.
                        handshake.Dispose();
                        handshake = null;
                        if (!ChannelHandshake.TryStartResponder(identity, crossing.Preamble, out handshake, out var preambleError))
                        {
                            throw new ChannelException(preambleError, "The peer is not a SecureChat node or speaks an unsupported protocol version.");
                        }

                        initiator = false;
                        pinnedAsResponder = responderKey;
                        crossedFirstMessage = crossing.FirstMessage;
                        continue;
                    }
                }

                var frame = crossedFirstMessage ?? await ReadHandshakeFrameAsync(reader, linked.Token).ConfigureAwait(false);
                crossedFirstMessage = null;
                if (handshake.ReadMessage(frame) is { } failure)
                {
                    throw new ChannelException(failure, failure switch
                    {
                        ChannelError.InvalidPeerCertificate => "The peer's certificate is invalid: it does not prove that its key belongs to its account.",
                        ChannelError.UnsupportedPeer => "The peer speaks a protocol version this node does not support: one of you needs to update SecureChat.",
                        _ => "The handshake failed: a message did not authenticate. The peer may hold an old key for this node (and then retries with a full handshake), or the connection was tampered with.",
                    });
                }

                if (handshake.Peer is { } known && !pinnedAsResponder.IsEmpty && !known.Certificate.DeviceAgreementKey.SequenceEqual(pinnedAsResponder.Span))
                {
                    // As initiator, IK would have held the peer to this key; in the responder's role
                    // the check is made here, with the error a refused IK gives (a dialer retries with XX).
                    throw new ChannelException(ChannelError.HandshakeFailed, "The handshake failed: the peer that answered the simultaneous open does not hold the key this node knows for it.");
                }

                if (handshake.Peer is { } peer && rejection is null && (rejection = verify(peer)) is not null && !handshake.IsComplete && initiator)
                {
                    // XX: the initiator refuses before message 3, so its identity is never sent. (In
                    // IK it went out in message 1; the handshake is complete then, and the refusal
                    // travels in a close frame like the responder's.)
                    throw new ChannelException(rejection.Error, rejection.Message);
                }
            }

            var session = handshake.Complete(options.Time);
            session.RekeyAfterMessages = options.RekeyAfterMessages;
            session.RekeyInterval = options.RekeyInterval;
            var connection = new SecureConnection(transport, session, options) { IsInitiator = initiator, WasSimultaneousOpen = crossed };
            if (rejection is not null)
            {
                try
                {
                    await connection.CloseAsync(CloseReason.PeerKeyRejected, rejection.RemoteText, CancellationToken.None).ConfigureAwait(false);
                }
                finally
                {
                    await connection.DisposeAsync().ConfigureAwait(false);
                }

                throw new ChannelException(rejection.Error, rejection.Message);
            }

            return connection;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            await transport.DisposeAsync().ConfigureAwait(false);
            throw new ChannelException(ChannelError.HandshakeTimeout, $"The handshake did not finish within {options.HandshakeTimeout.TotalSeconds:0.#} seconds: the peer may not be a SecureChat node, or the network is too slow.");
        }
        catch (IOException ex)
        {
            await transport.DisposeAsync().ConfigureAwait(false);
            throw ClosedDuringHandshake(ex);
        }
        catch
        {
            await transport.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        finally
        {
            handshake?.Dispose();
        }
    }

    /// <summary>Sends one application message (at most <see cref="ChannelSession.MaxMessageSize"/> bytes).</summary>
    public async ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_session.CloseSent || _broken || Volatile.Read(ref _disposed) != 0)
            {
                throw new ChannelException(ChannelError.ConnectionLost, "The channel is closed; nothing more can be sent on it.");
            }

            _output.ResetWrittenCount();
            _session.WriteMessage(_output, message.Span);
            var flushed = await _transport.Output.WriteAsync(_output.WrittenMemory, cancellationToken).ConfigureAwait(false);
            if (flushed.IsCompleted || flushed.IsCanceled)
            {
                // No one reads this stream any more (the peer's end is gone, or this side was disposed).
                Break();
                throw new ChannelException(ChannelError.ConnectionLost, $"The connection to {Where} was lost while sending.");
            }
        }
        catch (OperationCanceledException)
        {
            // A write cancelled part-way may have left half a frame on the wire: nothing can follow it.
            Break();
            throw;
        }
        catch (Exception ex) when (ex is IOException || (ex is ObjectDisposedException or InvalidOperationException && IsDisposed))
        {
            // The stream failed, or the connection was disposed under this write.
            Break();
            throw new ChannelException(ChannelError.ConnectionLost, $"The connection to {Where} was lost while sending.", ex);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// Receives the next application message; null once the peer has closed the channel cleanly
    /// (see <see cref="PeerClose"/>). A broken or hostile stream throws <see cref="ChannelException"/>
    /// after telling the peer why, where it still can.
    /// </summary>
    public async ValueTask<byte[]?> ReceiveAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _receiving, 1) == 1)
        {
            throw new InvalidOperationException("Only one receive may be in progress at a time.");
        }

        try
        {
            return await ReceiveCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _receiving, 0);
        }
    }

    /// <summary>
    /// Closes cleanly: sends the close frame, stops sending, and waits (up to the close timeout)
    /// for the peer's close frame, so everything sent before is known to have arrived.
    /// </summary>
    public async ValueTask CloseAsync(CloseReason reason = CloseReason.Normal, string text = "", CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        try
        {
            await SendCloseAsync(reason, text).ConfigureAwait(false);
        }
        catch (ChannelException)
        {
            // The connection is already gone: there is no one left to tell or to wait for.
            return;
        }

        using var timeout = new CancellationTokenSource(_options.CloseTimeout, _options.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            if (Interlocked.CompareExchange(ref _receiving, 1, 0) == 0)
            {
                try
                {
                    while (!_receiveDone && await ReceiveCoreAsync(linked.Token).ConfigureAwait(false) is not null)
                    {
                        // Messages that arrive while closing are dropped: the peer learns from our close frame.
                    }
                }
                finally
                {
                    Volatile.Write(ref _receiving, 0);
                }
            }
            else
            {
                await _receiveEnded.Task.WaitAsync(linked.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            // The peer did not answer in time; the connection is dropped all the same.
        }
        catch (ChannelException)
        {
            // The peer vanished while closing: nothing is left to wait for.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _receiveEnded.TrySetResult();

        // Ends a read or a write still waiting on the transport (a peer that stopped reading holds
        // a write until then), so the write lock comes free.
        await _transport.DisposeAsync().ConfigureAwait(false);

        // The session's keys are wiped once no writer can be using them.
        await _writeLock.WaitAsync().ConfigureAwait(false);
        _session.Dispose();
        _writeLock.Release();
        Lease?.Dispose();
    }

    /// <summary>Opens a frame, first joining it in a pooled buffer when it spans several of the pipe's segments.</summary>
    private ChannelRead ReadFrame(ReadOnlySequence<byte> frame)
    {
        if (frame.IsSingleSegment)
        {
            return _session.Read(frame.FirstSpan);
        }

        var joined = ArrayPool<byte>.Shared.Rent((int)frame.Length);
        try
        {
            frame.CopyTo(joined);
            return _session.Read(joined.AsSpan(0, (int)frame.Length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(joined);
        }
    }

    private async ValueTask<byte[]?> ReceiveCoreAsync(CancellationToken cancellationToken)
    {
        if (_receiveDone)
        {
            return null;
        }

        while (true)
        {
            ReadResult result;
            try
            {
                result = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException || (ex is ObjectDisposedException or InvalidOperationException && IsDisposed))
            {
                // The stream failed, or the connection was disposed under this read.
                throw Ended(new ChannelException(ChannelError.ConnectionLost, $"The connection to {Where} was lost.", ex));
            }

            if (result.IsCanceled)
            {
                // Only a cut transport (an interrupted write, or disposal) cancels a read.
                throw Ended(new ChannelException(ChannelError.ConnectionLost, $"The connection to {Where} was lost."));
            }

            var buffer = result.Buffer;
            var status = FrameReader.TryReadFrame(ref buffer, _options.MaxFrameSize, out var frame);
            if (status == FrameStatus.TooLarge)
            {
                await FailAsync(CloseReason.FrameTooLarge, $"frame larger than {_options.MaxFrameSize} bytes").ConfigureAwait(false);
                throw Ended(new ChannelException(ChannelError.FrameTooLarge, $"The peer sent a frame larger than the maximum of {_options.MaxFrameSize} bytes; the connection was closed."));
            }

            if (status == FrameStatus.NeedMore)
            {
                if (result.IsCompleted)
                {
                    _reader.AdvanceTo(buffer.End);
                    throw Ended(buffer.IsEmpty
                        ? new ChannelException(ChannelError.ConnectionLost, $"The connection to {Where} was lost: it ended without a close.")
                        : new ChannelException(ChannelError.TruncatedFrame, $"The connection to {Where} ended in the middle of a frame; it was closed."));
                }

                _reader.AdvanceTo(buffer.Start, buffer.End);
                continue;
            }

            var read = ReadFrame(frame);
            _reader.AdvanceTo(buffer.Start);
            switch (read.Kind)
            {
                case ChannelReadKind.Message:
                    return read.Data;
                case ChannelReadKind.Rekeyed:
                    continue;
                case ChannelReadKind.Closed:
                    PeerClose = new PeerClose(read.Reason, read.Text);
                    _receiveDone = true;
                    _receiveEnded.TrySetResult();
                    await FailAsync(CloseReason.Normal, string.Empty).ConfigureAwait(false);
                    return null;
                default:
                    var authentication = read.Error == ChannelError.AuthenticationFailed;
                    await FailAsync(
                        authentication ? CloseReason.AuthenticationFailed : CloseReason.ProtocolViolation,
                        authentication ? "a frame failed authentication" : "a frame broke the protocol").ConfigureAwait(false);
                    throw Ended(new ChannelException(read.Error ?? ChannelError.ProtocolViolation, authentication
                        ? "A frame from the peer failed authentication (tampered, replayed, reordered or forged); the connection was closed."
                        : "The peer sent a frame that breaks the protocol; the connection was closed."));
            }
        }
    }

    private ChannelException Ended(ChannelException error)
    {
        _receiveDone = true;
        _receiveEnded.TrySetResult();
        return error;
    }

    private void Break()
    {
        _broken = true;
        _transport.Abort();
    }

    /// <summary>Best effort: tells the peer why (or answers its close); a vanished peer is no error here.</summary>
    private async ValueTask FailAsync(CloseReason reason, string text)
    {
        try
        {
            await SendCloseAsync(reason, text).ConfigureAwait(false);
        }
        catch (ChannelException)
        {
            // The peer is gone already; the local error says what happened.
        }
    }

    private async ValueTask SendCloseAsync(CloseReason reason, string text)
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_session.CloseSent)
            {
                return;
            }

            if (_broken || IsDisposed)
            {
                throw new ChannelException(ChannelError.ConnectionLost, $"The connection to {Where} is already closed.");
            }

            var output = new ArrayBufferWriter<byte>();
            _session.WriteClose(output, reason, text);
            using var timeout = new CancellationTokenSource(_options.CloseTimeout, _options.Time);
            var flushed = await _transport.Output.WriteAsync(output.WrittenMemory, timeout.Token).ConfigureAwait(false);

            // The close frame is the last this side sends: completing the output is the half-close
            // (a TCP FIN), so the peer reads the end of the stream right after it.
            await _transport.Output.CompleteAsync().ConfigureAwait(false);
            if (flushed.IsCompleted || flushed.IsCanceled)
            {
                throw new ChannelException(ChannelError.ConnectionLost, $"The connection to {Where} was lost while closing.");
            }
        }
        catch (OperationCanceledException ex)
        {
            // The peer did not take the close frame within the close timeout: nothing more can follow it.
            Break();
            throw new ChannelException(ChannelError.ConnectionLost, $"The connection to {Where} was lost while closing.", ex);
        }
        catch (Exception ex) when (ex is IOException || (ex is ObjectDisposedException or InvalidOperationException && IsDisposed))
        {
            throw new ChannelException(ChannelError.ConnectionLost, $"The connection to {Where} was lost while closing.", ex);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Writes handshake bytes; a stream no one reads any more ends the handshake.</summary>
    private static async ValueTask WriteHandshakeAsync(PipeWriter output, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        var flushed = await output.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        if (flushed.IsCompleted || flushed.IsCanceled)
        {
            throw ClosedDuringHandshake();
        }
    }

    private static async Task<byte[]> ReadHandshakeFrameAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            switch (FrameReader.TryReadFrame(ref buffer, FrameReader.MaxFrameSize, out var frame))
            {
                case FrameStatus.Frame:
                    var message = frame.ToArray();
                    reader.AdvanceTo(buffer.Start);
                    return message;
                case FrameStatus.TooLarge:
                    // Unreachable with a 16-bit length and the protocol's own maximum; a limit is a limit all the same.
                    reader.AdvanceTo(buffer.Start);
                    throw new ChannelException(ChannelError.FrameTooLarge, "The peer sent a handshake message larger than the protocol allows.");
            }

            if (result.IsCompleted || result.IsCanceled)
            {
                reader.AdvanceTo(buffer.Start);
                throw ClosedDuringHandshake();
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>
    /// On a connection dialed from the listen port, looks at what the peer sent first: a preamble
    /// where the responder's message 2 was expected means the peer dialed too (a TCP simultaneous
    /// open), and then its preamble and message 1 are read. Anything else is left unread for the
    /// ordinary handshake. (A message 2 cannot pass for a preamble: its first bytes are a length
    /// and an ephemeral key, which would have to spell "SCHAT", version, pattern and zero.)
    /// </summary>
    private static async Task<(byte[] Preamble, byte[] FirstMessage)?> ReadCrossingAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.Length >= Preamble.Size)
            {
                var preamble = buffer.Slice(0, Preamble.Size).ToArray();
                if (Preamble.TryDecode(preamble, out _) is not null)
                {
                    reader.AdvanceTo(buffer.Start);
                    return null;
                }

                reader.AdvanceTo(buffer.GetPosition(Preamble.Size));
                return (preamble, await ReadHandshakeFrameAsync(reader, cancellationToken).ConfigureAwait(false));
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                // Too short for either: the ordinary read reports the closed stream.
                return null;
            }
        }
    }

    /// <summary>
    /// The simultaneous-open rule (protocol 3.11): true when the peer's message 1 carries the greater
    /// ephemeral public key (its first 32 bytes, compared as unsigned bytes), so this side answers as
    /// responder. Both sides see both keys and so decide alike; equal keys (a reflected message 1,
    /// or a broken random source) end the handshake.
    /// </summary>
    internal static bool IsRemoteInitiatorFirst(ReadOnlySpan<byte> ownFirstMessage, ReadOnlySpan<byte> remoteFirstMessage)
    {
        const int KeySize = 32;
        if (remoteFirstMessage.Length < KeySize || ownFirstMessage.Length < KeySize)
        {
            throw new ChannelException(ChannelError.HandshakeFailed, "The handshake failed: the peer's crossing message 1 is too short to hold an ephemeral key.");
        }

        var order = ownFirstMessage[..KeySize].SequenceCompareTo(remoteFirstMessage[..KeySize]);
        return order == 0
            ? throw new ChannelException(ChannelError.HandshakeFailed, "The handshake failed: the peer's crossing message 1 carries this node's own ephemeral key, so it is a reflection of this node's message and not a peer.")
            : order < 0;
    }

    private static async Task<byte[]> ReadExactlyAsync(PipeReader reader, int count, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.Length >= count)
            {
                var bytes = buffer.Slice(0, count).ToArray();
                reader.AdvanceTo(buffer.GetPosition(count));
                return bytes;
            }

            if (result.IsCompleted || result.IsCanceled)
            {
                reader.AdvanceTo(buffer.Start);
                throw new ChannelException(ChannelError.ClosedDuringHandshake, "The peer closed the connection before the handshake began.");
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static ChannelException ClosedDuringHandshake(Exception? inner = null) => inner is null
        ? new ChannelException(ChannelError.ClosedDuringHandshake, ClosedDuringHandshakeText)
        : new ChannelException(ChannelError.ClosedDuringHandshake, ClosedDuringHandshakeText, inner);
}
