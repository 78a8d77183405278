using SkiaSharp;

namespace Toolkit.Reporting;

/// <summary>Writes a grid of images (values in [0, 1], channel-first) as one PNG.</summary>
public static class ImageGrid
{
    /// <summary>
    /// <paramref name="pixels"/> holds <paramref name="count"/> images of <paramref name="channels"/> x
    /// <paramref name="height"/> x <paramref name="width"/> floats in [0, 1] (1 or 3 channels), laid out
    /// row-major in a grid of <paramref name="columns"/> columns, scaled up by <paramref name="scale"/>.
    /// </summary>
    public static void Save(string pngPath, ReadOnlySpan<float> pixels, int count, int channels, int height, int width,
        int columns, int scale = 2, int padding = 2)
    {
        if (channels is not (1 or 3)) throw new ArgumentException($"images must have 1 or 3 channels, not {channels}");
        int per = channels * height * width;
        if (pixels.Length < count * per) throw new ArgumentException($"{pixels.Length} values hold fewer than {count} images of {channels}x{height}x{width}");
        columns = Math.Max(1, Math.Min(columns, count));
        int rows = (count + columns - 1) / columns;
        int cellW = width * scale + padding, cellH = height * scale + padding;
        using var bitmap = new SKBitmap(columns * cellW + padding, rows * cellH + padding, SKColorType.Rgba8888, SKAlphaType.Opaque);
        bitmap.Erase(new SKColor(40, 40, 40));
        for (int i = 0; i < count; i++)
        {
            int ox = padding + (i % columns) * cellW, oy = padding + (i / columns) * cellH;
            var image = pixels.Slice(i * per, per);
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                {
                    byte r = ToByte(image[(0 * height + y) * width + x]);
                    byte g = channels == 3 ? ToByte(image[(1 * height + y) * width + x]) : r;
                    byte b = channels == 3 ? ToByte(image[(2 * height + y) * width + x]) : r;
                    var color = new SKColor(r, g, b);
                    for (int dy = 0; dy < scale; dy++)
                        for (int dx = 0; dx < scale; dx++)
                            bitmap.SetPixel(ox + x * scale + dx, oy + y * scale + dy, color);
                }
        }
        Files.WriteAtomically(pngPath, temp =>
        {
            using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            using var stream = File.Create(temp);
            data.SaveTo(stream);
        });
    }

    static byte ToByte(float v) => (byte)Math.Clamp((int)MathF.Round(v * 255f), 0, 255);
}
