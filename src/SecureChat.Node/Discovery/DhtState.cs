using System.Net;
using System.Text.Json;
using SecureChat.Dht;
using SecureChat.Storage;

namespace SecureChat.Node.Discovery;

/// <summary>
/// <c>dht.json</c> in the data directory: up to 64 DHT nodes this node knew, so that a restarted
/// node rejoins through nodes it met before, without needing the public routers. It holds no
/// secret: the nodes are DHT nodes anyone can find. It deliberately holds no node ID: an ID kept
/// across restarts would let any DHT node link this user's stays at different addresses and days,
/// so each run starts with a random ID (and takes a new one when its address moves). Files
/// written before carried an "id"; it is ignored when read and gone at the next write.
/// Read defensively: a damaged file is ignored.
/// </summary>
internal sealed record DhtState(IReadOnlyList<string> Nodes)
{
    public const string FileName = "dht.json";
    public const int MaxNodes = 64;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The saved nodes that parse as IPv4 or IPv6 endpoints with a port, at most 64.</summary>
    public List<IPEndPoint> ParseNodes() =>
        [.. (Nodes ?? []).Take(MaxNodes)
            .Select(n => IPEndPoint.TryParse(n, out var e) ? e : null)
            .OfType<IPEndPoint>()
            .Select(Compact.Normalize)
            .Where(e => e.Port > 0 && Compact.IsNodeAddress(e.Address))];

    public static DhtState? Read(string path)
    {
        try
        {
            var info = new FileInfo(path);
            return info.Exists && info.Length <= 16_384 ? JsonSerializer.Deserialize<DhtState>(File.ReadAllBytes(path), Json) : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    /// <summary>The most recently heard of the good nodes of both tables (BEP 32), IPv6 ones written as [ADDRESS]:PORT.</summary>
    public static DhtState Of(DhtNode node) =>
        new([.. node.Routing.All.Concat(node.Routing6.All).Where(e => !e.IsBad).OrderByDescending(e => e.LastResponse).Take(MaxNodes).Select(e => e.EndPoint.ToString())]);

    public void Write(string path) => DataDirectory.WriteAtomically(path, JsonSerializer.SerializeToUtf8Bytes(this, Json));
}
