using System.Collections.Concurrent;

namespace SecureChat.Node;

/// <summary>
/// A contact's node refused to store this node's texts (docs/protocol.md 6.10): why, in a sentence
/// for the person, and until when the node holds the rest of the outbox back.
/// </summary>
/// <param name="ContactAccount">The contact that refused.</param>
/// <param name="Reason"><c>messages</c> or <c>bytes</c>: which of its limits was reached.</param>
/// <param name="Message">The sentence to show.</param>
/// <param name="Until">When the node sends the refused texts again.</param>
public sealed record DeliveryRefusal(string ContactAccount, string Reason, string Message, DateTimeOffset Until);

/// <summary>
/// The refusals in force, one per contact: the node holds a contact's texts back until its
/// refusal ends, on this connection and on any later one, and status displays list them.
/// </summary>
public sealed class DeliveryRefusals
{
    private readonly ConcurrentDictionary<string, DeliveryRefusal> _refusals = new(StringComparer.Ordinal);

    /// <summary>The refusals still in force at <paramref name="now"/>.</summary>
    public IReadOnlyList<DeliveryRefusal> Current(DateTimeOffset now) =>
        [.. _refusals.Values.Where(r => r.Until > now).OrderBy(r => r.ContactAccount, StringComparer.Ordinal)];

    /// <summary>Until when texts to <paramref name="contactAccount"/> are held back; null when they are not.</summary>
    public DateTimeOffset? HeldUntil(string contactAccount, DateTimeOffset now) =>
        _refusals.TryGetValue(contactAccount, out var refusal) && refusal.Until > now ? refusal.Until : null;

    internal void Record(DeliveryRefusal refusal) => _refusals[refusal.ContactAccount] = refusal;

    internal void Forget(string contactAccount) => _refusals.TryRemove(contactAccount, out _);
}
