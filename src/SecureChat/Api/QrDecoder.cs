using Microsoft.AspNetCore.Http;
using ZXing;
using ZXing.Common;
using ZXing.Multi.QrCode;
using ZXing.QrCode;

namespace SecureChat.Api;

/// <summary>
/// <c>POST /api/qr/decode?width=W&amp;height=H</c>: reads a QR code from a grey picture (a camera frame
/// or a chosen image, drawn by the page: one byte of brightness a pixel, row after row). The page
/// cannot decode QR codes itself without a library from elsewhere; the picture stays on this machine.
/// </summary>
internal static class QrDecoder
{
    /// <summary>Larger pictures are refused: the page scales frames down to this before sending.</summary>
    public const int MaxSide = 2048;

    public static async Task<IResult> DecodeAsync(HttpContext context, int width, int height)
    {
        if (width is < 21 or > MaxSide || height is < 21 or > MaxSide)
        {
            return Problem($"width and height are the picture's size in pixels, 21 to {MaxSide} each.", StatusCodes.Status400BadRequest);
        }

        var length = width * height;
        if (context.Request.ContentLength is { } declared && declared != length)
        {
            return Problem($"The body must be width × height = {length} bytes of grey levels.", StatusCodes.Status400BadRequest);
        }

        var pixels = new byte[length];
        var read = 0;
        while (read < length)
        {
            var n = await context.Request.Body.ReadAsync(pixels.AsMemory(read), context.RequestAborted);
            if (n == 0)
            {
                return Problem($"The body must be width × height = {length} bytes of grey levels.", StatusCodes.Status400BadRequest);
            }

            read += n;
        }

        return Read(pixels, width, height) is { } text
            ? Results.Json(new { text }, LocalApi.Json)
            : Problem("No QR code was found in the picture.", StatusCodes.Status422UnprocessableEntity);
    }

    /// <summary>
    /// The text of the QR code in a grey picture (<paramref name="width"/> × <paramref name="height"/>
    /// bytes of brightness), or null when none is found.
    /// </summary>
    /// <remarks>
    /// ZXing's reader keeps the three finder-pattern candidates whose sizes agree best, and a code's
    /// data can draw a fourth dark-light-dark run that passes for a finder pattern: then it samples the
    /// wrong square and finds nothing, for every frame of the same code. About one code in eighty of
    /// our invite links is such a code (a flawless picture of one failed every time). The multi-code
    /// reader tries every candidate triple that forms a plausible square, so it is the second try;
    /// the single reader stays first, as it is the cheaper one and reads the rest.
    /// </remarks>
    internal static string? Read(byte[] pixels, int width, int height)
    {
        var bitmap = new BinaryBitmap(new HybridBinarizer(new PlanarYUVLuminanceSource(pixels, width, height, 0, 0, width, height, false)));
        var hints = new Dictionary<DecodeHintType, object> { [DecodeHintType.TRY_HARDER] = true };
        return Attempt(() => new QRCodeReader().decode(bitmap, hints)?.Text)
            ?? Attempt(() => new QRCodeMultiReader().decodeMultiple(bitmap, hints)?.Select(r => r.Text).FirstOrDefault(t => t is not null));

        // ZXing answers "nothing found" with null on some paths and a ReaderException on others.
        static string? Attempt(Func<string?> read)
        {
            try
            {
                return read();
            }
            catch (ReaderException)
            {
                return null;
            }
        }
    }

    private static IResult Problem(string error, int status) => Results.Json(new { error }, LocalApi.Json, statusCode: status);
}
