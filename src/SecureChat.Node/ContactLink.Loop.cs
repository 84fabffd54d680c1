using Microsoft.Extensions.Logging;
using SecureChat.Net;
using SecureChat.Protocol.Channel;
using SecureChat.Storage;

namespace SecureChat.Node;

/// <summary>The loop that owns the link's state: its messages, the connection it holds, and the stop.</summary>
internal sealed partial class ContactLink
{
    // Everything below is the loop's alone.
    private Contact _contact;

    /// <summary>The connection's session; null while there is none. Until it starts it is also <see cref="_waitingToStart"/>.</summary>
    private LinkSession? _current;

    /// <summary>A newer session that waits for the one it replaced to end (and save its ratchet state) before it starts.</summary>
    private LinkSession? _waitingToStart;

    /// <summary>Child tasks started and not yet reported back; the loop ends only when none is left.</summary>
    private int _children;
    private bool _stopping;
    private ITimer? _timer;

    private async Task RunAsync()
    {
        var reader = _inbox.Reader;
        try
        {
            while (!(_stopping && _children == 0) && await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
            {
                while (!(_stopping && _children == 0) && reader.TryRead(out var message))
                {
                    Handle(message);
                }

                Schedule(_node.Options.Time.GetUtcNow());
                Publish();
            }
        }
        finally
        {
            // From here nothing more is taken: a connection handed over late (an attach that raced
            // the stop) is closed, never left open with no one behind it.
            _inbox.Writer.TryComplete();
            _timer?.Dispose();
            while (reader.TryRead(out var late))
            {
                switch (late)
                {
                    case AttachMessage attach:
                        await CloseQuietlyAsync(attach.Connection, "the node stopped").ConfigureAwait(false);
                        attach.Taken.TrySetResult();
                        break;
                    case DialOutcome { Connection: { } dialed }:
                        // Only after a failure of the loop itself can a dial's outcome still be here.
                        await CloseQuietlyAsync(dialed, "the node stopped").ConfigureAwait(false);
                        break;
                }
            }

            _stop.Dispose();
            Publish();
        }
    }

    private void Handle(LinkMessage message)
    {
        var now = _node.Options.Time.GetUtcNow();
        if (message is ChildOutcome)
        {
            _children--;
        }

        switch (message)
        {
            case StartDialingMessage:
                _dialingEnabled = true;
                break;
            case KickMessage:
                OnKick();
                break;
            case HintMessage hint:
                OnHint(hint.EndPoint);
                break;
            case LocateSoonMessage soon:
                OnLocateSoon(soon.Quick);
                break;
            case ConfirmMessage confirm:
                OnConfirm(confirm.Endpoint, now);
                break;
            case AttachMessage attach:
                try
                {
                    Attach(attach.Connection, attach.Contact);
                }
                finally
                {
                    attach.Taken.TrySetResult();
                }

                break;
            case PromoteMessage promote:
                _contact = promote.Contact;
                _dialingEnabled = true;
                break;
            case OnlineMessage online:
                OnOnline(online.Session);
                break;
            case EndedMessage ended:
                OnEnded(ended.Session, now);
                break;
            case StopMessage stop:
                OnStop(stop.Reason, stop.Text);
                break;
            case ReplacedOutcome:
                StartWaitingSession();
                break;
            case DialOutcome dialed:
                OnDialed(dialed, now);
                break;
            case LocateOutcome located:
                OnLocated(located.Found, now);
                break;
            case ConfirmOutcome confirmed:
                OnConfirmed(confirmed.Pinned);
                break;
        }
    }

    /// <summary>
    /// Takes a connection (see <see cref="AttachAsync"/>). A session that replaces a running one
    /// starts only once that one has ended, so it loads the ratchet state the old one saved last.
    /// </summary>
    private void Attach(SecureConnection connection, Contact contact)
    {
        if (_stopping)
        {
            CloseInChild(connection, "the node stopped");
            return;
        }

        _contact = contact;
        var old = _current is { Completion.IsCompleted: false } running ? running : null;
        if (old is not null && old.Connection.IsInitiator != connection.IsInitiator && !PrefersNew(connection))
        {
            _logger.LogDebug("Dropping a crossing connection with {Contact}", Label);
            CloseInChild(connection, "a connection already exists");
            return;
        }

        // A connection is up: a kick meanwhile is for it, not for the dialer.
        _wakePending = false;
        var session = new LinkSession(_node, this, connection, contact, _logger);
        _current = session;
        if (old is null)
        {
            session.Start();
        }
        else if (old == _waitingToStart)
        {
            // The one it replaces never started: it is closed instead, and this one waits in its place.
            _waitingToStart = session;
            CloseInChild(old.Connection, "replaced by a newer connection");
        }
        else
        {
            _waitingToStart = session;
            Spawn(async () =>
            {
                await old.StopAsync(CloseReason.Normal, "replaced by a newer connection").ConfigureAwait(false);
                return new ReplacedOutcome();
            }, new ReplacedOutcome(), CancellationToken.None);
        }
    }

    private void StartWaitingSession()
    {
        if (_waitingToStart is not { } next)
        {
            return;
        }

        _waitingToStart = null;
        if (_stopping || _current != next)
        {
            CloseInChild(next.Connection, _stopping ? "the node stopped" : "replaced by a newer connection");
            if (_current == next)
            {
                _current = null;
            }

            return;
        }

        next.Start();
    }

    private void OnOnline(LinkSession session)
    {
        if (session != _current)
        {
            return;
        }

        _redialDelay = _node.Options.MinRedialDelay;
        _locateDelay = TimeSpan.Zero;
        _nextLocate = DateTimeOffset.MinValue;
        _logger.LogInformation("Connected to {Contact} at {Endpoint}", Label, session.RemoteEndpoint);
        _node.Events.Publish(new PresenceChanged(_contact.Account, true, session.RemoteEndpoint));
    }

    private void OnEnded(LinkSession session, DateTimeOffset now)
    {
        if (session != _current)
        {
            return;
        }

        _current = null;
        if (session.IsOnline)
        {
            _node.Events.Publish(new PresenceChanged(_contact.Account, false, null, session.Connection.PeerClose));
        }

        Redial(session.IsOnline, now);
    }

    private void OnStop(CloseReason reason, string text)
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        _stop.Cancel();
        if (_current is { } current && current != _waitingToStart)
        {
            // A session waiting to start is closed when the one it replaces has ended.
            Spawn(async () =>
            {
                await current.StopAsync(reason, text).ConfigureAwait(false);
                return new ClosedOutcome();
            }, new ClosedOutcome(), CancellationToken.None);
        }
    }

    private bool PrefersNew(SecureConnection connection)
    {
        var self = _node.Identity.Account.PublicKey;
        var peer = Account.PublicKey;
        var selfFirst = self.SequenceCompareTo(peer) < 0;

        // Keep the connection dialed by the account that sorts first.
        return connection.IsInitiator == selfFirst;
    }

    private void CloseInChild(SecureConnection connection, string text) =>
        Spawn(async () =>
        {
            await CloseQuietlyAsync(connection, text).ConfigureAwait(false);
            return new ClosedOutcome();
        }, new ClosedOutcome(), CancellationToken.None);

    /// <summary>
    /// Runs <paramref name="work"/> beside the loop; its outcome (or <paramref name="fallback"/>
    /// when it was cancelled or failed) comes back as a message. The loop counts what is out, so
    /// it ends only once every outcome is in, and a late connection is never lost.
    /// </summary>
    private void Spawn(Func<Task<ChildOutcome>> work, ChildOutcome fallback, CancellationToken cancellationToken)
    {
        _children++;
        _ = RunChildAsync(work, fallback, cancellationToken);
    }

    private async Task RunChildAsync(Func<Task<ChildOutcome>> work, ChildOutcome fallback, CancellationToken cancellationToken)
    {
        var outcome = fallback;
        try
        {
            await Task.Yield();
            outcome = await work().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped while dialing or looking up.
        }
        catch (Exception ex) when (ex is StoreException or ObjectDisposedException or OperationCanceledException)
        {
            _logger.LogWarning("A task of the link to {Contact} failed: {Reason}", Label, ex.Message);
        }
        finally
        {
            // The channel is completed only after every outcome is in, so this is never refused.
            _inbox.Writer.TryWrite(outcome);
        }
    }

    /// <summary>Shows other threads the state as it is now.</summary>
    private void Publish()
    {
        var dueAt = _stopping || !_dialingEnabled || _current is not null || _phase != DialPhase.Idle ? null : _dialDueAt;
        var next = new LinkState(_contact, _current, dueAt, _phase != DialPhase.Idle);
        if (next != _state)
        {
            _state = next;
        }
    }

    private void ArmTimer(TimeSpan? delay)
    {
        if (delay is not { } wait)
        {
            _timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            return;
        }

        // A timer may fire a little early (it counts whole milliseconds on another clock): the
        // loop then finds nothing due yet and arms it again for what is left.
        _timer ??= _node.Options.Time.CreateTimer(_ => Post(new WakeMessage()), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _timer.Change(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
    }
}
