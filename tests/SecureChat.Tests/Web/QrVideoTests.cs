using System.Text.Json;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace SecureChat.Tests.Web;

/// <summary>
/// The QR pictures the scanning tests feed the UI, checked where the UI will see them: Chromium's
/// fake camera plays the Y4M file and a canvas draws the PNG, and every module reads back dark or
/// light as written, with a light quiet zone around the symbol. The page is served by Playwright
/// itself on a loopback origin (a secure context, as the camera needs), so no node is involved.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(BrowserCollection.Name)]
public sealed class QrVideoTests(BrowserFixture browser, ITestOutputHelper output) : IDisposable
{
    /// <summary>An invite link as long as one with a name and an address.</summary>
    private const string Text = "securechat:ybndrfg8ejkmcpqxot1uwisza345h769ybndrfg8ejkmcpqx?name=Bob&at=127.0.0.1%3A7311";

    /// <summary>Nothing listens here: Playwright answers the page's request itself.</summary>
    private const string PageUrl = "http://127.0.0.1:9/qr";

    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("securechat-qr-");

    [Fact]
    public async Task FakeCamera_PlayingTheY4m_ShowsEveryModuleAsWritten()
    {
        var video = QrVideo.WriteY4m(Text, Path.Combine(_folder.FullName, "invite.y4m"));
        Assert.Equal(QrHeaderLength + (QrVideo.Frames * FrameLength), new FileInfo(video).Length);
        var modules = QrVideo.Modules(Text);
        var (scale, left, top) = QrVideo.Place(modules.GetLength(0));

        await using var session = await browser.NewSessionWithCameraAsync(output, video);
        var page = await BlankPageAsync(session);
        var frame = await page.EvaluateAsync<JsonElement>(
            """
            async () => {
              const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
              const video = document.createElement('video');
              video.muted = true;
              video.srcObject = stream;
              await video.play();
              await new Promise(resolve => video.requestVideoFrameCallback(() => resolve()));
              const canvas = document.createElement('canvas');
              canvas.width = video.videoWidth;
              canvas.height = video.videoHeight;
              const context = canvas.getContext('2d', { willReadFrequently: true });
              context.drawImage(video, 0, 0);
              stream.getTracks().forEach(track => track.stop());
              const rgba = context.getImageData(0, 0, canvas.width, canvas.height).data;
              const luma = new Array(canvas.width * canvas.height);
              for (let i = 0; i < luma.length; i++) luma[i] = rgba[4 * i + 1];
              return { width: canvas.width, height: canvas.height, luma };
            }
            """);

        Assert.Equal(QrVideo.Width, frame.GetProperty("width").GetInt32());
        Assert.Equal(QrVideo.Height, frame.GetProperty("height").GetInt32());
        var luma = frame.GetProperty("luma").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        AssertModules(modules, (x, y) => luma[(y * QrVideo.Width) + x], scale, left, top);
        session.AssertNoErrors();
    }

    [Fact]
    public async Task Png_DrawnOnACanvas_ShowsEveryModuleAsWritten()
    {
        var png = QrVideo.WritePng(Text, Path.Combine(_folder.FullName, "invite.png"));
        var modules = QrVideo.Modules(Text);
        var side = modules.GetLength(0);
        const int Scale = 10;

        await using var session = await browser.NewSessionAsync(output);
        var page = await BlankPageAsync(session);
        var image = await page.EvaluateAsync<JsonElement>(
            """
            async source => {
              const image = new Image();
              image.src = source;
              await image.decode();
              const canvas = document.createElement('canvas');
              canvas.width = image.naturalWidth;
              canvas.height = image.naturalHeight;
              const context = canvas.getContext('2d', { willReadFrequently: true });
              context.drawImage(image, 0, 0);
              const rgba = context.getImageData(0, 0, canvas.width, canvas.height).data;
              const luma = new Array(canvas.width * canvas.height);
              for (let i = 0; i < luma.length; i++) luma[i] = rgba[4 * i + 1];
              return { width: canvas.width, height: canvas.height, luma };
            }
            """,
            "data:image/png;base64," + Convert.ToBase64String(await File.ReadAllBytesAsync(png)));

        var width = image.GetProperty("width").GetInt32();
        Assert.Equal((side + (2 * QrVideo.QuietZone)) * Scale, width);
        Assert.Equal(width, image.GetProperty("height").GetInt32());
        var luma = image.GetProperty("luma").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        AssertModules(modules, (x, y) => luma[(y * width) + x], Scale, QrVideo.QuietZone * Scale, QrVideo.QuietZone * Scale);
        session.AssertNoErrors();
    }

    public void Dispose() => _folder.Delete(recursive: true);

    private static int QrHeaderLength => $"YUV4MPEG2 W{QrVideo.Width} H{QrVideo.Height} F{QrVideo.FramesPerSecond}:1 Ip A1:1 C420jpeg\n".Length;

    private static int FrameLength => "FRAME\n".Length + (QrVideo.Width * QrVideo.Height * 3 / 2);

    /// <summary>A page on a loopback origin, answered by Playwright: a secure context with no server.</summary>
    private static async Task<IPage> BlankPageAsync(BrowserSession session)
    {
        var page = await session.NewPageAsync();
        await page.RouteAsync(PageUrl, route => route.FulfillAsync(new RouteFulfillOptions
        {
            ContentType = "text/html",
            Body = "<!doctype html><title>QR</title>",
        }));
        await page.GotoAsync(PageUrl);
        return page;
    }

    /// <summary>
    /// The centre pixel of every module is dark (under half brightness) exactly where the symbol
    /// has a dark module, and the quiet zone's module centres all read light.
    /// </summary>
    private static void AssertModules(bool[,] modules, Func<int, int, int> lumaAt, int scale, int left, int top)
    {
        var side = modules.GetLength(0);
        var wrong = new List<string>();
        for (var row = -QrVideo.QuietZone; row < side + QrVideo.QuietZone; row++)
        {
            for (var column = -QrVideo.QuietZone; column < side + QrVideo.QuietZone; column++)
            {
                var inSymbol = row >= 0 && row < side && column >= 0 && column < side;
                var dark = inSymbol && modules[row, column];
                var luma = lumaAt(left + (column * scale) + (scale / 2), top + (row * scale) + (scale / 2));
                if ((luma < 128) != dark)
                {
                    wrong.Add($"({row},{column}) reads {luma}, expected {(dark ? "dark" : "light")}");
                }
            }
        }

        Assert.True(wrong.Count == 0, $"{wrong.Count} modules read wrong: {string.Join("; ", wrong.Take(20))}");
    }
}
