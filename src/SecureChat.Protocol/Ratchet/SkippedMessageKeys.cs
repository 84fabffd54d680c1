using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace SecureChat.Protocol.Ratchet;

/// <summary>
/// One stored skipped message key (MKSKIPPED of the Double Ratchet specification, section 3.2):
/// the key of message <see cref="MessageNumber"/> of the receiving chain named by the sender's
/// ratchet public key <see cref="Chain"/>, with the time it was stored. Owns and wipes the key.
/// </summary>
internal sealed class SkippedMessageKey : IDisposable
{
    private readonly byte[] _key;

    /// <summary>Takes <paramref name="ownedKey"/> without copying; it is wiped on <see cref="Dispose"/>.</summary>
    public SkippedMessageKey(RatchetPublicKey chain, uint messageNumber, byte[] ownedKey, DateTimeOffset storedAt)
    {
        Chain = chain;
        MessageNumber = messageNumber;
        _key = ownedKey;
        StoredAt = storedAt;
    }

    public RatchetPublicKey Chain { get; }

    public uint MessageNumber { get; }

    public DateTimeOffset StoredAt { get; }

    public ReadOnlySpan<byte> Key => _key;

    public bool IsExpired(DateTimeOffset now, TimeSpan lifetime) => now - StoredAt > lifetime;

    public void Dispose() => CryptographicOperations.ZeroMemory(_key);
}

/// <summary>
/// The skipped message keys of a session, in the order they were stored: found by (chain, message
/// number), bounded in number with the oldest deleted first, and deleted once too old. Every key
/// that leaves the table is wiped.
/// </summary>
internal sealed class SkippedMessageKeys : IDisposable
{
    private readonly LinkedList<SkippedMessageKey> _byAge = new();
    private readonly Dictionary<(RatchetPublicKey Chain, uint MessageNumber), LinkedListNode<SkippedMessageKey>> _byId = [];

    public int Count => _byId.Count;

    /// <summary>The keys from oldest to newest, the order <see cref="RatchetSession.Export"/> writes them in.</summary>
    public IEnumerable<SkippedMessageKey> OldestFirst => _byAge;

    /// <summary>True if the key of message <paramref name="messageNumber"/> of chain <paramref name="chain"/> is held.</summary>
    public bool Contains(RatchetPublicKey chain, uint messageNumber) => _byId.ContainsKey((chain, messageNumber));

    /// <summary>
    /// Finds the key of a message, unless it is older than <paramref name="lifetime"/>: an expired key
    /// is as good as deleted even before <see cref="RemoveExpired"/> wipes it.
    /// </summary>
    public bool TryFind(RatchetPublicKey chain, uint messageNumber, DateTimeOffset now, TimeSpan lifetime, [NotNullWhen(true)] out SkippedMessageKey? key)
    {
        if (_byId.TryGetValue((chain, messageNumber), out var node) && !node.Value.IsExpired(now, lifetime))
        {
            key = node.Value;
            return true;
        }

        key = null;
        return false;
    }

    /// <summary>
    /// Stores <paramref name="key"/> as the newest, replacing a key with the same name, then deletes
    /// the oldest keys until at most <paramref name="capacity"/> remain.
    /// </summary>
    public void Add(SkippedMessageKey key, int capacity)
    {
        Remove(key.Chain, key.MessageNumber);
        _byId.Add((key.Chain, key.MessageNumber), _byAge.AddLast(key));
        while (_byId.Count > capacity)
        {
            RemoveNode(_byAge.First!);
        }
    }

    /// <summary>Deletes and wipes the key of one message, if it is held.</summary>
    public void Remove(RatchetPublicKey chain, uint messageNumber)
    {
        if (_byId.TryGetValue((chain, messageNumber), out var node))
        {
            RemoveNode(node);
        }
    }

    /// <summary>Deletes and wipes every key older than <paramref name="lifetime"/>; returns how many.</summary>
    public int RemoveExpired(DateTimeOffset now, TimeSpan lifetime)
    {
        var removed = 0;
        var node = _byAge.First;
        while (node is not null)
        {
            var next = node.Next;
            if (node.Value.IsExpired(now, lifetime))
            {
                RemoveNode(node);
                removed++;
            }

            node = next;
        }

        return removed;
    }

    public void Dispose()
    {
        foreach (var key in _byAge)
        {
            key.Dispose();
        }

        _byAge.Clear();
        _byId.Clear();
    }

    private void RemoveNode(LinkedListNode<SkippedMessageKey> node)
    {
        _byId.Remove((node.Value.Chain, node.Value.MessageNumber));
        _byAge.Remove(node);
        node.Value.Dispose();
    }
}
