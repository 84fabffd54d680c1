using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace SecureChat.Tests.Web;

/// <summary>
/// One test's browser context: its own cookies and storage, and every page opened in it (popups
/// included) watched from the start for console errors and uncaught exceptions. A page must never
/// throw or log an error, so tests end with <see cref="AssertNoErrors"/>. Disposing closes the
/// context (and the browser, when the session launched one of its own).
/// </summary>
public sealed partial class BrowserSession : IAsyncDisposable
{
    /// <summary>How Chromium words a response with an error status in the console.</summary>
    private const string FailedLoad = "Failed to load resource: ";

    /// <summary>
    /// The UI's page without a session is the explainer, answered 401 on purpose (its script then
    /// trades the link's token for a session): every login logs this once for <c>/</c>.
    /// </summary>
    private const string ExplainerRefusal = "Failed to load resource: the server responded with a status of 401 (Unauthorized)";

    private readonly Lock _gate = new();
    private readonly List<PageError> _errors = [];
    private readonly IBrowser? _ownBrowser;
    private readonly ITestOutputHelper _output;

    internal BrowserSession(IBrowserContext context, IBrowser? ownBrowser, ITestOutputHelper output)
    {
        Context = context;
        _ownBrowser = ownBrowser;
        _output = output;
        context.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                Record(new PageError(message.Page?.Url, "console error", message.Text, message.Location));
            }
        };
        context.WebError += (_, error) => Record(new PageError(error.Page?.Url, "uncaught exception", error.Error, null));
    }

    public IBrowserContext Context { get; }

    /// <summary>The errors seen so far, oldest first.</summary>
    public IReadOnlyList<PageError> Errors
    {
        get
        {
            lock (_gate)
            {
                return [.. _errors];
            }
        }
    }

    /// <summary>A new page (tab) in this context.</summary>
    public Task<IPage> NewPageAsync() => Context.NewPageAsync();

    /// <summary>
    /// Fails the test, listing them, if any page logged a console error or threw. A test that
    /// provokes a refusal on purpose (a wrong token, say) names the refused paths: Chromium's
    /// "Failed to load resource" line for a response from one of them is then expected, and
    /// every other error still fails. The explainer's 401 for <c>/</c> is always expected.
    /// </summary>
    public void AssertNoErrors(params string[] refusedPaths)
    {
        var unexpected = Errors.Where(e => !IsExpectedRefusal(e, refusedPaths)).ToList();
        if (unexpected.Count > 0)
        {
            throw new XunitException($"The pages reported {unexpected.Count} error(s):\n{string.Join('\n', unexpected)}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Context.CloseAsync();
        if (_ownBrowser is not null)
        {
            await _ownBrowser.CloseAsync();
        }
    }

    private void Record(PageError error)
    {
        lock (_gate)
        {
            _errors.Add(error);
        }

        try
        {
            _output.WriteLine(error.ToString());
        }
        catch (InvalidOperationException)
        {
            // The test has ended (a page logged while its context closed): the list still has it.
        }
    }

    private static bool IsExpectedRefusal(PageError error, string[] refusedPaths) =>
        error.Kind == "console error"
        && error.Text.StartsWith(FailedLoad, StringComparison.Ordinal)
        && error.Location is { } location
        && LineAndColumn().Match(location) is { Success: true } match
        && Uri.TryCreate(match.Groups["url"].Value, UriKind.Absolute, out var url)
        && (refusedPaths.Contains(url.AbsolutePath, StringComparer.Ordinal)
            || (url.AbsolutePath == "/" && error.Text == ExplainerRefusal));

    /// <summary>A console message's location: <c>URL:line:column</c>.</summary>
    [GeneratedRegex(@"^(?<url>.+):\d+:\d+$")]
    private static partial Regex LineAndColumn();
}

/// <summary>A console error or an uncaught exception on a page.</summary>
/// <param name="PageUrl">The page's address when it happened.</param>
/// <param name="Kind">"console error" or "uncaught exception".</param>
/// <param name="Text">The message, or the exception with its stack.</param>
/// <param name="Location">For a console error, the URL (then line and column) it came from.</param>
public sealed record PageError(string? PageUrl, string Kind, string Text, string? Location)
{
    public override string ToString() => $"{Kind} on {PageUrl ?? "(no page)"}: {Text}{(Location is null ? string.Empty : $" at {Location}")}";
}
