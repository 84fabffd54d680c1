using System.Net;
using System.Text.Json;

namespace SecureChat.NetSim.Tests;

/// <summary>How a running node is connected to a contact, and what it holds of their conversation.</summary>
internal sealed partial class SimNode
{
    /// <summary>
    /// When the node's current connection to <paramref name="contact"/> came up (GET
    /// /api/contacts/{contact}: <c>connection.since</c>), or null while there is none.
    /// </summary>
    public async Task<DateTimeOffset?> ConnectedSinceAsync(SimNode contact)
    {
        using var response = await Api.GetAsync($"api/contacts/{Uri.EscapeDataString(contact.Name)}");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{Name}: /api/contacts/{contact.Name} answered {(int)response.StatusCode}: {body}");
        using var view = JsonDocument.Parse(body);
        return view.RootElement.TryGetProperty("connection", out var connection) && connection.ValueKind == JsonValueKind.Object
            ? connection.GetProperty("since").GetDateTimeOffset()
            : null;
    }

    /// <summary>The texts of the conversation with <paramref name="contact"/> that came in from it (GET /api/contacts/{contact}/messages, the last 100).</summary>
    public async Task<IReadOnlyList<string>> ReceivedTextsAsync(SimNode contact)
    {
        using var response = await Api.GetAsync($"api/contacts/{Uri.EscapeDataString(contact.Name)}/messages?limit=100");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{Name}: the messages with {contact.Name} answered {(int)response.StatusCode}: {body}");
        using var page = JsonDocument.Parse(body);
        return [.. page.RootElement.EnumerateArray()
            .Where(m => m.GetProperty("direction").GetString() == "in")
            .Select(m => m.GetProperty("text").GetString()!)];
    }
}
