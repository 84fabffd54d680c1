using System.Net;
using SecureChat.Protocol.Identity;

namespace SecureChat.Node.Discovery;

/// <summary>
/// Where contact links look a contact up when no known address answers: the DHT's rendezvous
/// records (<see cref="DhtRendezvous"/>) in a running node; tests give one whose answers and
/// readiness they set, so the lookup schedule runs on a fake clock without a DHT.
/// </summary>
internal interface IContactLocator
{
    /// <summary>
    /// True once a lookup can find anything (the DHT node has nodes in its table). Before that a
    /// link does not look up at all: an empty answer then says nothing about the contact, and would
    /// only push the next lookup out. The locator tells the node when it becomes ready
    /// (<see cref="ChatNode.LocatorReady"/>).
    /// </summary>
    bool Ready { get; }

    /// <summary>
    /// Where the contact says it can be reached; empty when it is not found. <paramref name="first"/>
    /// asks for the first copy of the contact's record any node hands over, instead of the newest
    /// after the whole walk: the lookups of a node's first seconds, where waiting out nodes that went
    /// away would cost seconds and the record is most likely fresh.
    /// </summary>
    Task<IReadOnlyList<IPEndPoint>> LocateAsync(AccountId contact, bool first, CancellationToken cancellationToken);
}
