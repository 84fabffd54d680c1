using System.Net;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using SecureChat.Net;
using SecureChat.Node.Reachability;
using SecureChat.Node.Session;
using SecureChat.Protocol.Channel;
using SecureChat.Protocol.Messages;
using SecureChat.Storage;

namespace SecureChat.Node;

/// <summary>
/// The I/O shell of one connection's <see cref="PeerSession"/>: a reader feeds it frames, one task
/// (the actor) owns it and makes its store commands, and a writer drains the frames it hands out,
/// so a peer that stops reading never stalls what this side reads, and the reverse. The protocol's
/// decisions are all the session's (docs/design-notes.md, "The peer session").
/// </summary>
internal sealed class LinkSession
{
    private const int MaxFramesPerBatch = 512;
    private const int MaxWriteBacklog = 50_000;

    /// <summary>
    /// How long acknowledgements wait in memory for the next store write (<see cref="PeerSession.AcknowledgementHold"/>):
    /// long enough that a conversation in motion folds them into its next send, short enough that
    /// a message shows delivered at once to a person.
    /// </summary>
    private static readonly TimeSpan AcknowledgementHold = TimeSpan.FromMilliseconds(20);

    private readonly ChatNode _node;
    private readonly ContactLink _link;
    private readonly SecureConnection _connection;
    private readonly ILogger _logger;
    private readonly Contact _contact;

    /// <summary>The protocol of this connection; made by the actor, which alone touches it.</summary>
    private PeerSession? _peer;
    private readonly Channel<byte[]?> _inbox = Channel.CreateBounded<byte[]?>(new BoundedChannelOptions(1024) { SingleReader = true });
    private readonly Channel<byte[]> _outgoing = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _writeBacklog;
    private int _pendingTyping = -1;

    /// <summary>While online: the contact's texts queued from now on come to this connection (the fast send path).</summary>
    private Outbox.OutboxLink? _handoff;

    /// <summary>Wakes the actor at the session's <see cref="PeerSession.WakeAt"/>.</summary>
    private ITimer? _wakeTimer;
    private DateTimeOffset? _wakeAt;

    /// <summary>Set by the wake timer when it fires: the next <see cref="ScheduleWake"/> arms it again even for the same time.</summary>
    private int _wakeFired;
    private CloseReason _closeReason = CloseReason.Normal;
    private string _closeText = string.Empty;

    /// <summary>Where the contact's hello said it sees this node, as kept for the reachability classification; null without one.</summary>
    private AddressObservation? _observation;

    /// <summary>How the connection runs, written once by the actor as the hellos are exchanged and read by any thread.</summary>
    private volatile ContactConnection? _description;

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

    /// <summary>How this connection runs (who dialed, the two ends, since when), for the contact views; null until the hellos are exchanged.</summary>
    public ContactConnection? Description => _description;

    /// <summary>Asks the actor to look at the outbox (a message was queued or marked read).</summary>
    public void Kick() => _inbox.Writer.TryWrite(null);

    /// <summary>Sends a typing notice (not stored, not acknowledged) with the next batch.</summary>
    public void SendTyping(bool active)
    {
        Volatile.Write(ref _pendingTyping, active ? 1 : 0);
        Kick();
    }

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
            var reader = ReadAsync(_stop.Token);
            var writer = WriteAsync(_stop.Token);
            var actor = ActAsync(_stop.Token);
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
            _node.Events.Publish(new ConnectionProblem((_peer?.Contact ?? _contact).Account, RemoteEndpoint, ex.Message));
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
        _wakeTimer?.Dispose();

        // Texts handed to this connection and not taken go to the outbox's writer; their senders
        // get its answer. Then what the session holds in memory is written, so that the next
        // connection starts from it.
        _handoff?.Dispose();
        if (_observation is { } observation)
        {
            _node.ObservationEnded(observation);
        }

        WriteHeld();
        _peer?.Dispose();
        _link.Ended(this);
        _stop.Dispose();
        _completion.TrySetResult();
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

    private async Task ActAsync(CancellationToken cancellationToken)
    {
        var peer = _peer = NewPeerSession();
        Execute(peer.Start(_node.Options.Time.GetUtcNow()));

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

            var now = _node.Options.Time.GetUtcNow();
            if (frames.Count > 0)
            {
                Execute(peer.Receive(frames, now));
            }

            if (Interlocked.Exchange(ref _pendingTyping, -1) is var typing and >= 0)
            {
                peer.Typing(typing == 1);
            }

            SendHanded(peer, now);
            Execute(peer.Pump(now));
        }
    }

    /// <summary>
    /// The session of this connection, from the channel's facts and what the store holds now: the
    /// connection this one replaced has ended, so its last ratchet state is saved.
    /// </summary>
    private PeerSession NewPeerSession()
    {
        var store = new NodeSessionStore(_node);
        var stored = store.Load(_contact);
        var intent = new PeerIntent(_contact, _link.Label, _link.Conversation, _node.DeviceId, (uint)(_node.ListenEndPoint?.Port ?? 0), store.InviteToken(_contact));
        var channel = new ChannelFacts(
            _connection.IsInitiator, _connection.HandshakeHash.ToArray(), _connection.ExporterSecret.ToArray(),
            _node.Identity.Account.PublicKey.ToArray(), _connection.PeerAccount.PublicKey.ToArray(), _connection.RemoteEndPoint);
        return new PeerSession(channel, intent, stored, store, _link, _node.Quota, _node.Refusals, _node.Options, _node.RatchetOptions, _logger)
        {
            AcknowledgementHold = AcknowledgementHold,
        };
    }

    /// <summary>
    /// The fast send path: texts queued for the contact since the last step are written by the
    /// session in one store write with their encryption, then their senders learn they are on
    /// disk, then the frames go. Texts the session cannot take now, or that a failed write did not
    /// store, go to the outbox's writer: the sender gets the same answer as without a connection.
    /// </summary>
    private void SendHanded(PeerSession peer, DateTimeOffset now)
    {
        if (_handoff is null)
        {
            return;
        }

        // When the connection can send nothing now (the in-flight window is full), texts go to
        // the outbox's writer, which queues them on its own thread, many to a commit.
        var room = peer.SendRoom(now);
        if (_handoff.Take(room > 0 ? room : int.MaxValue) is not { } handed)
        {
            return;
        }

        if (room <= 0)
        {
            _handoff.GiveBack(handed);
            return;
        }

        SessionOutput? output;
        try
        {
            output = peer.SendQueued(handed.Texts, now);
        }
        catch
        {
            _handoff.GiveBack(handed);
            throw;
        }

        if (output is null)
        {
            _handoff.GiveBack(handed);
            return;
        }

        _handoff.Written(handed, output.Queued);
        Execute(output);

        // More waits than the next step could send (a burst): the writer queues it on its own
        // thread, many to a commit, while this loop sends; they follow the texts just written.
        var waiting = _handoff.Waiting;
        if (waiting > peer.SendRoom(now) && _handoff.Take(int.MaxValue) is { } burst)
        {
            _handoff.GiveBack(burst);
        }
        else if (waiting > 0)
        {
            Kick();
        }
    }

    /// <summary>Writes what the session holds in memory (acknowledgements) as the connection ends; a failure loses only marks.</summary>
    private void WriteHeld()
    {
        if (_peer is not { HasHeldWrites: true } peer)
        {
            return;
        }

        try
        {
            foreach (var change in peer.Flush().Events)
            {
                _node.Events.Publish(change);
            }
        }
        catch (StoreException ex)
        {
            // The messages stay marked sent, are sent again on the next connection, and the
            // contact's node, which stores each message once, acknowledges them again.
            _logger.LogWarning("Could not write the acknowledgements of {Contact} as the connection ended: {Reason}", _link.Label, ex.Message);
        }
    }

    /// <summary>
    /// Carries out one step of the session. Its store commands are already made, so its frames go
    /// to the writer; then its events are published; a close ends the actor.
    /// </summary>
    private void Execute(SessionOutput output)
    {
        foreach (var frame in output.Frames)
        {
            Enqueue(frame);
        }

        if (output.Promoted is { } promoted)
        {
            _link.Promote(promoted);
        }

        if (output.ClaimedEndpoint is { } claimed)
        {
            _link.Confirm(claimed);
        }

        if (output.CameOnline)
        {
            var description = _description = new ContactConnection(
                _connection.IsInitiator ? ConnectionDirection.Outbound : ConnectionDirection.Inbound,
                Normalized(_connection.RemoteEndPoint), Normalized(_connection.LocalEndPoint), _node.Options.Time.GetUtcNow());
            Observe(description, output.SeenAt);
            IsOnline = true;
            _handoff = _node.Store.Outbox.Attach(_peer!.Contact, Kick);
            _link.Online(this);
        }

        _node.AnnounceReceived(_peer!.Contact, output.Received);
        foreach (var change in output.Events)
        {
            _node.Events.Publish(change);
        }

        if (output.Close is { } close)
        {
            throw new NodeProtocolException(close.Reason, close.Text);
        }

        if (output.MoreToSend)
        {
            // A full batch: there may be more; come back after what has arrived meanwhile.
            Kick();
        }

        ScheduleWake();
    }

    /// <summary>
    /// Keeps where a contact sees this node, with this side's own facts of the connection (its
    /// local endpoint, where the contact came from, who dialed). Only contacts are witnesses: a
    /// stranger's account costs nothing to make, so strangers could outvote the rule that no
    /// single peer decides (docs/discovery.md, "Observed addresses").
    /// </summary>
    private void Observe(ContactConnection connection, IPEndPoint? seenAt)
    {
        if (seenAt is null || _peer!.Contact.Standing != ContactStanding.Contact
            || connection is not { Local: { } local, Remote: { } remote })
        {
            return;
        }

        _observation = new AddressObservation(
            ObservationSource.Peer, _peer.Contact.Account, remote.Address, local, seenAt, connection.Direction, connection.Since, Live: true);
        _node.Observe(_observation);
    }

    private static IPEndPoint? Normalized(EndPoint? endPoint) =>
        endPoint is IPEndPoint ip ? new IPEndPoint(ObservedEndpoint.Normalize(ip.Address), ip.Port) : null;

    private void ScheduleWake()
    {
        var at = _peer!.WakeAt;

        // A timer may fire a little before its time (it counts whole milliseconds on another
        // clock): the session then still waits for the same moment, and must be woken again, or a
        // refusal's end would never be noticed and its texts would stay unsent.
        var fired = Interlocked.Exchange(ref _wakeFired, 0) == 1;
        if (at == _wakeAt && !fired)
        {
            return;
        }

        _wakeTimer?.Dispose();
        _wakeTimer = null;
        _wakeAt = at;
        if (at is { } wake)
        {
            var delay = wake - _node.Options.Time.GetUtcNow();
            var rounded = delay > TimeSpan.Zero ? TimeSpan.FromMilliseconds(Math.Ceiling(delay.TotalMilliseconds) + 1) : TimeSpan.Zero;
            _wakeTimer = _node.Options.Time.CreateTimer(_ => Wake(), null, rounded, Timeout.InfiniteTimeSpan);
        }
    }

    private void Wake()
    {
        Volatile.Write(ref _wakeFired, 1);
        Kick();
    }

    private void Enqueue(byte[] frame)
    {
        if (Interlocked.Increment(ref _writeBacklog) > MaxWriteBacklog)
        {
            throw new NodeProtocolException(CloseReason.ProtocolViolation, "the peer stopped reading");
        }

        _outgoing.Writer.TryWrite(frame);
    }
}
