using System.Text.Json;
using System.Text.RegularExpressions;

namespace SecureChat.Tests.EncryptedStore;

/// <summary>
/// <c>history CONTACT --limit N [--before ID]</c> over the fixture's 26-line chat: pages of the
/// newest messages, walked back with the first ID of each page, visit every message exactly once.
/// </summary>
[Collection(ChattedStore.Collection)]
public sealed partial class HistoryPagingTests
{
    private const int PageSize = 10;

    private readonly ChattedStore _store;

    public HistoryPagingTests(ChattedStore store)
    {
        _store = store;
    }

    [Fact]
    public async Task History_PagedBackWithBefore_VisitsEveryMessageOnceNewestPageFirst()
    {
        var all = await ProgramRun.RunAsync(ChattedStore.ListenerPassphrase, "--home", _store.Listener.Path, "history", _store.ConnectorIdentity.Id, "--limit", "100", "--json");
        Assert.True(all.ExitCode == 0, all.Transcript);
        using var document = JsonDocument.Parse(string.Join('\n', all.Stdout));
        var everyId = document.RootElement.EnumerateArray().Select(m => m.GetProperty("id").GetString()!).ToList();
        Assert.True(everyId.Count == ChattedStore.Turns.Count && ChattedStore.Turns.Count >= 25, all.Transcript);

        var newest = await PageAsync(before: null);
        Assert.Equal(everyId[^PageSize..], newest.Select(p => p.Id));
        Assert.Equal(ChattedStore.Turns.Skip(everyId.Count - PageSize).Select(t => t.Text), newest.Select(p => p.Text));

        var walked = new List<string>(newest.Select(p => p.Id));
        var pageSizes = new List<int> { newest.Count };
        for (var page = newest; page.Count > 0;)
        {
            Assert.True(pageSizes.Count <= everyId.Count, "paging did not end");
            page = await PageAsync(before: page[0].Id);
            pageSizes.Add(page.Count);
            walked.InsertRange(0, page.Select(p => p.Id));
        }

        Assert.Equal([10, 10, 6, 0], pageSizes);
        Assert.Equal(everyId, walked);
    }

    [Theory]
    [InlineData("zz")]
    [InlineData("0123456789abcdef0123456789abcde")]
    [InlineData("0123456789abcdef0123456789abcdef0")]
    [InlineData("0123456789abcdef0123456789abcdeg")]
    [InlineData("-1")]
    public async Task History_MalformedBefore_ExitsTwoWithASentence(string before)
    {
        var run = await ProgramRun.RunAsync(ChattedStore.ListenerPassphrase, "--home", _store.Listener.Path, "history", _store.ConnectorIdentity.Id, "--before", before);

        Assert.True(run.ExitCode == 2, run.Transcript);
        Assert.Contains("is not a message ID", ProgramRun.SingleErrorSentence(run), StringComparison.Ordinal);
    }

    /// <summary>One page in text form: each line is the message ID, two spaces, then the time, who and the text.</summary>
    private async Task<List<(string Id, string Text)>> PageAsync(string? before)
    {
        string[] args = ["--home", _store.Listener.Path, "history", _store.ConnectorIdentity.Id, "--limit", PageSize.ToString(System.Globalization.CultureInfo.InvariantCulture)];
        var run = await ProgramRun.RunAsync(ChattedStore.ListenerPassphrase, before is null ? args : [.. args, "--before", before]);
        Assert.True(run.ExitCode == 0, run.Transcript);
        Assert.Equal(string.Empty, run.Stderr);
        var page = new List<(string, string)>();
        if (run.Stdout is ["No older messages."] && before is not null)
        {
            return page;
        }

        foreach (var line in run.Stdout)
        {
            var match = HistoryLine().Match(line);
            Assert.True(match.Success, $"not a history line: {line}\n{run.Transcript}");
            page.Add((match.Groups["id"].Value, match.Groups["text"].Value));
        }

        return page;
    }

    [GeneratedRegex(@"^(?<id>[0-9a-f]{32})  \[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] (me|" + ChattedStore.ConnectorName + @"): (?<text>.*?)(  \(delivered\))?$")]
    private static partial Regex HistoryLine();
}
