using SecureChat.Storage;

namespace SecureChat.Node;

/// <summary>Something the node did or saw, for the API's event stream and the terminal.</summary>
public abstract record NodeEvent;

/// <summary>A message was stored: queued by this node's person, or received.</summary>
public sealed record MessageStored(StoredMessage Message) : NodeEvent;

/// <summary>An outgoing message moved on: sent, delivered or read.</summary>
public sealed record MessageStateChanged(string ContactAccount, string MessageId, MessageState State) : NodeEvent;

/// <summary>
/// A contact connected (online) or its last connection ended. When it ended, <paramref name="Close"/>
/// is how the peer closed it (its reason and sentence, a claim), or null when the connection was
/// lost or this node closed it first.
/// </summary>
public sealed record PresenceChanged(string ContactAccount, bool Online, string? Endpoint, SecureChat.Net.PeerClose? Close = null) : NodeEvent;

/// <summary>A contact started or stopped typing.</summary>
public sealed record TypingChanged(string ContactAccount, bool Active) : NodeEvent;

/// <summary>A contact was added or its record changed (first meeting, rename, verification).</summary>
public sealed record ContactChanged(Contact Contact, bool IsNew) : NodeEvent;

/// <summary>The node started listening (at <paramref name="EndPoint"/>) or stopped (null).</summary>
public sealed record ListeningChanged(System.Net.IPEndPoint? EndPoint) : NodeEvent;

/// <summary>A contact and its conversation were removed.</summary>
public sealed record ContactRemoved(string ContactAccount) : NodeEvent;

/// <summary>
/// A connection attempt or a connection failed; the sentence says why. <paramref name="KeyChanged"/>
/// marks a peer refused because its key differs from the pinned one: a person must look at that.
/// </summary>
public sealed record ConnectionProblem(string? ContactAccount, string Endpoint, string Message, bool KeyChanged = false) : NodeEvent;

/// <summary>A stranger connected and asks to be a contact, or a request got a new held message.</summary>
public sealed record RequestChanged(Contact Request, bool IsNew) : NodeEvent;

/// <summary>A request was accepted, declined or blocked; it is no longer waiting.</summary>
public sealed record RequestRemoved(string Account, string Outcome) : NodeEvent;

/// <summary>A contact's node refused to store more texts of this node's for now; they wait in the outbox until <see cref="DeliveryRefusal.Until"/>.</summary>
public sealed record DeliveryRefused(DeliveryRefusal Refusal) : NodeEvent;

/// <summary>How contacts can reach this node changed (<see cref="ChatNode.Reachability"/>): its class and the sentence that says it.</summary>
public sealed record ReachabilityChanged(SecureChat.Node.Reachability.ReachabilityKind Kind, string Sentence) : NodeEvent;
