using SkiaSharp;
using Toolkit.Data.Images;

namespace Toolkit.Data.Tests.Images;

public sealed class CelebATests : IDisposable
{
    readonly string root = Directory.CreateTempSubdirectory("celeba-tests-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    /// <summary>Writes a 178x218 JPEG (CelebA's aligned size): red left half, blue right half, a green centre square.</summary>
    void WriteJpeg(string name)
    {
        Directory.CreateDirectory(Path.Combine(root, CelebA.ImageFolder));
        using var bitmap = new SKBitmap(178, 218);
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(new SKColor(255, 0, 0));
            using var blue = new SKPaint { Color = new SKColor(0, 0, 255) };
            canvas.DrawRect(89, 0, 89, 218, blue);
            using var green = new SKPaint { Color = new SKColor(0, 255, 0) };
            canvas.DrawRect(89 - 20, 109 - 20, 40, 40, green);
        }
        using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, 95);
        File.WriteAllBytes(Path.Combine(root, CelebA.ImageFolder, name), data.ToArray());
    }

    void WriteList(params string[] lines) => File.WriteAllLines(Path.Combine(root, CelebA.PartitionFile), lines);

    [Fact]
    public void Decodes_crops_and_resizes_by_split()
    {
        WriteJpeg("000001.jpg");
        WriteJpeg("000002.jpg");
        WriteJpeg("000003.jpg");
        WriteList("000001.jpg 0", "000002.jpg 2", "000003.jpg 0");
        var train = CelebA.Open(root, CelebASplit.Train);
        Assert.Equal(2, train.Count);
        Assert.Equal((3, 64, 64), (train.Channels, train.Height, train.Width));
        var batch = new float[2 * 3 * 64 * 64];
        train.ReadBatch([1, 0], batch);
        float At(int image, int c, int y, int x) => batch[image * 3 * 4096 + c * 4096 + y * 64 + x];
        // Centre of a 140 crop of the 178x218 image maps to the green square; left edge red, right edge blue.
        Assert.True(At(0, 1, 32, 32) > 0.9f && At(0, 0, 32, 32) < 0.1f, "centre should be green");
        Assert.True(At(0, 0, 5, 2) > 0.9f && At(0, 2, 5, 2) < 0.1f, "left edge should be red");
        Assert.True(At(1, 2, 60, 61) > 0.9f && At(1, 0, 60, 61) < 0.1f, "right edge should be blue");
        // The green square is 40 px of a 140 px crop: about 18 px of 64.
        int greenColumns = Enumerable.Range(0, 64).Count(x => At(0, 1, 32, x) > 0.5f);
        Assert.InRange(greenColumns, 16, 21);
    }

    [Fact]
    public void Missing_image_is_named()
    {
        WriteJpeg("000001.jpg");
        WriteList("000001.jpg 0", "000002.jpg 0");
        var set = CelebA.Open(root, CelebASplit.Train);
        var inner = Assert.Throws<FileNotFoundException>(() => set.ReadBatch([0, 1], new float[2 * 3 * 4096]));
        Assert.Contains("000002.jpg", inner.Message);
    }

    [Fact]
    public void Corrupt_image_is_named()
    {
        WriteJpeg("000001.jpg");
        var path = Path.Combine(root, CelebA.ImageFolder, "000001.jpg");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes.AsSpan(0, 20).ToArray());
        WriteList("000001.jpg 1");
        var set = CelebA.Open(root, CelebASplit.Validation);
        var inner = Assert.Throws<InvalidDataException>(() => set.ReadBatch([0], new float[3 * 4096]));
        Assert.Contains("000001.jpg", inner.Message);
        Assert.Contains("cannot be decoded", inner.Message);
    }

    [Fact]
    public void Missing_pieces_of_the_folder_are_explained()
    {
        Assert.Contains(CelebA.ImageFolder, Assert.Throws<DirectoryNotFoundException>(() => CelebA.Open(root, CelebASplit.Train)).Message);
        Directory.CreateDirectory(Path.Combine(root, CelebA.ImageFolder));
        Assert.Contains(CelebA.PartitionFile, Assert.Throws<FileNotFoundException>(() => CelebA.Open(root, CelebASplit.Train)).Message);
        WriteList("000001.jpg 7");
        Assert.Contains("line 1", Assert.Throws<InvalidDataException>(() => CelebA.Open(root, CelebASplit.Train)).Message);
        WriteList("000001.jpg 1");
        Assert.Contains("no image in partition 0", Assert.Throws<InvalidDataException>(() => CelebA.Open(root, CelebASplit.Train)).Message);
    }
}
