using System.Text.Json;
using SecureChat.Storage;

namespace SecureChat.Api;

/// <summary>
/// <c>api.json</c> in the data directory, mode 0600: where the running node's local API listens and
/// the random token that opens it. Whoever can read the file can use the node, like the keys
/// beside it; it is removed when the node stops.
/// </summary>
internal sealed record ApiFile(string Url, string Token, int ProcessId)
{
    public const string FileName = "api.json";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static string PathIn(string directory) => Path.Combine(directory, FileName);

    public void Write(string directory) => DataDirectory.WriteAtomically(PathIn(directory), JsonSerializer.SerializeToUtf8Bytes(this, Json));

    /// <summary>The file of a node that says it runs, or null.</summary>
    public static ApiFile? Read(string directory)
    {
        try
        {
            return JsonSerializer.Deserialize<ApiFile>(File.ReadAllBytes(PathIn(directory)), Json);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    public static void Delete(string directory)
    {
        try
        {
            File.Delete(PathIn(directory));
        }
        catch (IOException)
        {
            // Left behind: the next client finds nobody at the address and uses the store.
        }
    }
}
