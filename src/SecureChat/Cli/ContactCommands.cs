using System.Globalization;
using System.Text.Json;
using SecureChat.Api;
using SecureChat.Protocol.Identity;
using SecureChat.Storage;

namespace SecureChat.Cli;

/// <summary><c>securechat contacts add|list|rename|remove|verify</c> and <c>securechat history</c>.</summary>
internal static class ContactCommands
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static int Add(string directory, string idOrLink, string? name, string? endpoint)
    {
        var add = NewContact.Parse(idOrLink, name, endpoint);
        var (account, address) = (add.Account, add.Endpoint);
        using var node = NodeAccess.Open(directory);
        var contact = node.Add(add);
        Console.WriteLine($"Added '{contact.Name}' ({contact.Id}), fingerprint {account.Fingerprint}.");
        Console.WriteLine($"Safety number: {SafetyNumber.Compute(node.Self, account)}");
        if (add.InviteToken is not null)
        {
            Console.WriteLine("The link is a one-time invite: the first time your nodes meet, you are a contact at its end without a request.");
        }
        if (address is null)
        {
            Console.Error.WriteLine("No address given: a running node (`securechat run`) finds the contact through the DHT or on the local network, once the contact has added you too.");
        }

        return ExitCodes.Ok;
    }

    public static int List(string directory, bool json)
    {
        using var node = NodeAccess.Open(directory);
        var contacts = node.Contacts();
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(contacts, Json));
            return ExitCodes.Ok;
        }

        if (contacts.Count == 0)
        {
            Console.WriteLine("No contacts yet: `securechat contacts add ID` adds one, and everyone you chat with becomes one.");
            return ExitCodes.Ok;
        }

        foreach (var c in contacts)
        {
            var verified = c.Verified ? "verified" : "not verified";
            var seen = c.Online ? "online" : !c.Met ? "never met" : $"last seen {c.LastSeen.ToLocalTime().ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)}";
            var endpoint = c.Endpoints.Count > 0 ? $", at {c.Endpoints[0]}" : string.Empty;
            var unread = c.Unread > 0 ? $", {c.Unread} unread" : string.Empty;
            // A name the person did not choose is shown as the peer's claim, never as a name.
            var shown = c.Named ? DisplayText.Sanitize(c.Name) : $"(calls themself \"{DisplayText.Sanitize(c.DisplayName)}\")";
            Console.WriteLine($"{shown}  {c.Id}  {c.Fingerprint}  {verified}, {seen}{endpoint}{unread}");
        }

        return ExitCodes.Ok;
    }

    public static int Rename(string directory, string contactName, string newName)
    {
        if (!ContactBook.IsValidName(newName))
        {
            throw new UsageException(ContactBook.NameRule);
        }

        using var node = NodeAccess.Open(directory);
        var contact = node.Contact(contactName);
        node.Rename(contactName, newName);
        Console.WriteLine($"Renamed '{DisplayText.Sanitize(contact.Name)}' to '{newName}'.");
        return ExitCodes.Ok;
    }

    public static int Remove(string directory, string contactName)
    {
        using var node = NodeAccess.Open(directory);
        var contact = node.Contact(contactName);
        var messages = node.Remove(contact.Id);
        Console.WriteLine($"Removed '{DisplayText.Sanitize(contact.Name)}' and {messages} message{(messages == 1 ? string.Empty : "s")} of your conversation.");
        return ExitCodes.Ok;
    }

    /// <summary>Shows the safety number; records the verification when the person confirms it matches.</summary>
    public static int Verify(string directory, string contactName, bool yes)
    {
        using var node = NodeAccess.Open(directory);
        var contact = node.Contact(contactName);
        Console.WriteLine($"Safety number with '{DisplayText.Sanitize(contact.Name)}':");
        Console.WriteLine($"  {SafetyNumber.Compute(node.Self, AccountIdOf(contact))}");
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

        node.MarkVerified(contact.Id);
        Console.WriteLine($"'{DisplayText.Sanitize(contact.Name)}' is marked as verified.");
        return ExitCodes.Ok;
    }

    public static int Search(string directory, string query, string? contactName, int limit, bool json)
    {
        CheckLimit(limit);

        if (Storage.Search.SearchText.Terms(query).Count == 0)
        {
            throw new UsageException("The query has no words to look for: give at least one word or the beginning of one.");
        }

        using var node = NodeAccess.Open(directory);
        var found = node.Search(query, contactName, limit);
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
            var who = m.Outgoing ? "me" : DisplayText.Sanitize(m.Contact);
            Console.WriteLine($"[{at}] {DisplayText.Sanitize(m.Contact)} · {who}: {DisplayText.Sanitize(m.Text)}");
        }

        return ExitCodes.Ok;
    }

    public static int History(string directory, string contactName, int limit, string? before, bool json)
    {
        CheckLimit(limit);

        if (before is not null && (before.Length != 32 || !before.All(Uri.IsHexDigit)))
        {
            throw new UsageException($"'{before}' is not a message ID: an ID is 32 hexadecimal characters, as `securechat history` prints them.");
        }

        using var node = NodeAccess.Open(directory);
        var page = node.History(contactName, limit, before?.ToLowerInvariant());
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
            var who = m.Outgoing ? "me" : DisplayText.Sanitize(m.Contact);
            var state = m.Outgoing ? $"  ({m.State})" : string.Empty;
            Console.WriteLine($"{m.Id}  [{at}] {who}: {DisplayText.Sanitize(m.Text)}{state}");
        }

        return ExitCodes.Ok;
    }

    /// <summary>The same range whether a node answers or the store is read directly: one page of the API.</summary>
    private static void CheckLimit(int limit)
    {
        if (limit is <= 0 or > LocalApi.MaxPage)
        {
            throw new UsageException($"--limit takes a number of messages from 1 to {LocalApi.MaxPage}.");
        }
    }

    private static void Print(IReadOnlyList<MessageView> messages, bool json)
    {
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(messages, Json));
        }
    }

    private static AccountId AccountIdOf(ContactView contact) =>
        AccountId.TryParse(contact.Id, out var id) ? id : throw new StoreException(StoreError.Corrupt, "A contact's account ID is damaged.");
}
