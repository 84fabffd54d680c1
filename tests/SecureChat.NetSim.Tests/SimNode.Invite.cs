using System.Text.Json;

namespace SecureChat.NetSim.Tests;

/// <summary>The running node's invite link, as <c>securechat id --invite</c> prints it.</summary>
internal sealed partial class SimNode
{
    /// <summary>GET /api/invite?withAddress=true: the link with the addresses the node advertises.</summary>
    public async Task<string> InviteAsync()
    {
        using var response = await Api.GetAsync("api/invite?withAddress=true&oneTime=false");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{Name}: the invite answered {(int)response.StatusCode}: {body}");
        using var invite = JsonDocument.Parse(body);
        return invite.RootElement.GetProperty("link").GetString()!;
    }
}
