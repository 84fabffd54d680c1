using System.Globalization;
using System.Text.Json;
using SecureChat.Net;
using SecureChat.Protocol.Identity;
using SecureChat.Storage;

namespace SecureChat.Cli;

/// <summary><c>securechat contacts add|list|rename|remove|verify</c> and <c>securechat history</c>.</summary>
internal static class ContactCommands
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static int Add(string directory, string id, string? name, string? endpoint)
    {
        if (!AccountId.TryParse(id, out var account))
        {
            throw new UsageException($"'{id}' is not a SecureChat ID: an ID is {AccountId.TextLength} characters, as `securechat id` prints it.");
        }

        if (name is not null && !ContactBook.IsValidName(name))
        {
            throw new UsageException(ContactBook.NameRule);
        }

        string? address = null;
        if (endpoint is not null)
        {
            address = PeerEndpoint.TryParse(endpoint, out var parsed, out var error) ? parsed.ToString() : throw new UsageException(error);
        }

        using var node = NodeHome.Open(directory);
        var contact = node.Contacts.Add(account, name, address, DateTimeOffset.UtcNow);
        Console.WriteLine($"Added '{contact.Name}' ({contact.Account}), fingerprint {account.Fingerprint}.");
        Console.WriteLine($"Safety number: {SafetyNumber.Compute(node.Identity.Account, account)}");
        return ExitCodes.Ok;
    }

    public static int List(string directory, bool json)
    {
        using var node = NodeHome.Open(directory);
        var contacts = node.Contacts.All;
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(contacts.Select(c => new
            {
                name = c.Name,
                id = c.Account,
                fingerprint = c.AccountId.Fingerprint,
                displayName = c.DisplayName,
                met = c.Certificate is not null,
                verified = c.VerifiedAt is not null,
                verifiedAt = c.VerifiedAt,
                firstSeen = c.FirstSeen,
                lastSeen = c.LastSeen,
                endpoints = c.Endpoints,
                messages = node.Store.Messages.Count(c),
            }), Json));
            return ExitCodes.Ok;
        }

        if (contacts.Count == 0)
        {
            Console.WriteLine("No contacts yet: `securechat contacts add ID` adds one, and everyone you chat with becomes one.");
            return ExitCodes.Ok;
        }

        foreach (var c in contacts)
        {
            var verified = c.VerifiedAt is null ? "not verified" : "verified";
            var seen = c.Certificate is null ? "never met" : $"last seen {c.LastSeen.ToLocalTime().ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)}";
            var endpoint = c.Endpoints.Count > 0 ? $", at {c.Endpoints[0]}" : string.Empty;
            Console.WriteLine($"{DisplayText.Sanitize(c.Name)}  {c.Account}  {c.AccountId.Fingerprint}  {verified}, {seen}{endpoint}");
        }

        return ExitCodes.Ok;
    }

    public static int Rename(string directory, string contactName, string newName)
    {
        if (!ContactBook.IsValidName(newName))
        {
            throw new UsageException(ContactBook.NameRule);
        }

        using var node = NodeHome.Open(directory);
        var contact = node.Contacts.Resolve(contactName);
        node.Contacts.Rename(contact, newName);
        Console.WriteLine($"Renamed '{DisplayText.Sanitize(contact.Name)}' to '{newName}'.");
        return ExitCodes.Ok;
    }

    public static int Remove(string directory, string contactName)
    {
        using var node = NodeHome.Open(directory);
        var contact = node.Contacts.Resolve(contactName);
        var messages = node.Contacts.Remove(contact);
        Console.WriteLine($"Removed '{DisplayText.Sanitize(contact.Name)}' and {messages} message{(messages == 1 ? string.Empty : "s")} of your conversation.");
        return ExitCodes.Ok;
    }

    /// <summary>Shows the safety number; records the verification when the person confirms it matches.</summary>
    public static int Verify(string directory, string contactName, bool yes)
    {
        using var node = NodeHome.Open(directory);
        var contact = node.Contacts.Resolve(contactName);
        Console.WriteLine($"Safety number with '{DisplayText.Sanitize(contact.Name)}':");
        Console.WriteLine($"  {SafetyNumber.Compute(node.Identity.Account, contact.AccountId)}");
        Console.WriteLine("Compare it with the number your contact sees, in person or by phone.");
        if (!yes)
        {
            if (Console.IsInputRedirected)
            {
                Console.WriteLine("Nothing recorded: run again with --yes once the numbers match.");
                return ExitCodes.Ok;
            }

            Console.Write("Do the numbers match? [y/N] ");
            if (Console.ReadLine()?.Trim().ToUpperInvariant() is not ("Y" or "YES"))
            {
                Console.WriteLine("Not marked as verified. If the numbers differ, someone may be intercepting: do not trust this contact's key.");
                return ExitCodes.Ok;
            }
        }

        node.Contacts.MarkVerified(contact, DateTimeOffset.UtcNow);
        Console.WriteLine($"'{DisplayText.Sanitize(contact.Name)}' is marked as verified.");
        return ExitCodes.Ok;
    }

    public static int Search(string directory, string query, string? contactName, int limit, bool json)
    {
        if (limit <= 0)
        {
            throw new UsageException("--limit takes a positive number of messages.");
        }

        if (Storage.Search.SearchText.Terms(query).Count == 0)
        {
            throw new UsageException("The query has no words to look for: give at least one word or the beginning of one.");
        }

        using var node = NodeHome.Open(directory);
        var contact = contactName is null ? null : node.Contacts.Resolve(contactName);
        var found = node.Store.Messages.Search(query, contact, limit);
        if (json)
        {
            Print(found, json: true);
            return ExitCodes.Ok;
        }

        if (found.Count == 0)
        {
            Console.WriteLine("No message matches.");
            return ExitCodes.Ok;
        }

        foreach (var m in found)
        {
            var at = (m.Outgoing ? m.SentAt : m.ReceivedAt ?? m.SentAt).ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
            var who = m.Outgoing ? "me" : DisplayText.Sanitize(m.ContactName);
            Console.WriteLine($"[{at}] {DisplayText.Sanitize(m.ContactName)} · {who}: {DisplayText.Sanitize(m.Text)}");
        }

        return ExitCodes.Ok;
    }

    public static int History(string directory, string contactName, int limit, string? before, bool json)
    {
        if (limit <= 0)
        {
            throw new UsageException("--limit takes a positive number of messages.");
        }

        if (before is not null && (before.Length != 32 || !before.All(Uri.IsHexDigit)))
        {
            throw new UsageException($"'{before}' is not a message ID: an ID is 32 hexadecimal characters, as `securechat history` prints them.");
        }

        using var node = NodeHome.Open(directory);
        var contact = node.Contacts.Resolve(contactName);
        var page = node.Store.Messages.History(contact, limit, before?.ToLowerInvariant());
        if (json)
        {
            Print(page, json: true);
            return ExitCodes.Ok;
        }

        if (page.Count == 0)
        {
            Console.WriteLine(before is null ? "No messages yet." : "No older messages.");
            return ExitCodes.Ok;
        }

        foreach (var m in page)
        {
            var at = (m.Outgoing ? m.SentAt : m.ReceivedAt ?? m.SentAt).ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
            var who = m.Outgoing ? "me" : DisplayText.Sanitize(m.ContactName);
            var state = m.Outgoing ? $"  ({m.State.ToString().ToLowerInvariant()})" : string.Empty;
            Console.WriteLine($"{m.MessageId}  [{at}] {who}: {DisplayText.Sanitize(m.Text)}{state}");
        }

        return ExitCodes.Ok;
    }

    private static void Print(IReadOnlyList<StoredMessage> messages, bool json)
    {
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(messages.Select(m => new
            {
                id = m.MessageId,
                contact = m.ContactName,
                contactId = m.ContactAccount,
                direction = m.Outgoing ? "out" : "in",
                sentAt = m.SentAt,
                receivedAt = m.ReceivedAt,
                state = m.State.ToString().ToLowerInvariant(),
                text = m.Text,
            }), Json));
        }
    }
}
