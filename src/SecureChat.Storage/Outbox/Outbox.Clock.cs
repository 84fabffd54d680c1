using Microsoft.Data.Sqlite;
using SecureChat.Protocol.Messages;

namespace SecureChat.Storage;

/// <summary>
/// The Lamport clock of each conversation (docs/protocol.md section 6): it starts, the first time a
/// conversation needs it in this process, from the highest value stored there within the bound,
/// ticks once for everything this node writes, and moves past every in-bounds value the peer sends.
/// </summary>
public sealed partial class Outbox
{
    /// <summary>Per contact account: the last value given or witnessed. Guarded by <see cref="_clockGate"/>, which is never held while waiting for the store.</summary>
    private readonly Dictionary<string, long> _clocks = new(StringComparer.Ordinal);
    private readonly Lock _clockGate = new();

    /// <summary>
    /// The next Lamport value for something this node writes in the conversation (an envelope that
    /// is not stored: a receipt, an acknowledgement). The clock stops at
    /// <see cref="NodeWire.MaxLamport"/> (unreachable in practice: see <see cref="NodeWire.LamportWindow"/>):
    /// envelopes then share that value, and the order of a conversation, kept by the store, does
    /// not depend on it.
    /// </summary>
    public long Tick(Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        EnsureClock(contact);
        lock (_clockGate)
        {
            return TickClock(contact.Account);
        }
    }

    /// <summary>
    /// Moves the clock past a value seen from the peer, when it is within bounds
    /// (<see cref="NodeWire.IsLamportInBounds"/>); otherwise leaves the clock as it is and returns
    /// the highest value it would have taken, for the refusal's sentence.
    /// </summary>
    public bool TryWitness(Contact contact, ulong lamport, out ulong limit)
    {
        ArgumentNullException.ThrowIfNull(contact);
        EnsureClock(contact);
        lock (_clockGate)
        {
            var clock = _clocks[contact.Account];
            limit = Math.Min(NodeWire.MaxLamport, (ulong)clock + NodeWire.LamportWindow);
            if (!NodeWire.IsLamportInBounds(lamport, clock))
            {
                return false;
            }

            _clocks[contact.Account] = Math.Max(clock, (long)lamport);
            return true;
        }
    }

    /// <summary>
    /// The highest Lamport counter stored in a conversation (0 for none), among the values within
    /// <see cref="NodeWire.MaxLamport"/>. Versions before the bound stored a peer's value as it came
    /// (up to 2^63 - 1), which froze the conversation's clock; such a row is passed over, so the
    /// clock goes on from the sane ones.
    /// </summary>
    public long LastLamport(Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        var contactId = _store.Contacts.IdOf(contact);
        return _store.Run(connection => StoredLastLamport(connection, contactId));
    }

    private static long StoredLastLamport(SqliteConnection connection, long contactId)
    {
        using var command = connection.CreateCommand();
        command.CommandText = OutboxSql.LastLamport;
        command.Parameters.AddWithValue("$contact", contactId);
        command.Parameters.AddWithValue("$max", (long)NodeWire.MaxLamport);
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>Starts the conversation's clock from the store, unless it runs already. The store is read before the clock's lock is taken.</summary>
    private void EnsureClock(Contact contact)
    {
        lock (_clockGate)
        {
            if (_clocks.ContainsKey(contact.Account))
            {
                return;
            }
        }

        var stored = LastLamport(contact);
        lock (_clockGate)
        {
            _clocks.TryAdd(contact.Account, stored);
        }
    }

    /// <summary>The next tick for a text being queued, under the store's lock (the lock order is store, then clock).</summary>
    private long TickLocked(SqliteConnection connection, string account, long contactId)
    {
        lock (_clockGate)
        {
            if (!_clocks.ContainsKey(account))
            {
                _clocks[account] = StoredLastLamport(connection, contactId);
            }

            return TickClock(account);
        }
    }

    /// <summary>A text queued with its own Lamport value: the clock moves past it, so what comes next sorts after it.</summary>
    private long WitnessQueued(SqliteConnection connection, string account, long contactId, long lamport)
    {
        lock (_clockGate)
        {
            var clock = _clocks.TryGetValue(account, out var running) ? running : StoredLastLamport(connection, contactId);
            _clocks[account] = Math.Max(clock, lamport);
            return lamport;
        }
    }

    private long TickClock(string account)
    {
        var clock = _clocks[account];
        if (clock < (long)NodeWire.MaxLamport)
        {
            clock++;
        }

        _clocks[account] = clock;
        return clock;
    }

    /// <summary>A conversation was removed or emptied: its clock starts again from the store.</summary>
    private void ForgetClock(string account)
    {
        lock (_clockGate)
        {
            _clocks.Remove(account);
        }
    }
}
