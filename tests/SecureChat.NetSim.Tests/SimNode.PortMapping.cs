using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace SecureChat.NetSim.Tests;

/// <summary>What a running node says about its port mappings and the endpoints it advertises.</summary>
internal sealed partial class SimNode
{
    /// <summary>GET /api/status: <c>portMapping</c> (its sentence and leases), or null when the node has not asked yet.</summary>
    public async Task<PortMappingView?> PortMappingAsync()
    {
        using var response = await Api.GetAsync("api/status");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{Name}: /api/status answered {(int)response.StatusCode}: {body}");
        using var status = JsonDocument.Parse(body);
        if (!status.RootElement.TryGetProperty("portMapping", out var mapping) || mapping.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var leases = mapping.GetProperty("leases").EnumerateArray().Select(l => new LeaseView(
            l.GetProperty("protocol").GetString()!,
            l.GetProperty("internalPort").GetInt32(),
            IPEndPoint.Parse(l.GetProperty("external").GetString()!),
            l.GetProperty("expires").GetDateTimeOffset(),
            l.GetProperty("method").GetString()!)).ToList();
        return new PortMappingView(mapping.GetProperty("sentence").GetString()!, leases);
    }

    /// <summary>The endpoints the node advertises, in its order, from the <c>at=</c> of an invite link with its address (GET /api/invite?withAddress=true).</summary>
    public async Task<IReadOnlyList<string>> AdvertisedAsync()
    {
        using var response = await Api.GetAsync("api/invite?withAddress=true");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{Name}: /api/invite answered {(int)response.StatusCode}: {body}");
        using var invite = JsonDocument.Parse(body);
        return [.. InviteAddress().Matches(invite.RootElement.GetProperty("link").GetString()!).Select(m => Uri.UnescapeDataString(m.Groups["at"].Value))];
    }

    /// <summary>Stops the node with SIGTERM, as a service manager would, and waits until it has exited (it gives its mappings back on the way).</summary>
    public async Task StopAsync()
    {
        var process = _process ?? throw new InvalidOperationException($"{Name} is not running.");
        await process.TerminateAsync();
        var code = await process.WaitForExitAsync(Testing.ChildProcess.Timeout);
        Assert.True(code == 0, $"{Name} exited {code} at SIGTERM:\n{Transcript}");
    }

    [GeneratedRegex(@"[?&]at=(?<at>[^&]+)")]
    private static partial Regex InviteAddress();
}

/// <summary>A node's <c>portMapping</c> in /api/status.</summary>
internal sealed record PortMappingView(string Sentence, IReadOnlyList<LeaseView> Leases)
{
    public LeaseView? Tcp => Leases.FirstOrDefault(l => l.Protocol == "tcp");

    public LeaseView? Udp => Leases.FirstOrDefault(l => l.Protocol == "udp");
}

/// <summary>One lease as /api/status shows it.</summary>
internal sealed record LeaseView(string Protocol, int InternalPort, IPEndPoint External, DateTimeOffset Expires, string Method);
