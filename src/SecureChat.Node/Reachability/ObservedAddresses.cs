namespace SecureChat.Node.Reachability;

/// <summary>
/// The recent reports of where contacts see this node, one per contact and direction (the newest),
/// at most <see cref="Capacity"/>: a contact that reconnects replaces its own report, and many
/// contacts push out the oldest. A report stays <see cref="AddressObservation.Live"/> while its
/// connection is up; once it ends, it counts from then until <see cref="ReachabilityClassifier.Lifetime"/>.
/// </summary>
/// <remarks>
/// Written by every connection's session as its hello arrives and as it ends, read by status
/// displays: a short lock around a small list is the whole of its state.
/// </remarks>
internal sealed class ObservedAddresses
{
    /// <summary>Enough for every contact a person talks to in a day; each is a few dozen bytes.</summary>
    public const int Capacity = 64;

    private readonly Lock _gate = new();
    private readonly List<AddressObservation> _items = [];

    /// <summary>Keeps a report, replacing the witness's earlier one of the same direction.</summary>
    public void Add(AddressObservation observation)
    {
        ArgumentNullException.ThrowIfNull(observation);
        lock (_gate)
        {
            _items.RemoveAll(o => o.Witness == observation.Witness && o.Direction == observation.Direction);
            _items.Add(observation);
            if (_items.Count > Capacity)
            {
                _items.Remove(_items.MinBy(o => o.At)!);
            }
        }
    }

    /// <summary>The connection a report was made on ended at <paramref name="at"/>: from then on the report ages.</summary>
    public void Ended(AddressObservation observation, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(observation);
        lock (_gate)
        {
            var index = _items.IndexOf(observation);
            if (index >= 0)
            {
                _items[index] = observation with { At = at, Live = false };
            }
        }
    }

    /// <summary>The reports as they are now, oldest first.</summary>
    public IReadOnlyList<AddressObservation> Snapshot()
    {
        lock (_gate)
        {
            return [.. _items];
        }
    }
}
