using System.Net;
using SecureChat.Net;
using SecureChat.Protocol.Channel;
using SecureChat.Storage;

namespace SecureChat.Node.Session;

/// <summary>
/// What a <see cref="PeerSession"/> needs of the channel it runs on: the facts the handshake
/// established, nothing it could read or write.
/// </summary>
/// <param name="IsInitiator">True on the side that dialed: it is Alice when a new ratchet session starts.</param>
/// <param name="HandshakeHash">The channel's handshake hash; a new session's ID is its first 16 bytes.</param>
/// <param name="ExporterSecret">The channel's exporter secret, from which a new session's root key is derived; a copy the session wipes once the hellos are exchanged.</param>
/// <param name="SelfAccount">This node's account public key.</param>
/// <param name="PeerAccount">The peer's account public key, as the handshake proved it.</param>
/// <param name="Remote">The peer's address as this side sees it, if the transport has one.</param>
internal sealed record ChannelFacts(bool IsInitiator, byte[] HandshakeHash, byte[] ExporterSecret, byte[] SelfAccount, byte[] PeerAccount, EndPoint? Remote);

/// <summary>What the node wants to say in its hello, and what it knows of the conversation.</summary>
/// <param name="Contact">The peer's record as the node holds it when the connection came up.</param>
/// <param name="Label">How logs name the contact.</param>
/// <param name="Conversation">The conversation ID every envelope must carry.</param>
/// <param name="DeviceId">This node's device ID, put in every envelope it writes.</param>
/// <param name="ListenPort">The port this node listens on, 0 for none.</param>
/// <param name="InviteToken">The invite token kept for the contact, presented once in the hello; null for none.</param>
internal sealed record PeerIntent(Contact Contact, string Label, byte[] Conversation, byte[] DeviceId, uint ListenPort, byte[]? InviteToken);

/// <summary>The node's clock of a conversation (docs/protocol.md 6.7): one per contact, shared by its connections and its outbox.</summary>
internal interface ILamportClock
{
    /// <summary>The next value for something this node writes.</summary>
    long Tick();

    /// <summary>Moves the clock past a peer's value when it is within bounds; otherwise returns false and the bound.</summary>
    bool TryWitness(ulong lamport, out ulong limit);
}

/// <summary>Why a <see cref="PeerSession"/> ends its connection, for the CLOSE frame.</summary>
internal sealed record SessionClose(CloseReason Reason, string Text);

/// <summary>
/// What one step of a <see cref="PeerSession"/> asks of its shell, in this order: the store
/// commands were already made through <see cref="ISessionStore"/> when the step returned, so the
/// <see cref="Frames"/> may be written; then the events published; then, if <see cref="Close"/> is
/// set, the connection closed with it.
/// </summary>
internal sealed class SessionOutput
{
    /// <summary>Frames to write, in order; each was encrypted under a ratchet state the store already holds.</summary>
    public List<byte[]> Frames { get; } = [];

    /// <summary>Events for the node's subscribers (state changes, typing, refusals).</summary>
    public List<NodeEvent> Events { get; } = [];

    /// <summary>Texts the store took as new in this step (duplicates left out).</summary>
    public List<StoredMessage> Received { get; } = [];

    /// <summary>Texts this node queued in this step's write (<see cref="PeerSession.SendQueued"/>), as stored, in order.</summary>
    public List<StoredMessage> Queued { get; } = [];

    /// <summary>Set by the step that finished the hello exchange: the contact is online through this connection.</summary>
    public bool CameOnline { get; set; }

    /// <summary>A request that became a contact on this connection (its hello carried this node's invite token).</summary>
    public Contact? Promoted { get; set; }

    /// <summary>Where the peer says it listens (its address as seen, with the hello's port): a claim to try, not to keep.</summary>
    public PeerEndpoint? ClaimedEndpoint { get; set; }

    /// <summary>
    /// Where the peer's hello says it sees this node (the <c>observed_endpoint</c> it wrote), set
    /// by the step that read the hello; null when the peer sent none or a malformed one. A claim.
    /// </summary>
    public IPEndPoint? SeenAt { get; set; }

    /// <summary>True when a full batch left the outbox: the shell asks for another step soon.</summary>
    public bool MoreToSend { get; set; }

    /// <summary>Set when the session ends the connection; nothing more is asked of it.</summary>
    public SessionClose? Close { get; set; }
}
