using System.Net;
using System.Text.Json;
using SecureChat.Dht;
using SecureChat.Storage;

namespace SecureChat.Node.Discovery;

/// <summary>
/// <c>dht.json</c> in the data directory: the DHT node's ID and up to 64 nodes it knew, so that a
/// restarted node keeps its place in the DHT and rejoins through nodes it met before, without
/// needing the public routers. It holds no secret: a node ID is public, and the nodes are DHT
/// nodes anyone can find. Read defensively: a damaged file is ignored.
/// </summary>
internal sealed record DhtState(string Id, IReadOnlyList<string> Nodes)
{
    public const string FileName = "dht.json";
    public const int MaxNodes = 64;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public NodeId? ParseId() => Dht.NodeId.TryParseHex(Id, out var id) ? id : null;

    /// <summary>The saved nodes that parse as IPv4 endpoints with a port, at most 64.</summary>
    public List<IPEndPoint> ParseNodes() =>
        [.. (Nodes ?? []).Take(MaxNodes)
            .Select(n => IPEndPoint.TryParse(n, out var e) ? e : null)
            .OfType<IPEndPoint>()
            .Where(e => e.Port > 0 && e.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)];

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

    public static DhtState Of(DhtNode node) =>
        new(node.Id.ToString(), [.. node.Routing.All.Where(e => !e.IsBad).OrderByDescending(e => e.LastResponse).Take(MaxNodes).Select(e => e.EndPoint.ToString())]);

    public void Write(string path) => DataDirectory.WriteAtomically(path, JsonSerializer.SerializeToUtf8Bytes(this, Json));
}
