using System.Diagnostics;
using System.Globalization;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace SecureChat.Tests.Web;

/// <summary>
/// The browser tests share one Chromium, so they join this collection and run one at a time:
/// two cores do not run two browsers and their nodes well.
/// </summary>
[CollectionDefinition(Name)]
public sealed class BrowserCollection : ICollectionFixture<BrowserFixture>
{
    public const string Name = "browser";
}

/// <summary>The viewport a test's pages get.</summary>
public enum Screen
{
    /// <summary>1280 x 800, a laptop.</summary>
    Desktop,

    /// <summary>390 x 844 with touch and the mobile viewport rules, a phone.</summary>
    Phone,
}

/// <summary>
/// Playwright driving Debian's Chromium (<c>/usr/bin/chromium</c>), launched once for the whole
/// collection; Playwright never downloads a browser here. Each test takes a fresh context from
/// <see cref="NewSessionAsync"/> (nothing shared: cookies, storage and pages start empty), or,
/// for a camera, a browser of its own from <see cref="NewSessionWithCameraAsync"/>.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    /// <summary>
    /// Headless, as root and without a GPU in CI; and quiet: without the background-networking,
    /// component-update and sync flags Chromium dials Google at start and logs the refusals.
    /// Tests talk to loopback only.
    /// </summary>
    private static readonly string[] QuietFlags =
    [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ];

    /// <summary>The longest a Playwright action or wait may take, as long as any step of the process tests.</summary>
    private static readonly float TimeoutMs = (float)ChatProcess.Timeout.TotalMilliseconds;

    private IPlaywright? _playwright;
    private IBrowser? _browser;

    /// <summary>How long starting Playwright's driver and Chromium took.</summary>
    public TimeSpan StartupTime { get; private set; }

    /// <summary>Chromium's version, as the browser reports it.</summary>
    public string BrowserVersion => Browser.Version;

    private IBrowser Browser => _browser ?? throw new InvalidOperationException("The browser fixture has not started.");

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException(
                $"The browser tests need Debian's Chromium at {ChromiumPath}, which is missing: run scripts/install-deps --tests (it installs the chromium package) and run the tests again.");
        }

        var clock = Stopwatch.StartNew();
        _playwright = await Playwright.CreateAsync();
        _browser = await LaunchAsync([]);
        StartupTime = clock.Elapsed;
    }

    /// <summary>A fresh context of the shared browser, its pages watched for errors.</summary>
    public async Task<BrowserSession> NewSessionAsync(ITestOutputHelper output, Screen screen = Screen.Desktop)
    {
        var context = await Browser.NewContextAsync(ContextOptions(screen));
        return Started(new BrowserSession(context, ownBrowser: null, output), output);
    }

    /// <summary>
    /// A context of a browser launched for this one test whose camera shows
    /// <paramref name="videoPath"/> (a Y4M file, as <see cref="QrVideo"/> writes), with camera
    /// access granted without a prompt. Disposing the session closes that browser.
    /// </summary>
    public async Task<BrowserSession> NewSessionWithCameraAsync(ITestOutputHelper output, string videoPath, Screen screen = Screen.Desktop)
    {
        if (!File.Exists(videoPath))
        {
            throw new ArgumentException($"No video file at {videoPath}.", nameof(videoPath));
        }

        var browser = await LaunchAsync(
        [
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            "--use-file-for-fake-video-capture=" + videoPath,
        ]);
        try
        {
            var options = ContextOptions(screen);
            options.Permissions = ["camera"];
            var context = await browser.NewContextAsync(options);
            return Started(new BrowserSession(context, browser, output), output);
        }
        catch
        {
            await browser.CloseAsync();
            throw;
        }
    }

    /// <summary>
    /// A browser launched for this one test with a persistent profile in <paramref name="userDataDirectory"/>,
    /// as a person's browser has: it writes its History database and its session files there.
    /// Disposing the session closes that browser, which flushes them.
    /// </summary>
    public async Task<BrowserSession> NewPersistentSessionAsync(ITestOutputHelper output, string userDataDirectory)
    {
        var playwright = _playwright ?? throw new InvalidOperationException("Playwright has not started.");
        var context = await playwright.Chromium.LaunchPersistentContextAsync(userDataDirectory, new BrowserTypeLaunchPersistentContextOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = QuietFlags,
            Timeout = TimeoutMs,
            ViewportSize = new ViewportSize { Width = 1280, Height = 800 },
        });
        return Started(new BrowserSession(context, ownBrowser: null, output), output);
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.CloseAsync();
        }

        _playwright?.Dispose();
    }

    private BrowserSession Started(BrowserSession session, ITestOutputHelper output)
    {
        session.Context.SetDefaultTimeout(TimeoutMs);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Chromium {BrowserVersion} (Playwright and the browser started in {StartupTime.TotalSeconds:F1} s)"));
        return session;
    }

    private Task<IBrowser> LaunchAsync(string[] extraFlags)
    {
        var playwright = _playwright ?? throw new InvalidOperationException("Playwright has not started.");
        return playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = [.. QuietFlags, .. extraFlags],
            Timeout = TimeoutMs,
        });
    }

    private static BrowserNewContextOptions ContextOptions(Screen screen) => screen switch
    {
        Screen.Desktop => new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = 1280, Height = 800 },
        },
        Screen.Phone => new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = 390, Height = 844 },
            IsMobile = true,
            HasTouch = true,
        },
        _ => throw new ArgumentOutOfRangeException(nameof(screen), screen, "Not a known screen."),
    };
}
