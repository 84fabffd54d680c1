using SecureChat.Api;

namespace SecureChat.Cli;

/// <summary>
/// <c>securechat ui</c>: asks the node running for the data directory (its local API, with the
/// bearer token of <c>api.json</c>) for a fresh link to its window and prints it alone on the first
/// line. The link opens one browser, once, within a few minutes (<see cref="Web.LoginLinks"/>), so
/// this is how a second browser, or the same one after its session ended, gets in.
/// </summary>
internal static class UiCommand
{
    /// <summary>Only a running node makes links, so a busy one is waited for longer than the verbs that can use the store instead.</summary>
    private static readonly TimeSpan Probe = TimeSpan.FromSeconds(15);

    public static int Run(string directory)
    {
        using var client = ApiClient.TryConnect(directory, Probe)
            ?? throw new UsageException($"No node runs for {directory}: start it with `securechat run`, which prints a link to its window.");
        var made = client.Post<LinkBody>("api/ui-link", null);
        Console.WriteLine(made.Link);
        Console.WriteLine($"(opens one browser, once, within {Web.LoginLinks.Describe(TimeSpan.FromSeconds(made.ExpiresInSeconds))})");
        return ExitCodes.Ok;
    }

    private sealed record LinkBody(string Link, long ExpiresInSeconds);
}
