using System.Net;
using System.Net.Sockets;

namespace SecureChat.Net;

/// <summary>Why an inbound connection was closed before its handshake could finish.</summary>
public enum AdmissionRefusal
{
    /// <summary>Every place the address may hold is taken by an authenticated connection.</summary>
    AddressConnections,

    /// <summary>Every place on the listener is taken by an authenticated connection.</summary>
    TotalConnections,

    /// <summary>The handshake was cut to make room for a newer connection (from its own address, or from any when all handshake slots were taken).</summary>
    Evicted,
}

/// <summary>Counts of what the admission control did, since the listener started.</summary>
public sealed record AdmissionCounters(int Pending, int Open, long Admitted, long Refused, long Evicted);

/// <summary>
/// Who may take a place on the listener. Every accepted TCP connection gets a ticket or is closed
/// at once; a ticket is pending until its handshake finishes and open (authenticated) until its
/// connection is disposed. Four caps, each with one answer when it is reached:
/// <list type="bullet">
/// <item>handshakes in progress from one address (IPv4, or an IPv6 /64, which one host usually
/// holds whole), <see cref="ChannelOptions.MaxPendingHandshakesPerAddress"/>: the oldest
/// handshake from that address is cut for the newcomer;</item>
/// <item>handshakes in progress in all, <see cref="ChannelOptions.MaxPendingHandshakes"/>: the
/// oldest handshake from anywhere is cut for the newcomer;</item>
/// <item>connections from one address, <see cref="ChannelOptions.MaxConnectionsPerAddress"/>, and
/// in all, <see cref="ChannelOptions.MaxConnections"/> (pending and open together): the oldest
/// handshake in progress under the cap is cut; only when every place under it is authenticated is
/// the newcomer closed.</item>
/// </list>
/// An authenticated connection is never cut, and an unauthenticated one never stands in a
/// newcomer's way: a real peer finishes its handshake in one round trip, so a flood of silent or
/// slow connections only ever evicts itself, even from the peer's own address (a carrier NAT, a
/// campus, a relay), whereas refusing newcomers would let it hold the slots until the handshake
/// timeout. Each newcomer cuts at most one handshake: the caps are never exceeded, and one cut
/// frees a place under every cap that was full.
/// Thread-safe: one lock around plain counters.
/// </summary>
internal sealed class InboundAdmission(ChannelOptions options)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<AddressKey, AddressShare> _byAddress = [];
    private readonly LinkedList<Ticket> _pending = new();
    private int _open;
    private long _admitted;
    private long _refused;
    private long _evicted;

    public AdmissionCounters Counters
    {
        get
        {
            lock (_lock)
            {
                return new AdmissionCounters(_pending.Count, _open, _admitted, _refused, _evicted);
            }
        }
    }

    /// <summary>
    /// A ticket for a connection from <paramref name="remote"/>, or null with the reason it is refused.
    /// When the ticket took an evicted handshake's slot, that handshake's <see cref="Ticket.Eviction"/> is cancelled.
    /// </summary>
    public Ticket? TryAdmit(IPAddress remote, out AdmissionRefusal refusal)
    {
        var key = AddressKey.Of(remote);
        Ticket? evicted = null;
        Ticket ticket;
        refusal = default;
        lock (_lock)
        {
            if (!_byAddress.TryGetValue(key, out var share))
            {
                share = new AddressShare();
            }

            if (share.Pending.Count >= options.MaxPendingHandshakesPerAddress || share.Count >= options.MaxConnectionsPerAddress)
            {
                // The address's own oldest handshake gives way; that also frees a place in all.
                if (share.Pending.First is not { } oldest)
                {
                    refusal = AdmissionRefusal.AddressConnections;
                    _refused++;
                    return null;
                }

                evicted = oldest.Value;
            }
            else if (_pending.Count >= options.MaxPendingHandshakes || _pending.Count + _open >= options.MaxConnections)
            {
                if (_pending.First is not { } oldest)
                {
                    refusal = AdmissionRefusal.TotalConnections;
                    _refused++;
                    return null;
                }

                evicted = oldest.Value;
            }

            if (evicted is not null)
            {
                Forget(evicted);
                _evicted++;
            }

            ticket = new Ticket(this, key);
            ticket.Node = _pending.AddLast(ticket);
            ticket.AddressNode = share.Pending.AddLast(ticket);
            _byAddress[key] = share;
            _admitted++;
        }

        evicted?.Evict();
        return ticket;
    }

    private void Opened(Ticket ticket)
    {
        lock (_lock)
        {
            if (ticket.IsOpen || ticket.IsClosed)
            {
                return;
            }

            // A handshake cut in the instant it finished still yields an authenticated peer, which
            // is never turned away: it counts as open like any other (and may top a cap by one).
            Forget(ticket);
            if (!_byAddress.TryGetValue(ticket.Address, out var share))
            {
                share = new AddressShare();
                _byAddress[ticket.Address] = share;
            }

            ticket.IsOpen = true;
            _open++;
            share.Open++;
        }
    }

    private void Closed(Ticket ticket)
    {
        lock (_lock)
        {
            ticket.IsClosed = true;
            Forget(ticket);
        }
    }

    /// <summary>Takes a ticket off the books, pending or open; a second call does nothing.</summary>
    private void Forget(Ticket ticket)
    {
        if (!_byAddress.TryGetValue(ticket.Address, out var share))
        {
            return;
        }

        if (ticket.Node is { } node)
        {
            _pending.Remove(node);
            share.Pending.Remove(ticket.AddressNode!);
            ticket.Node = null;
            ticket.AddressNode = null;
        }
        else if (ticket.IsOpen)
        {
            ticket.IsOpen = false;
            _open--;
            share.Open--;
        }
        else
        {
            return;
        }

        if (share.Count == 0)
        {
            _byAddress.Remove(ticket.Address);
        }
    }

    /// <summary>What one address holds: its handshakes in progress, oldest first, and its authenticated connections.</summary>
    private sealed class AddressShare
    {
        public LinkedList<Ticket> Pending { get; } = new();

        public int Open { get; set; }

        public int Count => Pending.Count + Open;
    }

    /// <summary>One connection's place: pending, then open, then given back.</summary>
    internal sealed class Ticket(InboundAdmission owner, AddressKey address) : IDisposable
    {
        private readonly CancellationTokenSource _eviction = new();

        public AddressKey Address { get; } = address;

        /// <summary>Cancelled when a newer connection took this pending handshake's slot.</summary>
        public CancellationToken Eviction => _eviction.Token;

        /// <summary>Its place among all handshakes in progress, while it is one.</summary>
        internal LinkedListNode<Ticket>? Node { get; set; }

        /// <summary>Its place among its address's handshakes in progress, while it is one.</summary>
        internal LinkedListNode<Ticket>? AddressNode { get; set; }

        internal bool IsOpen { get; set; }

        internal bool IsClosed { get; set; }

        /// <summary>The handshake finished: the connection now counts as open until <see cref="Dispose"/>.</summary>
        public void Opened() => owner.Opened(this);

        /// <summary>The connection ended (or never got going): its place is free.</summary>
        public void Dispose()
        {
            owner.Closed(this);
            _eviction.Dispose();
        }

        internal void Evict()
        {
            try
            {
                _eviction.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // Its handshake ended at the same moment; nothing is left to cut.
            }
        }
    }

    /// <summary>An IPv4 address, or the /64 prefix of an IPv6 one.</summary>
    internal readonly record struct AddressKey(ulong High, ulong Low)
    {
        public static AddressKey Of(IPAddress address)
        {
            if (address.IsIPv4MappedToIPv6)
            {
                address = address.MapToIPv4();
            }

            Span<byte> bytes = stackalloc byte[16];
            address.TryWriteBytes(bytes, out _);
            return address.AddressFamily == AddressFamily.InterNetwork
                ? new AddressKey(0, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes))
                : new AddressKey(System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(bytes), ulong.MaxValue);
        }
    }
}
