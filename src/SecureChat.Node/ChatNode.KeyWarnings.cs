using System.Collections.Concurrent;
using SecureChat.Storage;

namespace SecureChat.Node;

/// <summary>Key warnings: a peer at a contact's address that presented another key is refused, and the person is told until they have seen it.</summary>
public sealed partial class ChatNode
{
    private readonly ConcurrentDictionary<string, string> _keyWarnings = new(StringComparer.Ordinal);

    /// <summary>The warning the person last dismissed, per contact: the same refusal again (a redial to the same impostor) does not raise it anew.</summary>
    private readonly ConcurrentDictionary<string, string> _dismissedWarnings = new(StringComparer.Ordinal);

    /// <summary>
    /// Makes a refusal's report and the person's dismissal one step each. A link reports on its own
    /// thread: checked apart, a report that had looked for a dismissal just before the person
    /// dismissed would raise the warning again right after it, and its event would come after the
    /// dismissal's.
    /// </summary>
    private readonly Lock _keyWarningLock = new();

    /// <summary>
    /// Why a peer at a contact's address was refused for presenting another key, until the person
    /// has seen it (<see cref="DismissKeyWarning"/>); null when nothing was refused.
    /// </summary>
    public string? KeyWarning(Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        return _keyWarnings.TryGetValue(contact.Account, out var warning) ? warning : null;
    }

    /// <summary>The person has read the key warning of a contact; returns false when there was none.</summary>
    public bool DismissKeyWarning(Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        lock (_keyWarningLock)
        {
            var dismissed = _keyWarnings.TryRemove(contact.Account, out var warning);
            if (dismissed)
            {
                _dismissedWarnings[contact.Account] = warning!;
                Events.Publish(new ContactChanged(contact, false));
            }

            return dismissed;
        }
    }

    /// <summary>A peer at a contact's address presented another key and was refused: kept until the person dismisses it.</summary>
    internal void ReportKeyChange(string contactAccount, string endpoint, string message)
    {
        lock (_keyWarningLock)
        {
            if (_dismissedWarnings.TryGetValue(contactAccount, out var seen) && seen == message)
            {
                // The same key at the same address, already acknowledged: refused again, not warned again.
                return;
            }

            _keyWarnings[contactAccount] = message;
            Events.Publish(new ConnectionProblem(contactAccount, endpoint, message, KeyChanged: true));
        }
    }
}
