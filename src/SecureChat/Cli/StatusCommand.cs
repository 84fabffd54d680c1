using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using SecureChat.Api;
using SecureChat.Protocol.Identity;

namespace SecureChat.Cli;

/// <summary>
/// <c>securechat status [--json]</c>: asks the node running for the data directory, through its
/// local API, how it is doing: how contacts can reach it and why (the reachability sentence),
/// where it listens, its DHT, its port mapping, and each contact's presence and connection. Only
/// a running node knows any of this, so without one the verb says so and fails.
/// </summary>
internal static class StatusCommand
{
    /// <summary>A node that is starting is waited for a little; a stopped one answers at once (no <c>api.json</c>).</summary>
    private static readonly TimeSpan Probe = TimeSpan.FromSeconds(5);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static int Run(string directory, bool json)
    {
        using var client = ApiClient.TryConnect(directory, Probe);
        if (client is null)
        {
            Console.Error.WriteLine($"securechat: no node runs for {directory}: start it with `securechat run` (only a running node knows how it is reached).");
            return ExitCodes.Failure;
        }

        var status = client.Get<JsonObject>("api/status");
        var contacts = client.Get<List<ContactView>>("api/contacts");
        if (json)
        {
            // One object for scripts: the node's /api/status as it answered, and its contacts as /api/contacts shows them.
            var output = new JsonObject
            {
                ["status"] = status,
                ["contacts"] = JsonSerializer.SerializeToNode(contacts, Json),
            };
            Console.WriteLine(output.ToJsonString(Json));
            return ExitCodes.Ok;
        }

        foreach (var line in Describe(status, contacts))
        {
            Console.WriteLine(line);
        }

        return ExitCodes.Ok;
    }

    /// <summary>The status as lines for a person: the sentence first, then the parts it rests on, then the contacts.</summary>
    internal static IEnumerable<string> Describe(JsonObject status, IReadOnlyList<ContactView> contacts)
    {
        var reachability = status["reachability"] as JsonObject;
        yield return $"Reachability: {Text(reachability?["sentence"]) ?? "not reported"}";
        yield return $"Listening:    {Text(status["listen"]) ?? "no (contacts cannot dial this node)"}";
        yield return $"DHT:          {DhtLine(status["dht"] as JsonObject)}";
        yield return $"Port mapping: {PortMappingLine(status["portMapping"])}";
        if (reachability?["observed"] is JsonArray { Count: > 0 } observed)
        {
            yield return "Seen from outside:";
            foreach (var o in observed.OfType<JsonObject>())
            {
                var by = Text(o["source"]) == "dht" ? "the DHT" : $"contact {Abbreviate(Text(o["witness"]))} at {Text(o["witnessAddress"])}";
                var kept = o["portKept"]?.GetValue<bool>() == true ? "port kept" : "port changed";
                yield return $"  at {Text(o["observed"])} by {by} ({Text(o["direction"])}, local {Text(o["local"])}, {kept})";
            }
        }

        if (contacts.Count == 0)
        {
            yield return "Contacts:     none yet";
            yield break;
        }

        yield return "Contacts:";
        foreach (var c in contacts)
        {
            var shown = c.Named ? DisplayText.Sanitize(c.Name) : $"(calls themself \"{DisplayText.Sanitize(c.DisplayName)}\")";
            var presence = c.Online
                ? $"online, {c.Connection?.Sentence ?? "connected"}"
                : !c.Met ? "offline, never met" : $"offline, last seen {c.LastSeen.ToLocalTime().ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)}";
            yield return $"  {shown}  {c.Fingerprint}  {presence}";
        }
    }

    private static string DhtLine(JsonObject? dht)
    {
        if (dht is null)
        {
            return "off";
        }

        var nodes = dht["nodes"]?.GetValue<int>() ?? 0;
        var seen = Text(dht["observedAddress"]) is { } observed ? $", seen at {observed}" : string.Empty;
        var mode = dht["readOnly"]?.GetValue<bool>() == true ? ", read-only (asks, answers no one)" : string.Empty;
        return $"UDP port {dht["port"]}, {nodes} nodes known{seen}{mode}";
    }

    /// <summary>The port mapping's sentence, whether the node reports it as an object with a sentence or as a sentence.</summary>
    private static string PortMappingLine(JsonNode? mapping) => mapping switch
    {
        JsonObject o when Text(o["sentence"]) is { } sentence => sentence,
        JsonValue v when v.TryGetValue<string>(out var sentence) => sentence,
        _ => "not tried (yet)",
    };

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var text) ? text : null;

    private static string Abbreviate(string? id) => id is { Length: > 12 } ? id[..12] + "…" : id ?? "?";
}
