using Microsoft.Playwright;
using SecureChat.Testing;
using Xunit.Abstractions;

namespace SecureChat.Tests.Web;

/// <summary>
/// What the browser tests keep for people to look at: screenshots under
/// <c>artifacts/screenshots/</c> at the repository root (gitignored; CI uploads the folder).
/// </summary>
internal static class Artifacts
{
    public static string Screenshots => Path.Combine(RepoPaths.Root, "artifacts", "screenshots");

    /// <summary>
    /// Saves what <paramref name="page"/> shows as <c>artifacts/screenshots/NAME.png</c>
    /// (<paramref name="fullPage"/>: the whole scrollable page, not only the viewport), prints the
    /// path to the test's output and returns it.
    /// </summary>
    public static async Task<string> ScreenshotAsync(IPage page, string name, ITestOutputHelper output, bool fullPage = false)
    {
        if (name.Length == 0 || name.IndexOfAny(['/', '\\', '.']) >= 0 || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0)
        {
            throw new ArgumentException($"'{name}' is not a screenshot name (a file name without folder or extension).", nameof(name));
        }

        Directory.CreateDirectory(Screenshots);
        var path = Path.Combine(Screenshots, name + ".png");
        // Finite animations (a notice fading in) are run to their end, so a picture never catches one halfway.
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = fullPage, Animations = ScreenshotAnimations.Disabled });
        output.WriteLine($"screenshot: {path}");
        return path;
    }
}
