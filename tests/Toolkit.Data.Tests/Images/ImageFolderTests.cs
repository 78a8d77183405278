using SkiaSharp;
using Toolkit.Data.Images;

namespace Toolkit.Data.Tests.Images;

public sealed class ImageFolderTests : IDisposable
{
    readonly string root = Directory.CreateTempSubdirectory("image-folder-tests-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    /// <summary>A 48 x 32 PNG: a red band 8 pixels wide on each side, blue in between (the centred 32 x 32 square is all blue).</summary>
    string WritePng(string name)
    {
        using var bitmap = new SKBitmap(48, 32);
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(new SKColor(255, 0, 0));
            using var blue = new SKPaint { Color = new SKColor(0, 0, 255) };
            canvas.DrawRect(8, 0, 32, 32, blue);
        }
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        string path = Path.Combine(root, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, data.ToArray());
        return path;
    }

    [Fact]
    public void LargestCentredSquareIsResized()
    {
        WritePng("a.png");
        WritePng("sub/b.png");
        File.WriteAllText(Path.Combine(root, "notes.txt"), "not an image");
        var files = ImageFolder.List(root);
        Assert.Equal(2, files.Length);
        var folder = ImageFolder.Decode(root, files, 16);
        Assert.Equal((2, 3, 16, 16), (folder.Count, folder.Channels, folder.Height, folder.Width));
        var pixels = new float[2 * 3 * 16 * 16];
        folder.ReadBatch([0, 1], pixels);
        // The centred 32 x 32 square is blue everywhere: no red from the side bands, exactly (0, 0, 1).
        for (int i = 0; i < 2; i++)
            for (int p = 0; p < 256; p++)
            {
                Assert.Equal(0f, pixels[i * 768 + p]);
                Assert.Equal(0f, pixels[i * 768 + 256 + p]);
                Assert.Equal(1f, pixels[i * 768 + 512 + p]);
            }
    }

    [Theory]
    [InlineData(SKEncodedImageFormat.Png)]
    [InlineData(SKEncodedImageFormat.Jpeg)]
    public void TruncatedFilesAreCountedNotFilled(SKEncodedImageFormat format)
    {
        var files = new List<string>();
        for (int i = 0; i < 5; i++)
        {
            using var bitmap = new SKBitmap(64, 64);
            using (var canvas = new SKCanvas(bitmap)) canvas.Clear(new SKColor((byte)(40 * i), 200, 90));
            using var data = bitmap.Encode(format, 90);
            string path = Path.Combine(root, $"{i}.{(format == SKEncodedImageFormat.Png ? "png" : "jpg")}");
            var bytes = data.ToArray();
            // Images 1 and 3 stop half-way, as an interrupted copy would.
            File.WriteAllBytes(path, i % 2 == 1 ? bytes.AsSpan(0, bytes.Length / 2).ToArray() : bytes);
            files.Add(path);
        }
        // SkiaSharp alone decodes a truncated file without complaint (missing rows filled in): the reason for the full-decode check.
        using (var lenient = SKBitmap.Decode(files[1])) Assert.True(lenient == null || lenient.Width == 64);
        var e = Assert.Throws<InvalidDataException>(() => ImageFolder.Decode(root, files, 28));
        Assert.Equal(2, e.Data[ImageFolder.DamagedImagesKey]);
        Assert.StartsWith($"2 of 5 images in '{root}' cannot be decoded", e.Message);
        Assert.Contains("1.", e.Message);
        var kept = ImageFolder.Decode(root, files, 28, skipDamaged: true);
        Assert.Equal(3, kept.Count);
        Assert.Equal([files[1], files[3]], kept.Damaged);
        Assert.Equal([files[0], files[2], files[4]], kept.Files);
    }

    [Fact]
    public void EmptyOrMissingFoldersAreExplained()
    {
        Assert.Contains("holds no images", Assert.Throws<InvalidDataException>(() => ImageFolder.List(root)).Message);
        Assert.Contains("does not exist", Assert.Throws<DirectoryNotFoundException>(() => ImageFolder.List(Path.Combine(root, "nope"))).Message);
        File.WriteAllText(Path.Combine(root, "f.png"), "x");
        Assert.Contains("is a file", Assert.Throws<ArgumentException>(() => ImageFolder.List(Path.Combine(root, "f.png"))).Message);
    }
}
