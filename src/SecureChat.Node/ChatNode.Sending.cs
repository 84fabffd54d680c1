using SecureChat.Storage;

namespace SecureChat.Node;

/// <summary>The send queue: texts go to the one outbox (Storage.Outbox), which announces them; read marks and typing go to the contact's link.</summary>
public sealed partial class ChatNode
{
    /// <summary>
    /// Queues a text for a contact and returns at once: the message is on disk when this returns
    /// and is delivered whenever the contact is reachable.
    /// </summary>
    /// <exception cref="ArgumentException">The text is empty, too long or not valid Unicode.</exception>
    public StoredMessage Send(Contact contact, string text)
    {
        ArgumentNullException.ThrowIfNull(contact);
        ArgumentNullException.ThrowIfNull(text);
        RequireContact(contact);
        LinkOf(contact);

        // The outbox checks the text, whoever queues it; its Queued event announces the message.
        return _outbox.Queue(contact, [text])[0];
    }

    /// <summary>
    /// Queues a text like <see cref="Send"/>, and shares the disk write with the sends made while
    /// the one before was being written (the outbox's group commit): many concurrent sends cost
    /// one sync, not one each. The task ends when the message is on disk. While the contact's
    /// connection is up, the outbox hands the text to it, and the connection queues, encrypts and
    /// marks it sent in one write (docs/protocol.md 6.4): one sync where queueing and sending took
    /// two. The answer is the same either way: the message as queued, with its ID.
    /// </summary>
    /// <exception cref="ArgumentException">The text is empty, too long or not valid Unicode (thrown at once).</exception>
    public Task<StoredMessage> SendAsync(Contact contact, string text)
    {
        ArgumentNullException.ThrowIfNull(contact);
        ArgumentNullException.ThrowIfNull(text);
        Outbox.CheckText(text, nameof(text));
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        RequireContact(contact);
        LinkOf(contact);
        return _outbox.QueueAsync(contact, text);
    }

    /// <summary>Texts are on disk in the outbox: announce them and wake the contact's connection.</summary>
    private void OnQueued(Contact contact, IReadOnlyList<StoredMessage> stored)
    {
        foreach (var message in stored)
        {
            Events.Publish(new MessageStored(message));
        }

        if (_links.TryGetValue(contact.Account, out var link))
        {
            link.Kick();
        }
    }

    /// <summary>Marks a conversation read: its received messages are seen, and a read receipt goes to the contact.</summary>
    /// <exception cref="StoreException">The account is a request or blocked (accept it first), or not in the contact book.</exception>
    public IReadOnlyList<string> MarkRead(Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        RequireContact(contact);
        var seen = _outbox.MarkSeen(contact);
        if (seen.Count > 0)
        {
            foreach (var id in seen)
            {
                Events.Publish(new MessageStateChanged(contact.Account, id, MessageState.Seen));
            }

            LinkOf(contact).Kick();
        }

        return seen;
    }

    /// <summary>Tells a connected contact that this node's person is (or stopped) typing; nothing if it is offline.</summary>
    /// <exception cref="StoreException">The account is a request or blocked (accept it first), or not in the contact book.</exception>
    public void SetTyping(Contact contact, bool active)
    {
        ArgumentNullException.ThrowIfNull(contact);
        RequireContact(contact);
        if (_links.TryGetValue(contact.Account, out var link))
        {
            link.SendTyping(active);
        }
        else if (Store.Contacts.Find(contact.AccountId) is null)
        {
            // No link may only mean the contact has not been reached yet; an account the book does
            // not hold gets the same answer as a read mark or a send to it.
            throw new StoreException(StoreError.NoSuchContact, "That contact was removed.");
        }
    }
}
