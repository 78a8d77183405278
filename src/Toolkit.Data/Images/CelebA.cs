namespace Toolkit.Data.Images;

/// <summary>CelebA's standard partition (list_eval_partition.txt: 0 train, 1 validation, 2 test).</summary>
public enum CelebASplit
{
    /// <summary>Partition 0.</summary>
    Train = 0,
    /// <summary>Partition 1.</summary>
    Validation = 1,
    /// <summary>Partition 2.</summary>
    Test = 2,
}

/// <summary>
/// CelebA (aligned and cropped faces) read from the user's copy: a folder with img_align_celeba/ (the JPEGs)
/// and list_eval_partition.txt. Images are decoded on demand with SkiaSharp (nothing is held in memory), centre
/// cropped to 140 x 140 and resized to 64 x 64, the usual preprocessing for 64 x 64 generative models.
/// </summary>
public sealed class CelebA : IImageSource
{
    /// <summary>Name of the image folder inside the data set folder.</summary>
    public const string ImageFolder = "img_align_celeba";
    /// <summary>Name of the partition list.</summary>
    public const string PartitionFile = "list_eval_partition.txt";

    readonly string imageDirectory;
    readonly string[] files;
    readonly int cropSize;

    CelebA(string imageDirectory, string[] files, int cropSize, int outputSize)
    {
        this.imageDirectory = imageDirectory;
        this.files = files;
        this.cropSize = cropSize;
        Height = Width = outputSize;
    }

    /// <summary>Opens one partition of the data set folder <paramref name="root"/>; checks the list, not the images (those are checked when read).</summary>
    public static CelebA Open(string root, CelebASplit split, int cropSize = 140, int outputSize = 64)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"CelebA: folder '{root}' does not exist; pass the folder holding {ImageFolder}/ and {PartitionFile}.");
        string images = Path.Combine(root, ImageFolder);
        if (!Directory.Exists(images)) throw new DirectoryNotFoundException($"CelebA: '{root}' has no {ImageFolder}/ folder (the aligned JPEGs, from img_align_celeba.zip).");
        string list = Path.Combine(root, PartitionFile);
        if (!File.Exists(list)) throw new FileNotFoundException($"CelebA: '{root}' has no {PartitionFile} (it assigns each image to train, validation or test).", list);
        if (cropSize < 1 || outputSize < 1) throw new ArgumentException("crop and output sizes must be positive.");
        var chosen = new List<string>();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(list))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2 || !int.TryParse(parts[1], out int partition) || partition is < 0 or > 2)
                throw new InvalidDataException($"CelebA: {list} line {lineNumber} is '{line.Trim()}'; expected 'FILE.jpg 0|1|2'.");
            if (parts[0].Contains('/') || parts[0].Contains('\\') || parts[0] == "..")
                throw new InvalidDataException($"CelebA: {list} line {lineNumber} names '{parts[0]}', which is not a plain file name.");
            if (partition == (int)split) chosen.Add(parts[0]);
        }
        if (chosen.Count == 0) throw new InvalidDataException($"CelebA: {list} lists no image in partition {(int)split} ({split}).");
        return new CelebA(images, [.. chosen], cropSize, outputSize);
    }

    /// <inheritdoc/>
    public int Count => files.Length;
    /// <inheritdoc/>
    public int Channels => 3;
    /// <inheritdoc/>
    public int Height { get; }
    /// <inheritdoc/>
    public int Width { get; }

    /// <summary>The image file behind index <paramref name="index"/>.</summary>
    public string PathOf(int index) => Path.Combine(imageDirectory, files[index]);

    /// <inheritdoc/>
    public void ReadBatch(ReadOnlySpan<int> indices, Span<float> destination)
    {
        int per = 3 * Height * Width;
        if (destination.Length < indices.Length * per) throw new ArgumentException($"destination holds {destination.Length} floats, {indices.Length * per} needed");
        var results = new float[indices.Length][];
        var list = indices.ToArray();
        try
        {
            Parallel.For(0, list.Length, i => results[i] = Decode(list[i]));
        }
        catch (AggregateException e)
        {
            // Report the first bad image itself (file name and what to do), not the parallel wrapper.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
        for (int i = 0; i < list.Length; i++) results[i].CopyTo(destination.Slice(i * per, per));
    }

    float[] Decode(int index)
    {
        if ((uint)index >= (uint)files.Length) throw new ArgumentOutOfRangeException(nameof(index), $"image {index} of {files.Length}");
        string path = PathOf(index);
        if (!File.Exists(path)) throw new FileNotFoundException($"CelebA: image '{path}' is listed in {PartitionFile} but missing; is the {ImageFolder} folder complete?", path);
        byte[] pixels;
        try
        {
            pixels = ImageDecoder.DecodeSquare(path, cropSize, Width);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"CelebA: {e.Message} (from the original archive)", e);
        }
        var result = new float[pixels.Length];
        for (int i = 0; i < pixels.Length; i++) result[i] = pixels[i] / 255f;
        return result;
    }

    /// <summary>Crop side used before resizing.</summary>
    public int CropSize => cropSize;
}
