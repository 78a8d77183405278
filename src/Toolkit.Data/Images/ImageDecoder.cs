using SkiaSharp;

namespace Toolkit.Data.Images;

/// <summary>
/// Decodes one image file (JPEG, PNG, BMP, GIF, WebP) completely, crops a centred square and resizes it to a
/// square RGB image. A file whose data ends early or is damaged is refused with <see cref="InvalidDataException"/>:
/// the codec must report full success, so a truncated JPEG is never returned with its missing rows filled in.
/// </summary>
public static class ImageDecoder
{
    /// <summary>File name extensions that are read as images.</summary>
    public static readonly string[] Extensions = [".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"];

    /// <summary>
    /// Decodes <paramref name="path"/>, takes a centred <paramref name="cropSize"/> square (0: the largest centred
    /// square) and resizes it to <paramref name="outputSize"/>; returns 3 x size x size bytes, channel-first (RGB).
    /// </summary>
    public static byte[] DecodeSquare(string path, int cropSize, int outputSize)
    {
        if (outputSize < 1) throw new ArgumentException("the output size must be positive.");
        using var full = DecodeFully(path);
        int crop = cropSize > 0 ? cropSize : Math.Min(full.Width, full.Height);
        if (full.Width < crop || full.Height < crop)
            throw new InvalidDataException($"image '{path}' is {full.Width}x{full.Height}, smaller than the {crop}x{crop} centre crop.");
        int x0 = (full.Width - crop) / 2, y0 = (full.Height - crop) / 2;
        var info = new SKImageInfo(outputSize, outputSize, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        using (var canvas = new SKCanvas(bitmap))
        using (var image = SKImage.FromBitmap(full))
        {
            canvas.Clear(SKColors.Black);
            canvas.DrawImage(image, SKRect.Create(x0, y0, crop, crop), SKRect.Create(0, 0, outputSize, outputSize),
                new SKSamplingOptions(SKCubicResampler.Mitchell), null);
        }
        var pixels = bitmap.GetPixelSpan();
        int plane = outputSize * outputSize;
        var result = new byte[3 * plane];
        for (int p = 0; p < plane; p++)
        {
            result[p] = pixels[4 * p];
            result[plane + p] = pixels[4 * p + 1];
            result[2 * plane + p] = pixels[4 * p + 2];
        }
        return result;
    }

    /// <summary>Decodes the whole file into an RGBA bitmap, refusing files the codec cannot read to the end.</summary>
    static SKBitmap DecodeFully(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"image '{path}' is missing.", path);
        using var stream = File.OpenRead(path);
        using var codec = SKCodec.Create(stream, out var created);
        if (codec == null)
            throw new InvalidDataException($"image '{path}' cannot be decoded ({Describe(created)}); replace it or remove it.");
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        if (info.Width < 1 || info.Height < 1 || (long)info.Width * info.Height > 100_000_000)
            throw new InvalidDataException($"image '{path}' claims a size of {info.Width}x{info.Height}; it is damaged or not a photo.");
        var bitmap = new SKBitmap(info);
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result != SKCodecResult.Success)
        {
            bitmap.Dispose();
            throw new InvalidDataException($"image '{path}' cannot be decoded to the end ({Describe(result)}); replace it or remove it.");
        }
        return bitmap;
    }

    static string Describe(SKCodecResult result) => result switch
    {
        SKCodecResult.IncompleteInput => "the file is truncated",
        SKCodecResult.ErrorInInput => "its data is damaged",
        SKCodecResult.InvalidInput => "not an image format this tool reads",
        _ => result.ToString(),
    };
}
