using System.Net;
using System.Net.Sockets;

namespace SecureChat.Net;

/// <summary>Why an inbound connection was closed before its handshake could finish.</summary>
public enum AdmissionRefusal
{
    /// <summary>The address already holds its share of connections (handshaking or open).</summary>
    AddressConnections,

    /// <summary>The address already has its share of handshakes in progress.</summary>
    AddressHandshakes,

    /// <summary>The node holds as many connections as it takes.</summary>
    TotalConnections,

    /// <summary>The handshake was cut to make room for a newer one when all handshake slots were taken.</summary>
    Evicted,
}

/// <summary>Counts of what the admission control did, since the listener started.</summary>
public sealed record AdmissionCounters(int Pending, int Open, long Admitted, long Refused, long Evicted);

/// <summary>
/// Who may take a place on the listener. Every accepted TCP connection gets a ticket or is closed
/// at once; a ticket is pending until its handshake finishes and open until its connection is
/// disposed. The limits:
/// <list type="bullet">
/// <item>an address (IPv4, or an IPv6 /64, which one host usually holds whole) has at most
/// <see cref="ChannelOptions.MaxPendingHandshakesPerAddress"/> handshakes in progress and
/// <see cref="ChannelOptions.MaxConnectionsPerAddress"/> connections in all; beyond that its new
/// connections are closed, so one host cannot crowd out the others;</item>
/// <item>at most <see cref="ChannelOptions.MaxConnections"/> connections in all;</item>
/// <item>at most <see cref="ChannelOptions.MaxPendingHandshakes"/> handshakes in progress; when all
/// are taken the oldest is cut for the newcomer. A real peer finishes its handshake in one round
/// trip, so a flood of silent or slow connections only ever evicts itself, while refusing
/// newcomers instead would let it hold every slot until the handshake timeout.</item>
/// </list>
/// Thread-safe: one lock around plain counters.
/// </summary>
internal sealed class InboundAdmission(ChannelOptions options)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<AddressKey, (int Pending, int All)> _byAddress = [];
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
        lock (_lock)
        {
            _byAddress.TryGetValue(key, out var count);
            AdmissionRefusal? refused = count.All >= options.MaxConnectionsPerAddress ? AdmissionRefusal.AddressConnections
                : count.Pending >= options.MaxPendingHandshakesPerAddress ? AdmissionRefusal.AddressHandshakes
                : _pending.Count + _open >= options.MaxConnections ? AdmissionRefusal.TotalConnections
                : null;
            refusal = refused.GetValueOrDefault();
            if (refused is not null)
            {
                _refused++;
                return null;
            }

            if (_pending.Count >= options.MaxPendingHandshakes && _pending.First is { } oldest)
            {
                evicted = oldest.Value;
                Forget(evicted);
                _evicted++;
            }

            ticket = new Ticket(this, key);
            ticket.Node = _pending.AddLast(ticket);
            _byAddress[key] = (count.Pending + 1, count.All + 1);
            _admitted++;
        }

        evicted?.Evict();
        return ticket;
    }

    private void Opened(Ticket ticket)
    {
        lock (_lock)
        {
            if (ticket.Node is not { } node)
            {
                return;
            }

            _pending.Remove(node);
            ticket.Node = null;
            ticket.IsOpen = true;
            _open++;
            Adjust(ticket.Address, pending: -1, all: 0);
        }
    }

    private void Closed(Ticket ticket)
    {
        lock (_lock)
        {
            Forget(ticket);
        }
    }

    /// <summary>Takes a ticket off the books, pending or open; a second call does nothing.</summary>
    private void Forget(Ticket ticket)
    {
        if (ticket.Node is { } node)
        {
            _pending.Remove(node);
            ticket.Node = null;
            Adjust(ticket.Address, pending: -1, all: -1);
        }
        else if (ticket.IsOpen)
        {
            ticket.IsOpen = false;
            _open--;
            Adjust(ticket.Address, pending: 0, all: -1);
        }
    }

    private void Adjust(AddressKey key, int pending, int all)
    {
        var (p, a) = _byAddress[key];
        (p, a) = (p + pending, a + all);
        if (a == 0)
        {
            _byAddress.Remove(key);
        }
        else
        {
            _byAddress[key] = (p, a);
        }
    }

    /// <summary>One connection's place: pending, then open, then given back.</summary>
    internal sealed class Ticket(InboundAdmission owner, AddressKey address) : IDisposable
    {
        private readonly CancellationTokenSource _eviction = new();

        public AddressKey Address { get; } = address;

        /// <summary>Cancelled when a newer connection took this pending handshake's slot.</summary>
        public CancellationToken Eviction => _eviction.Token;

        internal LinkedListNode<Ticket>? Node { get; set; }

        internal bool IsOpen { get; set; }

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
