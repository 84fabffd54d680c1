using System.Text.Json;
using System.Text.RegularExpressions;

namespace SecureChat.Tests.Node;

/// <summary>The CLI verbs the node tests run against a home (through its node when one runs).</summary>
internal static partial class NodeCli
{
    /// <summary><c>securechat contacts add ID --name NAME --endpoint 127.0.0.1:PORT</c>, which must succeed.</summary>
    public static Task AddContactAsync(TemporaryHome home, CreatedIdentity contact, int port) =>
        AddContactAsync(home, contact, SecureChatCli.Address(port));

    /// <summary><c>securechat contacts add ID --name NAME --endpoint HOST:PORT</c>, which must succeed.</summary>
    public static async Task AddContactAsync(TemporaryHome home, CreatedIdentity contact, string endpoint)
    {
        var run = await ProgramRun.RunAsync((string?)null, "--home", home.Path, "contacts", "add", contact.Id, "--name", contact.Name, "--endpoint", endpoint);
        Assert.True(run.ExitCode == 0, run.Transcript);
        Assert.Equal($"Added '{contact.Name}' ({contact.Id}), fingerprint {contact.Fingerprint}.", run.Stdout[0]);
    }

    /// <summary>
    /// <c>securechat contacts add ID --name NAME</c> with no address: this home knows the account,
    /// so it is a contact when it connects (a stranger would be a contact request).
    /// </summary>
    public static async Task KnowAsync(TemporaryHome home, CreatedIdentity contact)
    {
        var run = await ProgramRun.RunAsync((string?)null, "--home", home.Path, "contacts", "add", contact.Id, "--name", contact.Name);
        Assert.True(run.ExitCode == 0, run.Transcript);
    }

    /// <summary><c>securechat send CONTACT TEXT [more]</c>, whatever its exit code.</summary>
    public static Task<FinishedRun> SendAsync(TemporaryHome home, string contact, string text, params string[] more) =>
        ProgramRun.RunAsync((string?)null, ["--home", home.Path, "send", contact, text, .. more]);

    /// <summary>
    /// The whole conversation with <paramref name="contact"/>, oldest first, from
    /// <c>securechat history CONTACT --json --limit 1000</c> paged with <c>--before</c>.
    /// </summary>
    public static async Task<IReadOnlyList<ApiMessage>> HistoryAsync(TemporaryHome home, string contact, int maxPages = 10)
    {
        var pages = new List<List<ApiMessage>>();
        string? before = null;
        for (var page = 0; page < maxPages; page++)
        {
            string[] args = ["--home", home.Path, "history", contact, "--json", "--limit", NodeApi.MaxPage.ToString(System.Globalization.CultureInfo.InvariantCulture)];
            var run = await ProgramRun.RunAsync((string?)null, before is null ? args : [.. args, "--before", before]);
            Assert.True(run.ExitCode == 0, run.Transcript);
            var messages = JsonSerializer.Deserialize<List<ApiMessage>>(string.Join('\n', run.Stdout), NodeApi.Json) ?? [];
            if (messages.Count == 0)
            {
                break;
            }

            pages.Add(messages);
            if (messages.Count < NodeApi.MaxPage)
            {
                break;
            }

            before = messages[0].Id;
        }

        pages.Reverse();
        return [.. pages.SelectMany(p => p)];
    }

    /// <summary>A message ID as <c>send</c> prints it on its first line.</summary>
    [GeneratedRegex("^[0-9a-f]{32}$")]
    public static partial Regex MessageId();
}
