namespace Toolkit.Data.Images;

/// <summary>
/// Any folder of images (searched recursively; JPEG, PNG, BMP, GIF, WebP), each cropped to its largest centred
/// square (or a fixed centred square) and resized to <see cref="Height"/> x <see cref="Width"/> RGB. Every image is
/// decoded once, in parallel, when the folder is opened: damaged or truncated files are found then, counted and
/// refused (or, when asked, left out), never trained on as filled-in pixels. Decoded images are held as bytes.
/// </summary>
public sealed class ImageFolder : IImageSource
{
    /// <summary>Key in <see cref="Exception.Data"/> of the error a folder with undecodable images raises: their count.</summary>
    public const string DamagedImagesKey = "DamagedImages";

    readonly byte[][] images;

    ImageFolder(string root, string[] files, byte[][] images, int size, IReadOnlyList<string> damaged)
    {
        Root = root;
        Files = files;
        this.images = images;
        Height = Width = size;
        Damaged = damaged;
    }

    /// <summary>The folder.</summary>
    public string Root { get; }
    /// <summary>Paths of the images in use, in index order.</summary>
    public IReadOnlyList<string> Files { get; }
    /// <summary>Files that could not be decoded and were left out (only when opened with skipDamaged).</summary>
    public IReadOnlyList<string> Damaged { get; }
    /// <inheritdoc/>
    public int Count => images.Length;
    /// <inheritdoc/>
    public int Channels => 3;
    /// <inheritdoc/>
    public int Height { get; }
    /// <inheritdoc/>
    public int Width { get; }

    /// <summary>Image files under <paramref name="root"/> (recursive), sorted by ordinal path.</summary>
    public static string[] List(string root)
    {
        if (File.Exists(root)) throw new ArgumentException($"'{root}' is a file; pass the folder that holds the images.");
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"image folder '{root}' does not exist.");
        var files = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Where(f => ImageDecoder.Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Order(StringComparer.Ordinal).ToArray();
        if (files.Length == 0)
            throw new InvalidDataException($"image folder '{root}' holds no images ({string.Join(", ", ImageDecoder.Extensions)}).");
        return files;
    }

    /// <summary>
    /// Decodes <paramref name="files"/> (all of them, in parallel) into a source of <paramref name="size"/>-pixel squares.
    /// With damaged files: throws <see cref="InvalidDataException"/> giving their count and the first one, unless
    /// <paramref name="skipDamaged"/>, when they are left out and listed in <see cref="Damaged"/>.
    /// </summary>
    public static ImageFolder Decode(string root, IReadOnlyList<string> files, int size, int cropSize = 0, bool skipDamaged = false,
        IProgress<int>? progress = null)
    {
        var decoded = new byte[files.Count][];
        var errors = new string?[files.Count];
        int done = 0;
        Parallel.For(0, files.Count, i =>
        {
            try { decoded[i] = ImageDecoder.DecodeSquare(files[i], cropSize, size); }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException) { errors[i] = e.Message; }
            int n = Interlocked.Increment(ref done);
            if (n % 256 == 0) progress?.Report(n);
        });
        var damaged = Enumerable.Range(0, files.Count).Where(i => errors[i] != null).ToList();
        if (damaged.Count > 0 && !skipDamaged)
            throw new InvalidDataException(
                $"{damaged.Count} of {files.Count} images in '{root}' cannot be decoded (truncated, damaged or unreadable; first: {errors[damaged[0]]}); " +
                "replace or remove them, or leave them out.") { Data = { [DamagedImagesKey] = damaged.Count } };
        var kept = Enumerable.Range(0, files.Count).Where(i => errors[i] == null).ToArray();
        if (kept.Length == 0) throw new InvalidDataException($"none of the {files.Count} images in '{root}' can be decoded.");
        return new ImageFolder(root, kept.Select(i => files[i]).ToArray(), kept.Select(i => decoded[i]).ToArray(), size,
            damaged.Select(i => files[i]).ToList());
    }

    /// <summary>The decoded pixels of image <paramref name="index"/> (3 x size x size bytes).</summary>
    public ReadOnlySpan<byte> Pixels(int index) => images[index];

    /// <inheritdoc/>
    public void ReadBatch(ReadOnlySpan<int> indices, Span<float> destination)
    {
        int per = 3 * Height * Width;
        if (destination.Length < indices.Length * per) throw new ArgumentException($"destination holds {destination.Length} floats, {indices.Length * per} needed");
        for (int i = 0; i < indices.Length; i++)
        {
            int index = indices[i];
            if ((uint)index >= (uint)images.Length) throw new ArgumentOutOfRangeException(nameof(indices), $"image {index} of {images.Length}");
            var source = images[index];
            var target = destination.Slice(i * per, per);
            for (int j = 0; j < per; j++) target[j] = source[j] * (1f / 255f);
        }
    }
}
