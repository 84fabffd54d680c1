using System.Net;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;
using SecureChat.Net;
using SecureChat.Net.PortMapping;
using SecureChat.Protocol.Channel;

namespace SecureChat.Node;

/// <summary>
/// Happy Eyeballs (RFC 8305) for dialing a peer that may be at several addresses: the order in
/// which they are tried, and the race between them. Trying addresses one by one, each until it
/// fails, lets one unreachable address (a private one from another network, a port a firewall
/// drops, an IPv6 address on a host whose IPv6 is broken) cost a full connect timeout before the
/// next is tried; racing them costs at most <see cref="AttemptDelay"/> per address that does not
/// answer. An attempt is the whole dial (TCP, the Noise handshake and the check of the key that
/// answered), so an address where the wrong key answers loses like one where nothing does.
/// </summary>
internal static class HappyEyeballs
{
    /// <summary>
    /// How long an attempt has before the next one starts beside it: RFC 8305 section 5's
    /// "Connection Attempt Delay", at the 250 ms section 8 recommends. An attempt that fails
    /// sooner starts the next at once.
    /// </summary>
    public static readonly TimeSpan AttemptDelay = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Attempts in flight at most. A black-holed address holds its place until the connect
    /// timeout; four of them (a second apart at most) mean a contact with many dead addresses
    /// costs a bounded number of sockets, while the addresses after them still start as soon as
    /// one of the four gives up.
    /// </summary>
    public const int MaxInFlight = 4;

    /// <summary>
    /// The order in which to try <paramref name="candidates"/> (RFC 8305 section 4): first by the
    /// caller's rank (a lower one first), then public addresses before private ones, then as
    /// given; the two address families then alternate, IPv6 first (the section's "First Address
    /// Family Count" of one). A host name counts with IPv4 and as public: its own resolution picks
    /// an address when it is dialed.
    /// </summary>
    public static List<T> Order<T>(IEnumerable<T> candidates, Func<T, PeerEndpoint> endpointOf, Func<T, int> rankOf)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(endpointOf);
        ArgumentNullException.ThrowIfNull(rankOf);
        var sorted = candidates
            .Select((candidate, index) => (Candidate: candidate, Index: index, Address: AddressOf(endpointOf(candidate))))
            .OrderBy(c => rankOf(c.Candidate))
            .ThenBy(c => c.Address is { } address && !ExternalAddressPolicy.IsPublic(address) ? 1 : 0)
            .ThenBy(c => c.Index)
            .ToList();
        var v6 = new Queue<T>(sorted.Where(c => c.Address?.AddressFamily == AddressFamily.InterNetworkV6).Select(c => c.Candidate));
        var other = new Queue<T>(sorted.Where(c => c.Address?.AddressFamily != AddressFamily.InterNetworkV6).Select(c => c.Candidate));
        var ordered = new List<T>(sorted.Count);
        while (v6.Count > 0 || other.Count > 0)
        {
            if (v6.TryDequeue(out var six))
            {
                ordered.Add(six);
            }

            if (other.TryDequeue(out var four))
            {
                ordered.Add(four);
            }
        }

        return ordered;
    }

    /// <summary>
    /// Races <paramref name="attempt"/> over <paramref name="ordered"/>: the first starts at once,
    /// each next one <see cref="AttemptDelay"/> after the one before (measured on
    /// <paramref name="time"/>) or as soon as an attempt fails, with at most
    /// <see cref="MaxInFlight"/> under way. The first connection made wins and the others are
    /// cancelled; one that finishes anyway is closed (see <see cref="RaceOutcome{T}.Losers"/>).
    /// <paramref name="onFailure"/> hears each attempt that failed before a winner was found
    /// (a <see cref="ChannelException"/> or <see cref="NetworkException"/>). Any other exception
    /// of an attempt ends the race and is rethrown once the attempts under way have ended; so is
    /// the cancellation of <paramref name="cancellationToken"/> when no attempt won.
    /// </summary>
    public static async Task<RaceOutcome<T>> RaceAsync<T>(
        IReadOnlyList<T> ordered,
        Func<T, CancellationToken, Task<SecureConnection>> attempt,
        Action<T, Exception>? onFailure,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ordered);
        ArgumentNullException.ThrowIfNull(attempt);
        ArgumentNullException.ThrowIfNull(time);
        var race = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var running = new List<Task<Attempt<T>>>();
        var failures = new List<(T Candidate, Exception Failure)>();
        var next = 0;
        Task? stagger = null;
        Attempt<T>? won = null;
        Exception? fatal = null;

        void StartNext()
        {
            // The stagger's timer is set before the attempt starts, so the next one is due exactly
            // one delay after this one on the clock.
            stagger = next + 1 < ordered.Count ? Task.Delay(AttemptDelay, time, race.Token) : null;
            running.Add(RunAsync(ordered[next++], attempt, race.Token));
        }

        try
        {
            if (ordered.Count > 0)
            {
                StartNext();
            }

            while (running.Count > 0)
            {
                var canStart = stagger is not null && running.Count < MaxInFlight;
                var done = await Task.WhenAny(canStart ? [.. running, stagger!] : running.Cast<Task>()).ConfigureAwait(false);
                if (done == stagger)
                {
                    StartNext();
                    continue;
                }

                var finished = (Task<Attempt<T>>)done;
                running.Remove(finished);
                var result = await finished.ConfigureAwait(false);
                if (result.Connection is not null)
                {
                    won = result;
                    break;
                }

                if (result.Failure is ChannelException or NetworkException)
                {
                    failures.Add((result.Candidate, result.Failure));
                    onFailure?.Invoke(result.Candidate, result.Failure);
                }
                else if (result.Failure is not null)
                {
                    fatal = result.Failure;
                    break;
                }

                if (next < ordered.Count && !race.IsCancellationRequested)
                {
                    // RFC 8305 section 5: a failed attempt lets the next start without waiting out the delay.
                    StartNext();
                }
            }
        }
        finally
        {
            await race.CancelAsync().ConfigureAwait(false);
        }

        var losers = CloseLosersAsync(running, race);
        if (won is not null)
        {
            return new RaceOutcome<T>(won.Candidate, won.Connection, failures, losers);
        }

        await losers.ConfigureAwait(false);
        if (fatal is not null)
        {
            ExceptionDispatchInfo.Throw(fatal);
        }

        cancellationToken.ThrowIfCancellationRequested();
        return new RaceOutcome<T>(default, null, failures, Task.CompletedTask);
    }

    /// <summary>The address of an endpoint written as one (an IPv4-mapped IPv6 address as IPv4), or null for a host name.</summary>
    public static IPAddress? AddressOf(PeerEndpoint endpoint) =>
        IPAddress.TryParse(endpoint.Host, out var address) ? DualStack.Normalize(address) : null;

    private static async Task<Attempt<T>> RunAsync<T>(T candidate, Func<T, CancellationToken, Task<SecureConnection>> attempt, CancellationToken cancellationToken)
    {
        try
        {
            return new Attempt<T>(candidate, await attempt(candidate, cancellationToken).ConfigureAwait(false), null);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Another attempt won, or the caller gave up: not a failure of this address.
            return new Attempt<T>(candidate, null, null);
        }
        catch (Exception ex)
        {
            return new Attempt<T>(candidate, null, ex);
        }
    }

    /// <summary>
    /// Waits for the cancelled attempts to end, closing any that made a connection all the same
    /// (its handshake finished as the race ended): a connection made is always closed, never
    /// dropped with its socket open.
    /// </summary>
    private static async Task CloseLosersAsync<T>(List<Task<Attempt<T>>> running, CancellationTokenSource race)
    {
        try
        {
            foreach (var loser in running)
            {
                if ((await loser.ConfigureAwait(false)).Connection is { } late)
                {
                    try
                    {
                        await late.CloseAsync(CloseReason.Normal, "another address of this node answered first", CancellationToken.None).ConfigureAwait(false);
                    }
                    catch (ChannelException)
                    {
                        // Already gone.
                    }
                    finally
                    {
                        await late.DisposeAsync().ConfigureAwait(false);
                    }
                }
            }
        }
        finally
        {
            race.Dispose();
        }
    }

    private sealed record Attempt<T>(T Candidate, SecureConnection? Connection, Exception? Failure);
}

/// <summary>
/// How a race of dials ended: the candidate that won and its connection (both default when none
/// did), the failures seen before, and the task that closes the attempts still under way when it
/// ended (it completes once each has ended; a caller that owns children waits for it).
/// </summary>
internal sealed record RaceOutcome<T>(T? Winner, SecureConnection? Connection, IReadOnlyList<(T Candidate, Exception Failure)> Failures, Task Losers);
