using System.Globalization;
using System.Text.Json;
using SecureChat.Protocol.Identity;

namespace SecureChat.Cli;

/// <summary>
/// <c>securechat requests [accept|decline|block]</c> and <c>securechat contacts block|blocked|unblock</c>:
/// strangers who connected on their own wait as requests until the person answers them.
/// </summary>
internal static class RequestCommands
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static int List(string directory, bool json)
    {
        using var node = NodeAccess.Open(directory);
        var requests = node.Requests();
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(requests, Json));
            return ExitCodes.Ok;
        }

        if (requests.Count == 0)
        {
            Console.WriteLine("No contact requests.");
            return ExitCodes.Ok;
        }

        foreach (var r in requests)
        {
            var since = r.FirstSeen.ToLocalTime().ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
            Console.WriteLine($"{r.Id}  {r.Fingerprint}  calls themself \"{DisplayText.Sanitize(r.DisplayName)}\", since {since}, {r.Held} message{(r.Held == 1 ? string.Empty : "s")}");
            foreach (var m in r.Messages)
            {
                Console.WriteLine($"    {DisplayText.Sanitize(m.Text)}");
            }
        }

        Console.WriteLine("`securechat requests accept ID [--name NAME]` makes one a contact; `decline ID` forgets it; `block ID` refuses it from now on.");
        return ExitCodes.Ok;
    }

    public static int Accept(string directory, string id, string? name)
    {
        using var node = NodeAccess.Open(directory);
        var contact = node.AcceptRequest(id, name);
        Console.WriteLine(contact.Named
            ? $"Accepted {contact.Id} as '{DisplayText.Sanitize(contact.Name)}'."
            : $"Accepted {contact.Id} (calls themself \"{DisplayText.Sanitize(contact.DisplayName)}\"); `securechat contacts rename {contact.Id[..8]} NAME` gives them a name.");
        return ExitCodes.Ok;
    }

    public static int Decline(string directory, string id)
    {
        using var node = NodeAccess.Open(directory);
        Console.WriteLine($"Declined {node.DeclineRequest(id)}: forgotten with what it sent; if it connects again it asks again.");
        return ExitCodes.Ok;
    }

    public static int Block(string directory, string who)
    {
        using var node = NodeAccess.Open(directory);
        Console.WriteLine($"Blocked {node.Block(who)}: its connections are refused from now on, and what it sent is deleted.");
        return ExitCodes.Ok;
    }

    public static int ListBlocked(string directory, bool json)
    {
        using var node = NodeAccess.Open(directory);
        var blocked = node.Blocked();
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(blocked, Json));
            return ExitCodes.Ok;
        }

        Console.WriteLine(blocked.Count == 0 ? "No account is blocked." : string.Join(Environment.NewLine, blocked.Select(b => $"{b.Id}  {b.Fingerprint}")));
        return ExitCodes.Ok;
    }

    public static int Unblock(string directory, string id)
    {
        using var node = NodeAccess.Open(directory);
        Console.WriteLine($"Unblocked {node.Unblock(id)}: if it connects again it asks as a new request.");
        return ExitCodes.Ok;
    }
}
