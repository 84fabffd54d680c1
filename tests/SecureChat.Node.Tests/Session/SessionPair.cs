using System.Net;
using System.Security.Cryptography;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using SecureChat.Node.Session;
using SecureChat.Protocol.Identity;
using SecureChat.Protocol.Messages;
using SecureChat.Protocol.Messages.Wire;
using SecureChat.Protocol.Ratchet;
using SecureChat.Storage;

namespace SecureChat.Node.Tests.Session;

/// <summary>
/// One node of an in-memory conversation: its identity, its <see cref="MemorySessionStore"/>, its
/// Lamport clock, quota and refusals, its own fake clock (so the two can disagree), and what its
/// sessions told it (events, closes). It outlives connections, as a node does.
/// </summary>
internal sealed class Party : IDisposable
{
    public static readonly DateTimeOffset Epoch = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);

    public Party(string name, NodeOptions? options = null)
    {
        Name = name;
        Identity = LocalIdentity.Create(name, Epoch);
        Options = options ?? new NodeOptions { SendBatch = 4, MaxInFlight = 16 };
        Quota = new ReceiveQuota(Options.QuotaWindow, peer => peer.Standing == ContactStanding.Request ? RequestLimit : Limit, (_, _) => []);
    }

    public string Name { get; }

    public LocalIdentity Identity { get; }

    public FakeTimeProvider Time { get; } = new(Epoch);

    public NodeOptions Options { get; }

    public MemorySessionStore Store { get; } = new();

    public MemoryLamportClock Clock { get; } = new();

    public ReceiveQuota Quota { get; }

    public DeliveryRefusals Refusals { get; } = new();

    /// <summary>The quota this party gives its peer.</summary>
    public QuotaLimit Limit { get; set; } = QuotaLimit.ContactDefault;

    /// <summary>The quota this party gives a stranger whose request waits (docs/protocol.md 7.5).</summary>
    public QuotaLimit RequestLimit { get; set; } = new NodeOptions().RequestQuota;

    /// <summary>How far this party's wall clock is set off its fake time: a person (or a broken battery) can step it back, which a <see cref="FakeTimeProvider"/> cannot.</summary>
    public TimeSpan Skew { get; set; }

    /// <summary>How this party's book holds its peer: a contact, or a stranger's request (docs/protocol.md 7.5).</summary>
    public ContactStanding PeerStanding { get; set; } = ContactStanding.Contact;

    /// <summary>The invite token this party's next hello presents, if any.</summary>
    public byte[]? InviteToken { get; set; }

    public List<NodeEvent> Events { get; } = [];

    public List<SessionClose> Closes { get; } = [];

    public DateTimeOffset Now => Time.GetUtcNow() + Skew;

    /// <summary>Queues a text as the node's send does: the next Lamport value, the send time now.</summary>
    public MemoryOutgoing Send(string text) => Store.Queue(text, Clock.Tick(), Now);

    public Contact ContactOf(Party peer) => new()
    {
        Account = peer.Identity.Account.Text,
        Name = peer.Name,
        Standing = PeerStanding,
        FirstSeen = Epoch,
        LastSeen = Epoch,
    };

    public IEnumerable<MessageState> StatesOf(string messageId) =>
        Events.OfType<MessageStateChanged>().Where(e => e.MessageId == messageId).Select(e => e.State);

    /// <summary>An envelope as this party's node writes one to <paramref name="peer"/>, with the next Lamport value and the send time now; <paramref name="body"/> sets the rest.</summary>
    public Envelope Envelope(Party peer, Action<Envelope> body)
    {
        var envelope = new Envelope
        {
            MessageId = ByteString.CopyFrom(NodeWire.NewMessageId()),
            Conversation = ByteString.CopyFrom(NodeWire.Conversation(Identity.Account, peer.Identity.Account)),
            SenderDevice = ByteString.CopyFrom(NodeWire.DeviceId(Identity.Certificate)),
            Lamport = (ulong)Clock.Tick(),
            SentAt = Now.ToUnixTimeMilliseconds(),
        };
        body(envelope);
        return envelope;
    }

    /// <summary>
    /// Encrypts an envelope under the session this party's store holds, as a peer that wrote it
    /// would (a hostile or buggy peer: the envelope need not be one a node writes), and keeps the
    /// turned state in the store. The party's running session, if any, does not know of it, so a
    /// test sends this frame in place of what that session would send next.
    /// </summary>
    public byte[] Seal(Envelope envelope) => Seal(NodeWire.EncodePadded(envelope));

    /// <summary>Encrypts raw plaintext bytes (not necessarily an envelope) under this party's stored session.</summary>
    public byte[] Seal(byte[] plaintext)
    {
        using var record = Store.Load() ?? throw new InvalidOperationException($"{Name} holds no session to encrypt under.");
        var frame = NodeWire.Encode(new NodeFrame { Ratchet = ByteString.CopyFrom(record.Ratchet.Encrypt(plaintext)) });
        Store.SessionState = record.Encode();
        return frame;
    }

    public void Dispose() => Identity.Dispose();
}

/// <summary>
/// One connection between two <see cref="Party"/> nodes, in memory: a channel's facts shared by
/// both ends, a <see cref="PeerSession"/> at each, loaded from its party's store as a node does
/// when a connection comes up, and the frames in flight each way. A cut drops what is in flight,
/// as a broken TCP connection does; nothing is reordered within a connection, as on a channel.
/// </summary>
internal sealed class SessionPair : IDisposable
{
    private readonly End _dialer;
    private readonly End _answerer;

    /// <param name="dialer">The party that dialed: the initiator, Alice of a new ratchet session.</param>
    /// <param name="answerer">The party that answered.</param>
    /// <param name="dialerSeenAt">The dialer's address as the answerer sees it, if any.</param>
    /// <param name="answererExporter">An exporter secret for the answerer unlike the dialer's (a broken channel); the same as the dialer's when null.</param>
    /// <param name="listenPort">The port the dialer's hello says it listens on.</param>
    /// <param name="answererSeenAt">The answerer's address as the dialer sees it, if any.</param>
    public SessionPair(Party dialer, Party answerer, IPEndPoint? dialerSeenAt = null, byte[]? answererExporter = null, uint listenPort = 0, IPEndPoint? answererSeenAt = null)
    {
        HandshakeHash = RandomNumberGenerator.GetBytes(64);
        var exporter = RandomNumberGenerator.GetBytes(32);
        DialerFacts = new ChannelFacts(true, HandshakeHash, exporter.ToArray(), Key(dialer), Key(answerer), answererSeenAt);
        AnswererFacts = new ChannelFacts(false, HandshakeHash, answererExporter ?? exporter.ToArray(), Key(answerer), Key(dialer), dialerSeenAt);
        _dialer = new End(dialer, answerer, DialerFacts, listenPort);
        _answerer = new End(answerer, dialer, AnswererFacts, 0);
        _dialer.Other = _answerer;
        _answerer.Other = _dialer;
    }

    public byte[] HandshakeHash { get; }

    /// <summary>What each end was told of the channel (each its own copy of the exporter secret, as each node derives its own).</summary>
    public ChannelFacts DialerFacts { get; }

    public ChannelFacts AnswererFacts { get; }

    public PeerSession Dialer => _dialer.Session;

    public PeerSession Answerer => _answerer.Session;

    /// <summary>Set once the connection is gone: cut, or closed by either session.</summary>
    public bool IsCut { get; private set; }

    /// <summary>The outputs of every step of each end, for tests that look at one step's output.</summary>
    public List<SessionOutput> DialerOutputs => _dialer.Outputs;

    public List<SessionOutput> AnswererOutputs => _answerer.Outputs;

    /// <summary>Frames delivered so far, both ways.</summary>
    public int Delivered { get; private set; }

    /// <summary>
    /// Frames written by the dialer and not yet read by the answerer, in order: a test may drop,
    /// repeat, reorder or add frames here, as a network the channel did not protect would (the
    /// channel itself keeps order and refuses replays, so these are what a broken or hostile peer
    /// can make a session see).
    /// </summary>
    public List<byte[]> ToAnswerer => _answerer.Inbox;

    /// <summary>Frames written by the answerer and not yet read by the dialer, in order; see <see cref="ToAnswerer"/>.</summary>
    public List<byte[]> ToDialer => _dialer.Inbox;

    /// <summary>
    /// When set, every frame a session writes passes through it on its way: it is given whether the
    /// dialer wrote the frame, and the frame; the frames it returns are what the other end gets.
    /// </summary>
    public Func<bool, byte[], IEnumerable<byte[]>>? Wire { get; set; }

    /// <summary>The number of ratchet frames (not hellos) each way so far: what the dialer wrote, and what the answerer wrote.</summary>
    public (int FromDialer, int FromAnswerer) RatchetFrames =>
        (_dialer.Outputs.Sum(o => o.Frames.Count(IsRatchet)), _answerer.Outputs.Sum(o => o.Frames.Count(IsRatchet)));

    /// <summary>Both ends send their hello (the shell's first step).</summary>
    public SessionPair Start()
    {
        _dialer.Apply(_dialer.Session.Start(_dialer.Party.Now), this);
        _answerer.Apply(_answerer.Session.Start(_answerer.Party.Now), this);
        return this;
    }

    /// <summary>Opens a connection, exchanges hellos and runs it until nothing more moves.</summary>
    public static SessionPair Run(Party dialer, Party answerer)
    {
        var pair = new SessionPair(dialer, answerer).Start();
        pair.Settle();
        return pair;
    }

    /// <summary>A whole connection: opened, run until nothing more moves, and closed.</summary>
    public static void RunOnce(Party dialer, Party answerer)
    {
        using var pair = Run(dialer, answerer);
    }

    /// <summary>
    /// The fast send path at one end, as the shell's loop runs it: texts queued now go through
    /// <see cref="PeerSession.SendQueued"/> and its frames are put in flight. Returns the step's
    /// output, or null when the session did not take the texts.
    /// </summary>
    public SessionOutput? SendQueued(bool atDialer, params string[] texts)
    {
        var end = atDialer ? _dialer : _answerer;
        var output = end.Session.SendQueued(texts, end.Party.Now);
        if (output is not null)
        {
            end.Apply(output, this);
        }

        return output;
    }

    /// <summary>Asks both sessions to look at their outbox (a message was queued, a receipt is due).</summary>
    public SessionPair Kick()
    {
        _dialer.NeedsPump = true;
        _answerer.NeedsPump = true;
        return this;
    }

    /// <summary>
    /// Delivers frames and pumps until nothing moves, or cuts the connection once
    /// <paramref name="frameBudget"/> frames were delivered (the rest, in flight, are lost).
    /// Frames are delivered one per step when <paramref name="oneByOne"/>, else in batches as the
    /// shell's reader gathers them. Unless <paramref name="cutWhenSpent"/>, a spent budget only
    /// pauses the connection: what is in flight stays, for a later call.
    /// </summary>
    public void Settle(int frameBudget = int.MaxValue, bool oneByOne = false, Func<List<byte[]>, List<byte[]>>? shuffle = null, bool cutWhenSpent = true)
    {
        for (var step = 0; step < 100_000 && !IsCut; step++)
        {
            var moved = false;
            foreach (var end in new[] { _dialer, _answerer })
            {
                if (IsCut)
                {
                    return;
                }

                if (end.Inbox.Count > 0)
                {
                    var take = Math.Min(oneByOne ? 1 : 512, Math.Min(end.Inbox.Count, frameBudget - Delivered));
                    if (take <= 0)
                    {
                        if (cutWhenSpent)
                        {
                            Cut();
                        }

                        return;
                    }

                    var batch = end.Inbox.GetRange(0, take);
                    end.Inbox.RemoveRange(0, take);
                    Delivered += take;
                    end.Apply(end.Session.Receive(shuffle is null ? batch : shuffle(batch), end.Party.Now), this);
                    end.NeedsPump = true;
                    moved = true;
                }

                if (!IsCut && end.NeedsPump)
                {
                    end.NeedsPump = false;
                    end.Apply(end.Session.Pump(end.Party.Now), this);
                    moved = true;
                }
            }

            if (!moved)
            {
                return;
            }
        }

        if (IsCut)
        {
            return;
        }

        Assert.Fail("The two sessions never went quiet: a loop sends frames forever.");
    }

    /// <summary>The connection breaks: what is in flight is lost, both sessions are gone (their state is only what the stores hold).</summary>
    public void Cut()
    {
        IsCut = true;
        _dialer.Inbox.Clear();
        _answerer.Inbox.Clear();
    }

    public void Dispose()
    {
        Cut();
        _dialer.Session.Dispose();
        _answerer.Session.Dispose();
    }

    private static byte[] Key(Party party) => party.Identity.Account.PublicKey.ToArray();

    private static bool IsRatchet(byte[] frame) => NodeWire.TryParseFrame(frame, out var parsed) && parsed.FrameCase == NodeFrame.FrameOneofCase.Ratchet;

    private sealed class End
    {
        public End(Party party, Party peer, ChannelFacts channel, uint listenPort)
        {
            Party = party;
            var intent = new PeerIntent(
                party.ContactOf(peer), peer.Name, NodeWire.Conversation(party.Identity.Account, peer.Identity.Account),
                NodeWire.DeviceId(party.Identity.Certificate), listenPort, party.InviteToken);
            Session = new PeerSession(channel, intent, party.Store.Load(), party.Store, party.Clock, party.Quota, party.Refusals, party.Options, RatchetOptions.Default, NullLogger.Instance);
        }

        public Party Party { get; }

        public PeerSession Session { get; }

        public End Other { get; set; } = null!;

        public List<byte[]> Inbox { get; } = [];

        public List<SessionOutput> Outputs { get; } = [];

        public bool NeedsPump { get; set; }

        public void Apply(SessionOutput output, SessionPair pair)
        {
            Outputs.Add(output);
            var fromDialer = ReferenceEquals(this, pair._dialer);
            Other.Inbox.AddRange(pair.Wire is { } wire ? output.Frames.SelectMany(frame => wire(fromDialer, frame)) : output.Frames);
            Party.Events.AddRange(output.Events);
            NeedsPump |= output.MoreToSend;
            if (output.Close is { } close)
            {
                Party.Closes.Add(close);
                pair.Cut();
            }
        }
    }
}
