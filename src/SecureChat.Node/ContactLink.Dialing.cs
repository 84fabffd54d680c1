using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using SecureChat.Net;
using SecureChat.Protocol.Channel;
using SecureChat.Storage;

namespace SecureChat.Node;

/// <summary>
/// Dialing, owned by the loop: while there is no connection, dials the contact's known endpoints
/// and any hinted ones, raced (<see cref="HappyEyeballs"/>); when none answers (or none is known)
/// and the node runs a DHT, looks the contact up and races what it finds. After a failure waits
/// (250 ms doubling to 30 s, with jitter) or until something is queued for the contact or a hint
/// arrives. A connection that ends without ever coming online (refused before the hellos, or a
/// hello that failed) counts as a failure too, so a peer that refuses this node is not redialed in
/// a tight loop. Lookups back off on their own, from 2 s to 15 minutes, and start again from
/// nothing after each connection.
/// </summary>
internal sealed partial class ContactLink
{
    /// <summary>
    /// The longest wait between two lookups of an unreachable contact. A contact that comes online
    /// looks this node up at once, so the long wait costs little time, and a node with many offline
    /// contacts does not keep the DHT busy (1,000 of them: about one lookup a second).
    /// </summary>
    private static readonly TimeSpan MaxLocateDelay = TimeSpan.FromMinutes(15);

    /// <summary>A message queued for an unreachable contact brings its next lookup forward to this long after the last one.</summary>
    private static readonly TimeSpan MinLocateAfterKick = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The wait between the quick lookups that follow this node's own publish for the contact. Two
    /// nodes that start together publish at about the same moment, and the lookup one makes right
    /// after its own publish can still miss the other's record by a fraction of a second; a second
    /// and a third lookup a moment later find it, where the backoff would wait 2, then 6 s.
    /// </summary>
    private static readonly TimeSpan QuickLocateDelay = TimeSpan.FromMilliseconds(500);

    /// <summary>How many quick lookups follow the one made at once after this node published its record for the contact.</summary>
    internal const int QuickLocatesAfterPublish = 2;

    /// <summary>
    /// How long a claimed address that did not lead to the contact is not tried again: a peer that
    /// reconnects over and over cannot make this node dial the same place each time.
    /// </summary>
    private static readonly TimeSpan ReconfirmAfter = TimeSpan.FromMinutes(10);

    /// <summary>Hints kept at most (the newest first); an older one goes when a ninth comes.</summary>
    private const int MaxHints = 8;

    /// <summary>Failed claims remembered at most; the memory starts afresh beyond.</summary>
    private const int MaxClaimsTried = 16;

    private readonly List<IPEndPoint> _hints = [];
    private readonly Dictionary<PeerEndpoint, DateTimeOffset> _claimsTried = [];
    private bool _confirming;

    /// <summary>Set by <see cref="StartDialing"/> (or a promotion): a stranger's link only answers.</summary>
    private bool _dialingEnabled;
    private DialPhase _phase;

    /// <summary>When the next round of dials is due; null while there is nothing to dial until an address comes.</summary>
    private DateTimeOffset? _dialDueAt = DateTimeOffset.MinValue;
    private TimeSpan _redialDelay;

    /// <summary>Something waits to be sent: the backoff starts again from its shortest wait.</summary>
    private bool _urgent;

    /// <summary>A kick or a hint came while a round was under way: the next round follows it at once.</summary>
    private bool _wakePending;

    /// <summary>The endpoints of the round under way (a lookup's results that were just tried are not dialed twice).</summary>
    private List<(PeerEndpoint Endpoint, bool Hinted)> _roundKnown = [];
    private DateTimeOffset _nextLocate = DateTimeOffset.MinValue;
    private DateTimeOffset _lastLocate = DateTimeOffset.MinValue;
    private TimeSpan _locateDelay = TimeSpan.Zero;

    /// <summary>Lookups still to make <see cref="QuickLocateDelay"/> apart, before the backoff takes over again.</summary>
    private int _quickLocates;

    /// <summary>
    /// Lookups still to make that take the first copy of the contact's record any DHT node hands
    /// over (<see cref="Discovery.IContactLocator.LocateAsync"/>): the one made at once and the
    /// quick ones after a locate-soon. A full lookup waits out every node near the key that went
    /// away, seconds each; the ones after these are full, so an older copy on some node cannot
    /// keep the link from the newest.
    /// </summary>
    private int _firstCopyLocates;

    /// <summary>Where a round of dials stands; each step after the first waits for a child's outcome.</summary>
    private enum DialPhase
    {
        Idle,
        DialingKnown,
        Locating,
        DialingFound,
    }

    private void OnKick()
    {
        // Something to send: look the contact up again soon, however far the lookups had backed off.
        var soon = _lastLocate + MinLocateAfterKick;
        if (_nextLocate > soon)
        {
            _nextLocate = soon;
        }

        WakeDialer();
    }

    private void OnHint(IPEndPoint endPoint)
    {
        if (!_hints.Contains(endPoint))
        {
            _hints.Insert(0, endPoint);
            if (_hints.Count > MaxHints)
            {
                _hints.RemoveAt(_hints.Count - 1);
            }
        }

        WakeDialer();
    }

    /// <summary>
    /// A lookup is worth making now: the locator just became ready (<paramref name="quick"/> 0), or
    /// this node just published its record for the contact (a few quick ones follow, see
    /// <see cref="QuickLocateDelay"/>). Only these moments are fast: the backoff between lookups is
    /// not reset, so a node with many offline contacts goes back to its long waits right after.
    /// </summary>
    private void OnLocateSoon(int quick)
    {
        if (_current is not null || _stopping || !_dialingEnabled)
        {
            return;
        }

        _quickLocates = Math.Max(_quickLocates, quick);
        _firstCopyLocates = Math.Max(_firstCopyLocates, quick + 1);
        _nextLocate = DateTimeOffset.MinValue;
        if (_phase == DialPhase.Idle)
        {
            _dialDueAt = DateTimeOffset.MinValue;
        }
        else if (_phase != DialPhase.Locating)
        {
            // A lookup under way has already asked; the quick ones after it are scheduled by its outcome.
            _wakePending = true;
        }
    }

    /// <summary>Dials without waiting out the backoff, unless a connection is up (a kick is then for it).</summary>
    private void WakeDialer()
    {
        if (_current is not null)
        {
            return;
        }

        _urgent = true;
        if (_phase == DialPhase.Idle)
        {
            _dialDueAt = DateTimeOffset.MinValue;
        }
        else
        {
            _wakePending = true;
        }
    }

    /// <summary>
    /// A session ended. One that had been online is redialed after a short random pause (two sides
    /// that lost the connection together do not redial in step); one that never came online is a
    /// failed dial, and waits out the backoff.
    /// </summary>
    private void Redial(bool wasOnline, DateTimeOffset now)
    {
        if (wasOnline)
        {
            _dialDueAt = now + Jitter(TimeSpan.FromMilliseconds(100));
            return;
        }

        _dialDueAt = now + _redialDelay + Jitter(_redialDelay / 4);
        _redialDelay = Longer(_redialDelay);
    }

    /// <summary>Starts a round of dials when one is due, and arms the timer for the next.</summary>
    private void Schedule(DateTimeOffset now)
    {
        if (_stopping || !_dialingEnabled || _current is not null || _phase != DialPhase.Idle)
        {
            ArmTimer(null);
            return;
        }

        if (_dialDueAt is { } due && due <= now)
        {
            BeginRound(now);
        }

        ArmTimer(_phase == DialPhase.Idle && _current is null && _dialDueAt is { } next ? next - now : null);
    }

    private void BeginRound(DateTimeOffset now)
    {
        Contact? contact;
        try
        {
            contact = _node.Store.Contacts.Find(Account);
        }
        catch (StoreException ex)
        {
            _logger.LogWarning("Could not read the contact {Contact} to dial it: {Reason}", Label, ex.Message);
            Redial(wasOnline: false, now);
            return;
        }

        if (contact is null)
        {
            // Removed: nothing to dial until someone adds it again (and a new link with it).
            _dialDueAt = null;
            return;
        }

        _contact = contact;
        _roundKnown = KnownEndpoints(contact);
        if (_roundKnown.Count > 0)
        {
            _phase = DialPhase.DialingKnown;
            SpawnDial(_roundKnown);
            return;
        }

        AfterKnown(now);
    }

    /// <summary>The known endpoints did not answer (or there were none): look the contact up if a lookup is due.</summary>
    private void AfterKnown(DateTimeOffset now)
    {
        if (_current is not null || _stopping)
        {
            // Connected meanwhile (the contact dialed in while the dial ran).
            _phase = DialPhase.Idle;
            return;
        }

        // Before the DHT has joined a lookup can find nothing: the node waits until it is told the DHT is ready.
        if (_node.LocateReady && now >= _nextLocate)
        {
            _phase = DialPhase.Locating;
            var first = _firstCopyLocates > 0;
            _firstCopyLocates = Math.Max(0, _firstCopyLocates - 1);
            Spawn(async () => new LocateOutcome(await _node.LocateAsync(Account, first, _stop.Token).ConfigureAwait(false)), new LocateOutcome([]), _stop.Token);
            return;
        }

        EndRound(now, found: 0);
    }

    private void OnLocated(IReadOnlyList<IPEndPoint> found, DateTimeOffset now)
    {
        _lastLocate = now;
        if (_quickLocates > 0)
        {
            // Just after this node's publish: the next lookup follows quickly, and the backoff stays where it was.
            _quickLocates--;
            _nextLocate = now + QuickLocateDelay;
        }
        else
        {
            _locateDelay = TimeSpan.FromTicks(Math.Clamp(_locateDelay.Ticks * 2, TimeSpan.FromSeconds(2).Ticks, MaxLocateDelay.Ticks));
            _nextLocate = now + _locateDelay;
        }

        if (_current is not null || _stopping)
        {
            _phase = DialPhase.Idle;
            return;
        }

        List<(PeerEndpoint Endpoint, bool Hinted)> fresh = [.. found
            .Select(e => (new PeerEndpoint(e.Address.ToString(), e.Port), true))
            .Where(e => !_roundKnown.Exists(t => t.Endpoint == e.Item1))];
        if (fresh.Count > 0)
        {
            _phase = DialPhase.DialingFound;
            SpawnDial(fresh);
            return;
        }

        EndRound(now, found: 0);
    }

    private void OnDialed(DialOutcome dialed, DateTimeOffset now)
    {
        var phase = _phase;
        if (dialed.Losers is { IsCompleted: false } losers)
        {
            // The attempts that lost the race are closed beside the loop, which ends only once they have.
            Spawn(async () =>
            {
                await losers.ConfigureAwait(false);
                return new ClosedOutcome();
            }, new ClosedOutcome(), CancellationToken.None);
        }

        if (dialed.Connection is { } connection)
        {
            _phase = DialPhase.Idle;
            Attach(connection, dialed.Pinned!);
        }
        else if (phase == DialPhase.DialingKnown)
        {
            AfterKnown(now);
        }
        else
        {
            EndRound(now, found: 1);
        }
    }

    /// <summary>A round found no connection: the next waits the backoff, or the next lookup, whichever comes first.</summary>
    private void EndRound(DateTimeOffset now, int found)
    {
        _phase = DialPhase.Idle;
        if (_current is not null || _stopping)
        {
            return;
        }

        if (_urgent)
        {
            _redialDelay = _node.Options.MinRedialDelay;
            _urgent = false;
        }

        var delay = _redialDelay;
        _redialDelay = Longer(_redialDelay);
        if (_wakePending)
        {
            _wakePending = false;
            _dialDueAt = now;
            return;
        }

        var known = _roundKnown.Count;
        if (known == 0 && found == 0 && !_node.LocateReady)
        {
            // Nothing to dial and no way to look (yet): wait for an address (typed, or from a peer
            // that dials in), or for the DHT to join, which wakes the link (OnLocateSoon).
            _dialDueAt = null;
            return;
        }

        var wait = delay;
        if (_node.LocateReady)
        {
            var untilLocate = _nextLocate - now;
            wait = known == 0 ? untilLocate : TimeSpan.FromTicks(Math.Min(wait.Ticks, untilLocate.Ticks));
        }

        // The jitter is a quarter of this wait, not of the redial backoff: a quick lookup half a
        // second away must not be put off by seconds because many rounds came before it.
        wait = TimeSpan.FromTicks(Math.Max(wait.Ticks, TimeSpan.FromMilliseconds(50).Ticks));
        _dialDueAt = now + wait + Jitter(wait / 4);
    }

    /// <summary>The stored endpoints and the pending hints (which are used once), hints first.</summary>
    private List<(PeerEndpoint Endpoint, bool Hinted)> KnownEndpoints(Contact contact)
    {
        var result = new List<(PeerEndpoint, bool)>();
        foreach (var hint in _hints)
        {
            result.Add((new PeerEndpoint(hint.Address.ToString(), hint.Port), true));
        }

        _hints.Clear();
        foreach (var text in contact.Endpoints)
        {
            if (PeerEndpoint.TryParse(text, out var endpoint, out _) && !result.Exists(r => r.Item1 == endpoint))
            {
                result.Add((endpoint, false));
            }
        }

        return result;
    }

    private void SpawnDial(List<(PeerEndpoint Endpoint, bool Hinted)> endpoints)
    {
        var contact = _contact;
        Spawn(() => DialAsync(endpoints, contact, _stop.Token), new DialOutcome(null, null), _stop.Token);
    }

    /// <summary>
    /// A child: races dials to the endpoints (<see cref="HappyEyeballs"/>: IPv6 and IPv4 taking
    /// turns, the next starting 250 ms after the one before or when it fails) and pins the first
    /// peer that answers as this contact. Each attempt is the whole dial, key check included, so an
    /// address where another key answers loses and the others go on.
    /// </summary>
    private async Task<ChildOutcome> DialAsync(List<(PeerEndpoint Endpoint, bool Hinted)> endpoints, Contact contact, CancellationToken cancellationToken)
    {
        // An address from a beacon or a lookup must lead to this very account, on its pinned device; a stored one is judged by its pin.
        var knownKey = contact.DecodeCertificate()?.DeviceAgreementKey.ToArray() ?? [];
        var ordered = HappyEyeballs.Order(endpoints, c => c.Endpoint, c => c.Hinted ? 0 : 1);
        var race = await HappyEyeballs.RaceAsync(
            ordered,
            (candidate, token) =>
            {
                var (endpoint, hinted) = candidate;
                var verify = hinted ? PeerTrust.ForDiscovered(_node.Store.Contacts, endpoint, Account) : PeerTrust.ForDial(_node.Store.Contacts, endpoint, null);
                return _dialer.DialAsync(endpoint, _node.Identity, knownKey, verify, _node.Options.Channel, token);
            },
            (candidate, failure) =>
            {
                _logger.LogDebug("Could not reach {Contact} at {Endpoint}: {Reason}", Label, candidate.Endpoint, failure.Message);
                if (failure is ChannelException { Error: ChannelError.PeerKeyMismatch } && !candidate.Hinted)
                {
                    _node.ReportKeyChange(contact.Account, candidate.Endpoint.ToString(), failure.Message);
                }
            },
            _node.Options.Time,
            cancellationToken).ConfigureAwait(false);

        if (race.Connection is not { } connection)
        {
            return new DialOutcome(null, null);
        }

        try
        {
            return new DialOutcome(connection, _node.PinPeer(connection, race.Winner.Endpoint.ToString()), race.Losers);
        }
        catch (StoreException ex)
        {
            // The store cannot record the meeting (a full disk): drop the connection and
            // keep dialing with backoff, so the link comes back once the store can write.
            _logger.LogWarning("Could not take the connection to {Contact}: {Reason}", Label, ex.Message);
            await CloseQuietlyAsync(connection, "the node could not write to its store").ConfigureAwait(false);
            return new DialOutcome(null, null, race.Losers);
        }
    }

    private void OnConfirm(PeerEndpoint endpoint, DateTimeOffset now)
    {
        if (_contact.Endpoints.Contains(endpoint.ToString(), StringComparer.OrdinalIgnoreCase)
            || _confirming || _stopping
            || (_claimsTried.TryGetValue(endpoint, out var tried) && now - tried < ReconfirmAfter))
        {
            return;
        }

        if (_claimsTried.Count >= MaxClaimsTried)
        {
            _claimsTried.Clear();
        }

        _claimsTried[endpoint] = now;
        _confirming = true;
        Spawn(() => ConfirmAsync(endpoint, _stop.Token), new ConfirmOutcome(null), _stop.Token);
    }

    private void OnConfirmed(Contact? pinned)
    {
        _confirming = false;
        if (pinned is not null)
        {
            _contact = pinned;
        }
    }

    /// <summary>
    /// A child, the check of a claimed address: an XX handshake to it, abandoned after its second
    /// message. That message carries the responder's device certificate under a key only the
    /// holder of the certified device key can compute, so it proves who listens there; leaving
    /// before the third means this node's identity is never sent, and the contact's node never
    /// takes the half-made connection for a new one (no running connection is replaced; it notes
    /// an interrupted handshake). The verdict is the one for a discovered address
    /// (<see cref="PeerTrust.ForDiscovered"/>).
    /// </summary>
    private async Task<ChildOutcome> ConfirmAsync(PeerEndpoint endpoint, CancellationToken cancellationToken)
    {
        var judge = PeerTrust.ForDiscovered(_node.Store.Contacts, endpoint, Account);
        HandshakePayload? answered = null;
        PeerRejection? verdict = null;
        try
        {
            var connection = await _dialer.DialAsync(
                endpoint,
                _node.Identity,
                ReadOnlyMemory<byte>.Empty,
                payload =>
                {
                    answered = payload;
                    verdict = judge(payload);
                    return new PeerRejection(ChannelError.PeerKeyMismatch, "the address was checked", "this node only checked who listens here");
                },
                _node.Options.Channel,
                cancellationToken).ConfigureAwait(false);
            await connection.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ChannelException or NetworkException && answered is null)
        {
            _logger.LogInformation("{Contact} said it listens at {Endpoint}, but nothing there answered as it: the address is not kept ({Reason})", Label, endpoint, ex.Message);
            return new ConfirmOutcome(null);
        }
        catch (ChannelException)
        {
            // The check's own refusal after the second message: the answer is in hand.
        }

        if (answered is null || verdict is not null)
        {
            _logger.LogInformation("{Contact} said it listens at {Endpoint}, but a dial there did not reach its key: the address is not kept", Label, endpoint);
            return new ConfirmOutcome(null);
        }

        try
        {
            var pinned = _node.Store.Contacts.Pin(answered.Certificate, answered.DisplayName, endpoint.ToString(), _node.Options.Time.GetUtcNow());
            _logger.LogInformation("{Contact} is reachable at {Endpoint}, as its hello said: the address is kept", Label, endpoint);
            return new ConfirmOutcome(pinned);
        }
        catch (StoreException ex)
        {
            _logger.LogWarning("Could not record where {Contact} listens: {Reason}", Label, ex.Message);
            return new ConfirmOutcome(null);
        }
    }

    private TimeSpan Longer(TimeSpan delay) => TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _node.Options.MaxRedialDelay.Ticks));

    private static TimeSpan Jitter(TimeSpan upTo) =>
        TimeSpan.FromTicks(RandomNumberGenerator.GetInt32((int)Math.Clamp(upTo.Ticks, 1, int.MaxValue)));
}
