using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
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
/// One authenticated, encrypted connection over TCP: the channel protocol's handshake and
/// transport (<see cref="ChannelHandshake"/>, <see cref="ChannelSession"/>) driven over a socket.
/// Sends may come from any thread; receives from one reader at a time.
/// </summary>
public sealed class SecureConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
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

    private SecureConnection(Socket socket, NetworkStream stream, PipeReader reader, ChannelSession session, ChannelOptions options)
    {
        _socket = socket;
        _stream = stream;
        _reader = reader;
        _session = session;
        _options = options;
        RemoteEndPoint = socket.RemoteEndPoint ?? new IPEndPoint(IPAddress.None, 0);
    }

    /// <summary>The peer's verified handshake payload: certificate, account and display name.</summary>
    public HandshakePayload Peer => _session.Peer;

    public AccountId PeerAccount => _session.Peer.Certificate.Account;

    public EndPoint RemoteEndPoint { get; }

    public ChannelPattern Pattern => _session.Pattern;

    public ReadOnlySpan<byte> HandshakeHash => _session.HandshakeHash;

    /// <summary>A secret both sides share from this connection's handshake, for keys above the channel.</summary>
    public ReadOnlySpan<byte> ExporterSecret => _session.ExporterSecret;

    /// <summary>True when this side dialed the connection (the Noise initiator).</summary>
    public bool IsInitiator { get; private init; }

    /// <summary>Set once the peer has closed the channel with a close frame.</summary>
    public PeerClose? PeerClose { get; private set; }

    public int SendRekeys => _session.SendRekeys;

    /// <summary>A place this connection holds (a listener's admission ticket), given back when it is disposed.</summary>
    internal IDisposable? Lease { get; set; }

    public int ReceiveRekeys => _session.ReceiveRekeys;

    /// <summary>Runs the handshake on a connected socket. Owns the socket from here on, also on failure.</summary>
    internal static async Task<SecureConnection> HandshakeAsync(
        Socket socket, LocalIdentity identity, ReadOnlyMemory<byte> responderKey, bool initiator, PeerVerifier verify, ChannelOptions options, CancellationToken cancellationToken)
    {
        var stream = new NetworkStream(socket, ownsSocket: true);
        // 64 KiB reads: a full frame in one or two. A waiting read first asks for zero bytes, so an
        // idle connection (most of a node's) holds no buffer at all until data comes.
        var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 4 * 1024, leaveOpen: true, useZeroByteReads: true));
        ChannelHandshake? handshake = null;
        using var timeout = new CancellationTokenSource(options.HandshakeTimeout, options.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            if (initiator)
            {
                handshake = ChannelHandshake.StartInitiator(identity, responderKey.Span);
                await stream.WriteAsync(handshake.Preamble, linked.Token).ConfigureAwait(false);
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
            while (!handshake.IsComplete)
            {
                if (handshake.IsMyTurnToWrite)
                {
                    var output = new ArrayBufferWriter<byte>();
                    FrameReader.WriteFrame(output, handshake.WriteMessage());
                    await stream.WriteAsync(output.WrittenMemory, linked.Token).ConfigureAwait(false);
                    continue;
                }

                var frame = await ReadHandshakeFrameAsync(reader, linked.Token).ConfigureAwait(false);
                if (handshake.ReadMessage(frame) is { } failure)
                {
                    throw new ChannelException(failure, failure switch
                    {
                        ChannelError.InvalidPeerCertificate => "The peer's certificate is invalid: it does not prove that its key belongs to its account.",
                        ChannelError.UnsupportedPeer => "The peer speaks a protocol version this node does not support: one of you needs to update SecureChat.",
                        _ => "The handshake failed: a message did not authenticate. The peer may hold an old key for this node (and then retries with a full handshake), or the connection was tampered with.",
                    });
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
            var connection = new SecureConnection(socket, stream, reader, session, options) { IsInitiator = initiator };
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
            await AbandonAsync(reader, stream).ConfigureAwait(false);
            throw new ChannelException(ChannelError.HandshakeTimeout, $"The handshake did not finish within {options.HandshakeTimeout.TotalSeconds:0.#} seconds: the peer may not be a SecureChat node, or the network is too slow.");
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            await AbandonAsync(reader, stream).ConfigureAwait(false);
            throw new ChannelException(ChannelError.ClosedDuringHandshake, "The peer closed the connection during the handshake: it may not be a SecureChat node, may run an incompatible version, or did not accept this node's key.", ex);
        }
        catch
        {
            await AbandonAsync(reader, stream).ConfigureAwait(false);
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
            await _stream.WriteAsync(_output.WrittenMemory, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // A write cancelled part-way may have left half a frame on the wire: nothing can follow it.
            Break();
            throw;
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            Break();
            throw new ChannelException(ChannelError.ConnectionLost, $"The connection to {RemoteEndPoint} was lost while sending.", ex);
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
        await _reader.CompleteAsync().ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();

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
            catch (Exception ex) when (ex is IOException or SocketException)
            {
                throw Ended(new ChannelException(ChannelError.ConnectionLost, $"The connection to {RemoteEndPoint} was lost.", ex));
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
                        ? new ChannelException(ChannelError.ConnectionLost, $"The connection to {RemoteEndPoint} was lost: it ended without a close.")
                        : new ChannelException(ChannelError.TruncatedFrame, $"The connection to {RemoteEndPoint} ended in the middle of a frame; it was closed."));
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
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Already disconnected.
        }
        catch (ObjectDisposedException)
        {
            // Already disposed.
        }
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

            if (_broken || Volatile.Read(ref _disposed) != 0)
            {
                throw new ChannelException(ChannelError.ConnectionLost, $"The connection to {RemoteEndPoint} is already closed.");
            }

            var output = new ArrayBufferWriter<byte>();
            _session.WriteClose(output, reason, text);
            using var timeout = new CancellationTokenSource(_options.CloseTimeout, _options.Time);
            await _stream.WriteAsync(output.WrittenMemory, timeout.Token).ConfigureAwait(false);
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            throw new ChannelException(ChannelError.ConnectionLost, $"The connection to {RemoteEndPoint} was lost while closing.", ex);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private static async Task<byte[]> ReadHandshakeFrameAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (FrameReader.TryReadFrame(ref buffer, FrameReader.MaxFrameSize, out var frame) == FrameStatus.Frame)
            {
                var message = frame.ToArray();
                reader.AdvanceTo(buffer.Start);
                return message;
            }

            if (result.IsCompleted)
            {
                throw new ChannelException(ChannelError.ClosedDuringHandshake, "The peer closed the connection during the handshake: it may not be a SecureChat node, may run an incompatible version, or did not accept this node's key.");
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
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

            if (result.IsCompleted)
            {
                throw new ChannelException(ChannelError.ClosedDuringHandshake, "The peer closed the connection before the handshake began.");
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static async ValueTask AbandonAsync(PipeReader reader, NetworkStream stream)
    {
        await reader.CompleteAsync().ConfigureAwait(false);
        await stream.DisposeAsync().ConfigureAwait(false);
    }
}
