using System.Globalization;
using Microsoft.Playwright;
using SecureChat.Testing;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace SecureChat.Tests.Web;

/// <summary>
/// The window follows the system's light or dark theme, and its text stays readable in both: every
/// pair of text and background colour below has at least the WCAG AA contrast of 4.5:1.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(BrowserCollection.Name)]
public sealed class ThemeTests(BrowserFixture browser, ITestOutputHelper output)
{
    /// <summary>Elements whose text people read, each against the background it is drawn on.</summary>
    private static readonly (string Text, string Background)[] Pairs =
    [
        ("body", "body"),
        (".brand", ".topbar"),
        ("#net-status", ".topbar"),
        ("button.contact .contact-name", ".sidebar"),
        ("button.contact .contact-sub", ".sidebar"),
        ("#listen-state", "#listen-panel"),
        ("#listen-panel label", "#listen-panel"),
        ("#listen-start", "#listen-start"),
        ("#messages li.message.out .text", "#messages li.message.out .bubble"),
        ("#messages li.message.out .meta", "#messages li.message.out .bubble"),
        ("#messages li.message.in .text", "#messages li.message.in .bubble"),
        ("#messages li.message.in .meta", "#messages li.message.in .bubble"),
        ("#send-button", "#send-button"),
        ("#remove-button", "#remove-button"),
        ("#requests-count", "#requests-count"),
        ("li.request .request-claim", "li.request"),
        ("li.request .request-fingerprint", "li.request"),
        ("li.request .request-held", "li.request"),
        ("li.request .request-messages .text", "li.request .request-messages"),
        ("li.request [data-role=block]", "li.request [data-role=block]"),
    ];

    [Theory]
    [InlineData(ColorScheme.Light)]
    [InlineData(ColorScheme.Dark)]
    public async Task Theme_FollowsTheSystem_AndEveryTextHasAaContrast(ColorScheme scheme)
    {
        await using var alice = await WebNode.StartAsync("Alice");
        await using var bob = await WebNode.StartAsync("Bob");
        await using var carol = await WebNode.StartAsync("Carol");

        // Bob knows Alice by ID before she dials him (she is no request to him); Carol, a stranger, dials Alice and writes.
        using (await bob.Api.AddContactAsync(alice.Identity))
        using (await alice.Api.AddContactAsync(bob.Identity, bob.Node.ListenAddress))
        using (await carol.Api.ConnectAsync(alice.Node.ListenAddress))
        {
        }

        await carol.Api.SendAsync(alice.Id, "a stranger's first words");
        await alice.Api.SendAsync("Bob", "a message of mine");
        await using var session = await browser.NewSessionAsync(output);
        var page = await ChatPage.OpenAsync(session, alice);
        await page.Page.EmulateMediaAsync(new PageEmulateMediaOptions { ColorScheme = scheme });
        await Expect(page.Request(carol.Id).Locator(".request-messages")).ToContainTextAsync("a stranger's first words");
        await page.OpenConversationAsync("Bob");
        await bob.Api.SendAsync(alice.Identity.Name, "and one of theirs");
        await Expect(page.Message("and one of theirs")).ToBeVisibleAsync();

        var background = await Colour(page.Page, "body", "backgroundColor");
        Assert.True(scheme == ColorScheme.Dark ? Luminance(background) < 0.1 : Luminance(background) > 0.8, $"The {scheme} theme's background is {Describe(background)}.");

        var failures = new List<string>();
        foreach (var (text, under) in Pairs)
        {
            var foreground = await Colour(page.Page, text, "color");
            var back = await Colour(page.Page, under, "backgroundColor");
            var ratio = Contrast(foreground, back);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{scheme} {text} on {under}: {ratio:F2}"));
            if (ratio < 4.5)
            {
                failures.Add(string.Create(CultureInfo.InvariantCulture, $"{text} ({Describe(foreground)}) on {under} ({Describe(back)}): {ratio:F2}"));
            }
        }

        Assert.True(failures.Count == 0, $"Text below 4.5:1 in the {scheme} theme:\n{string.Join('\n', failures)}");
        await Artifacts.ScreenshotAsync(page.Page, $"theme-{scheme.ToString().ToLowerInvariant()}", output);
        session.AssertNoErrors("/");
    }

    /// <summary>
    /// An element's computed colour as RGB; a transparent background is the nearest opaque one behind
    /// it. The page redraws its lists on live events, and a replaced element has no style: asked again.
    /// </summary>
    private static async Task<double[]> Colour(IPage page, string selector, string property) =>
        (await Eventually.UntilAsync(
            $"{selector} has a computed {property}",
            Eventually.Deadline,
            () => ComputedColour(page, selector, property),
            rgb => rgb is not null,
            _ => "no style (the element was replaced)"))!;

    private static async Task<double[]?> ComputedColour(IPage page, string selector, string property) =>
        await page.Locator(selector).First.EvaluateAsync<double[]?>(
            """
            (element, property) => {
              for (let node = element; node; node = node.parentElement) {
                if (!node.isConnected) return null;
                const found = getComputedStyle(node)[property].match(/[\d.]+/g);
                if (!found) return null;
                const parts = found.map(Number);
                if (parts.length < 4 || parts[3] > 0) return parts.slice(0, 3);
                if (property === 'color') return parts.slice(0, 3);
              }
              return [255, 255, 255];
            }
            """,
            property);

    private static double Luminance(double[] rgb)
    {
        static double Channel(double c)
        {
            c /= 255;
            return c <= 0.03928 ? c / 12.92 : Math.Pow((c + 0.055) / 1.055, 2.4);
        }

        return (0.2126 * Channel(rgb[0])) + (0.7152 * Channel(rgb[1])) + (0.0722 * Channel(rgb[2]));
    }

    private static double Contrast(double[] a, double[] b)
    {
        var (la, lb) = (Luminance(a), Luminance(b));
        return (Math.Max(la, lb) + 0.05) / (Math.Min(la, lb) + 0.05);
    }

    private static string Describe(double[] rgb) => string.Create(CultureInfo.InvariantCulture, $"rgb({rgb[0]}, {rgb[1]}, {rgb[2]})");
}
