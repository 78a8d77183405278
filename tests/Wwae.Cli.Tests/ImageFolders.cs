using SkiaSharp;

namespace Wwae.Cli.Tests;

/// <summary>Writes folders of small generated images (random rectangles and circles), some of them damaged on request.</summary>
public static class ImageFolders
{
    /// <summary>Writes <paramref name="count"/> images of <paramref name="width"/> x <paramref name="height"/> (PNG and JPEG alternately) into <paramref name="folder"/>.</summary>
    public static List<string> Write(string folder, int count, int width = 40, int height = 32, int seed = 1)
    {
        Directory.CreateDirectory(folder);
        var random = new Random(seed);
        var files = new List<string>();
        for (int i = 0; i < count; i++)
        {
            using var bitmap = new SKBitmap(width, height);
            using (var canvas = new SKCanvas(bitmap))
            {
                canvas.Clear(new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)));
                using var paint = new SKPaint { Color = new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)) };
                canvas.DrawCircle(random.Next(width), random.Next(height), 4 + random.Next(10), paint);
                paint.Color = new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256));
                canvas.DrawRect(random.Next(width / 2), random.Next(height / 2), 4 + random.Next(width / 2), 4 + random.Next(height / 2), paint);
            }
            bool png = i % 2 == 0;
            using var data = bitmap.Encode(png ? SKEncodedImageFormat.Png : SKEncodedImageFormat.Jpeg, 90);
            string path = Path.Combine(folder, $"img{i:D4}.{(png ? "png" : "jpg")}");
            File.WriteAllBytes(path, data.ToArray());
            files.Add(path);
        }
        return files;
    }

    /// <summary>Cuts <paramref name="path"/> to <paramref name="fraction"/> of its length (a download that stopped).</summary>
    public static void Truncate(string path, double fraction = 0.5)
    {
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes.AsSpan(0, (int)(bytes.Length * fraction)).ToArray());
    }
}
