using System.Diagnostics.CodeAnalysis;
using QRCoder;
using SecureChat.Api;

namespace SecureChat.Tests.Node;

/// <summary>
/// How the node reads the QR code in a grey picture the page sends (<c>POST /api/qr/decode</c>),
/// without a node: flawless pictures of invite links, as a chosen PNG (the code filling the picture)
/// and as a camera frame (the code centred in 640 x 480), must all read back.
/// </summary>
[SuppressMessage("Security", "CA5394:Do not use insecure randomness", Justification = "The links must be the same at every run; nothing secret is drawn from them.")]
public sealed class QrDecoderTests
{
    private const string Alphabet = "ybndrfg8ejkmcpqxot1uwisza345h769";

    /// <summary>
    /// Invite links whose codes hold a run in their data that ZXing's single-code reader takes for a
    /// finder pattern, so that it samples the wrong square and finds nothing, in every picture of them:
    /// the browser test that adds a random contact by its QR code failed on such a link now and then.
    /// </summary>
    public static TheoryData<string> FalseFinderPatternLinks => new()
    {
        "securechat:ixzrmr7xxxgzkfs9eh34by8prc5ge8675goy5r5sb87847txyt3o?name=Carol",
        "securechat:mi7gtoptcpsub44b56nkq7tud143cs7bnz6cgezi4yfzjpj4ue1n?name=Carol",
        "securechat:szxgnypjkkouitj9orc5e97a7cw1tmjwfjakd8rkmgac1asn49j6?name=Bob&at=127.0.0.1%3A50277",
        "securechat:uhuc9kdd9d3xzcp4qsdzo7q6f5cxcgnottrbj8586od9i6a5xf5c?name=Bob&at=127.0.0.1%3A37335",
    };

    [Theory]
    [MemberData(nameof(FalseFinderPatternLinks))]
    public void Read_CodeWithAFalseFinderPatternInItsData_ReadsItFromAPictureAndAFrame(string link)
    {
        Assert.Equal(link, Read(Picture(link)));
        Assert.Equal(link, Read(Frame(link)));
    }

    [Fact]
    public void Read_TwoHundredRandomInviteLinks_ReadsEveryOneFromAPictureAndAFrame()
    {
        var random = new Random(16);
        var unread = new List<string>();
        for (var i = 0; i < 200; i++)
        {
            var id = string.Concat(Enumerable.Range(0, 52).Select(_ => Alphabet[random.Next(Alphabet.Length)]));
            var link = i % 2 == 0 ? $"securechat:{id}?name=Carol" : $"securechat:{id}?name=Bob&at=127.0.0.1%3A{random.Next(1024, 65536)}";
            if (Read(Picture(link)) != link || Read(Frame(link)) != link)
            {
                unread.Add(link);
            }
        }

        Assert.Empty(unread);
    }

    [Fact]
    public void Read_PictureWithoutACode_IsNull()
    {
        Assert.Null(Read(new Grey(Enumerable.Repeat((byte)255, 100 * 80).ToArray(), 100, 80)));
    }

    private static string? Read(Grey picture) => QrDecoder.Read(picture.Pixels, picture.Width, picture.Height);

    /// <summary>The code as the upload test's PNG draws it: 10 pixels a module, with its quiet zone, nothing else.</summary>
    private static Grey Picture(string text)
    {
        var modules = Modules(text);
        var side = modules.Count * 10;
        return Draw(modules, 10, side, side);
    }

    /// <summary>The code as the fake camera shows it: centred in 640 x 480, as large as fits.</summary>
    private static Grey Frame(string text)
    {
        var modules = Modules(text);
        return Draw(modules, 480 / modules.Count, 640, 480);
    }

    /// <summary>The modules of <paramref name="text"/>'s code, with QRCoder's four-module quiet zone: [row][column], true for dark.</summary>
    private static List<System.Collections.BitArray> Modules(string text)
    {
        using var generator = new QRCodeGenerator();
        using var code = generator.CreateQrCode(text, QRCodeGenerator.ECCLevel.M);
        return code.ModuleMatrix;
    }

    private static Grey Draw(List<System.Collections.BitArray> modules, int scale, int width, int height)
    {
        var pixels = Enumerable.Repeat((byte)255, width * height).ToArray();
        var size = modules.Count * scale;
        var (left, top) = ((width - size) / 2, (height - size) / 2);
        for (var y = 0; y < size; y++)
        {
            for (var x = 0; x < size; x++)
            {
                if (modules[y / scale][x / scale])
                {
                    pixels[((top + y) * width) + left + x] = 0;
                }
            }
        }

        return new Grey(pixels, width, height);
    }

    private sealed record Grey(byte[] Pixels, int Width, int Height);
}
