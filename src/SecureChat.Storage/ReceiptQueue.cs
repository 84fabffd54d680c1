namespace SecureChat.Storage;

/// <summary>A read receipt waiting to go out: its own envelope ID and the peer's message IDs it marks read.</summary>
public sealed record PendingReceipt(string EnvelopeId, IReadOnlyList<string> MessageIds);

/// <summary>
/// Read receipts not yet acknowledged by the peer, as the callers from before
/// <see cref="Outbox"/> know them: the outbox owns them (<see cref="Outbox.PendingReceipts"/>,
/// <see cref="Outbox.AcknowledgeReceipts"/>), and this keeps those callers working.
/// </summary>
public sealed class ReceiptQueue
{
    private readonly LocalStore _store;

    internal ReceiptQueue(LocalStore store) => _store = store;

    /// <summary>The receipts waiting for a contact, oldest first.</summary>
    public IReadOnlyList<PendingReceipt> Pending(Contact contact) => _store.Outbox.PendingReceipts(contact);

    /// <summary>Removes the receipts the peer acknowledged; returns how many there were.</summary>
    public int Acknowledge(IEnumerable<string> envelopeIds) => _store.Outbox.AcknowledgeReceipts(envelopeIds);
}
