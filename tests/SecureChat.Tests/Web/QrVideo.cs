using System.Text;
using QRCoder;

namespace SecureChat.Tests.Web;

/// <summary>
/// A QR code of a text as a camera would see it: a Y4M video that Chromium plays as its fake
/// camera (<c>--use-file-for-fake-video-capture</c>), and the same code as a PNG for an upload.
/// Black modules on white, error correction M, a quiet zone of four modules (ISO/IEC 18004, 9.1),
/// modules of whole pixels so no edge is blurred.
/// </summary>
internal static class QrVideo
{
    public const int Width = 640;
    public const int Height = 480;
    public const int FramesPerSecond = 30;

    /// <summary>One second of video; Chromium loops the file, so the code stays in view.</summary>
    public const int Frames = 30;

    /// <summary>The light margin the QR standard asks for around the symbol, in modules.</summary>
    public const int QuietZone = 4;

    /// <summary>
    /// Luma of black and white in video levels (BT.601: 16 to 235), which a player shows as pure
    /// black and white; chroma 128 is no colour.
    /// </summary>
    private const byte Black = 16;
    private const byte White = 235;
    private const byte NoColour = 128;

    /// <summary>
    /// Writes <paramref name="text"/>'s QR code as a YUV4MPEG2 file at <paramref name="path"/>:
    /// 640 x 480, 4:2:0, 30 fps, 30 identical frames, the code centred and as large as fits.
    /// Returns the path.
    /// </summary>
    public static string WriteY4m(string text, string path)
    {
        var luma = LumaPlane(Modules(text));
        var chroma = new byte[Width / 2 * (Height / 2)];
        Array.Fill(chroma, NoColour);

        using var file = File.Create(path);

        // The stream header (one line): size, frame rate, progressive, square pixels, 4:2:0 with
        // JPEG chroma siting; then each frame is FRAME, a newline and its Y, U and V planes.
        file.Write(Encoding.ASCII.GetBytes($"YUV4MPEG2 W{Width} H{Height} F{FramesPerSecond}:1 Ip A1:1 C420jpeg\n"));
        var frameHeader = Encoding.ASCII.GetBytes("FRAME\n");
        for (var frame = 0; frame < Frames; frame++)
        {
            file.Write(frameHeader);
            file.Write(luma);
            file.Write(chroma);
            file.Write(chroma);
        }

        return path;
    }

    /// <summary>Writes <paramref name="text"/>'s QR code as a black-and-white PNG (10 pixels a module, with the quiet zone); returns the path.</summary>
    public static string WritePng(string text, string path)
    {
        using var generator = new QRCodeGenerator();
        using var data = generator.CreateQrCode(text, QRCodeGenerator.ECCLevel.M);
        using var png = new PngByteQRCode(data);
        File.WriteAllBytes(path, png.GetGraphic(pixelsPerModule: 10, drawQuietZones: true));
        return path;
    }

    /// <summary>The symbol's modules, true for dark, without any quiet zone: [row, column].</summary>
    public static bool[,] Modules(string text)
    {
        using var generator = new QRCodeGenerator();
        using var data = generator.CreateQrCode(text, QRCodeGenerator.ECCLevel.M);

        // QRCoder's matrix carries its own quiet zone around the symbol: cut it off, so the
        // margin drawn here is the one this class promises.
        var side = (data.Version * 4) + 17;
        var offset = (data.ModuleMatrix.Count - side) / 2;
        var modules = new bool[side, side];
        for (var row = 0; row < side; row++)
        {
            for (var column = 0; column < side; column++)
            {
                modules[row, column] = data.ModuleMatrix[offset + row][offset + column];
            }
        }

        return modules;
    }

    /// <summary>Where a symbol of <paramref name="side"/> modules lies in a frame: centred, as large as fits with its quiet zone.</summary>
    public static FramePlacement Place(int side)
    {
        var scale = Math.Min(Width, Height) / (side + (2 * QuietZone));
        if (scale < 2)
        {
            throw new ArgumentException($"A QR code of {side} modules does not fit {Width} x {Height} at two pixels a module.", nameof(side));
        }

        return new FramePlacement(scale, (Width - (side * scale)) / 2, (Height - (side * scale)) / 2);
    }

    private static byte[] LumaPlane(bool[,] modules)
    {
        var side = modules.GetLength(0);
        var (scale, left, top) = Place(side);
        var plane = new byte[Width * Height];
        Array.Fill(plane, White);
        for (var row = 0; row < side; row++)
        {
            for (var column = 0; column < side; column++)
            {
                if (!modules[row, column])
                {
                    continue;
                }

                for (var y = top + (row * scale); y < top + ((row + 1) * scale); y++)
                {
                    plane.AsSpan((y * Width) + left + (column * scale), scale).Fill(Black);
                }
            }
        }

        return plane;
    }
}

/// <summary>A symbol's place in a video frame: pixels a module, and its top-left corner.</summary>
internal readonly record struct FramePlacement(int Scale, int Left, int Top);
