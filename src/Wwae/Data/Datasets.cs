using Toolkit.Data.Images;

namespace Wwae.Data;

/// <summary>How image data is read: data set, folder, image size, what to do with damaged files.</summary>
/// <param name="Name">fashion-mnist, mnist, celeba or folder.</param>
/// <param name="Path">The data folder (optional for fashion-mnist).</param>
/// <param name="ImageSize">Side of the square images a folder is resized to (folders only; CelebA is 64).</param>
/// <param name="SkipDamaged">Leave images that cannot be decoded out (with a warning) instead of refusing the folder.</param>
public sealed record DataSpec(string Name, string? Path, int ImageSize = 64, bool SkipDamaged = false)
{
    /// <summary>Prefix of <c>--data</c> that names any folder of images.</summary>
    public const string FolderPrefix = "folder:";

    /// <summary>Reads <c>--dataset</c> and <c>--data</c>: <c>--data folder:PATH</c> selects the image-folder reader whatever <c>--dataset</c> says.</summary>
    public static DataSpec Parse(string dataset, string? data, int imageSize = 64, bool skipDamaged = false) =>
        data != null && data.StartsWith(FolderPrefix, StringComparison.Ordinal)
            ? new DataSpec("folder", data[FolderPrefix.Length..], imageSize, skipDamaged)
            : new DataSpec(dataset, data, imageSize, skipDamaged);
}

/// <summary>The data sets the tool knows, by their command-line names.</summary>
public static class Datasets
{
    /// <summary>Accepted names for --dataset.</summary>
    public static readonly string[] Names = ["fashion-mnist", "mnist", "celeba", "folder"];

    /// <summary>Training images of MNIST-style sets that stay in training when the last ones are held out for validation.</summary>
    public const int MnistValidationStart = 50_000;

    /// <summary>
    /// Loads one split. fashion-mnist: <see cref="DataSpec.Path"/> or the Debian package's folder; mnist: a folder
    /// with the four IDX files (required); celeba: the folder holding img_align_celeba/ and list_eval_partition.txt
    /// (required); folder: any folder of images, split by a hash of each file's relative path (80 % train,
    /// 10 % validation, 10 % test, stable when files are added). CelebA and folders are decoded once, in parallel,
    /// and damaged images are counted and refused (see <see cref="ImageFolder"/>).
    /// </summary>
    public static IImageSource Load(DataSpec spec, DatasetSplit split, IProgress<int>? progress = null) => spec.Name switch
    {
        "fashion-mnist" => Mnist(MnistFormat.LoadFashionMnist(split == DatasetSplit.Test ? DataSplit.Test : DataSplit.Train, spec.Path), split),
        "mnist" => Mnist(MnistFormat.Load(spec.Path ?? throw new ArgumentException("--dataset mnist needs --data FOLDER, the folder holding the four MNIST IDX files (train-images-idx3-ubyte.gz, ...)."),
            split == DatasetSplit.Test ? DataSplit.Test : DataSplit.Train), split),
        "celeba" => CelebAImages(spec, split, progress),
        "folder" => Folder(spec, split, progress),
        _ => throw new ArgumentException($"unknown data set '{spec.Name}'; use one of {string.Join(", ", Names)}, or --data folder:PATH."),
    };

    /// <summary>Loads one split of <c>--dataset</c>/<c>--data</c> with default folder settings.</summary>
    public static IImageSource Load(string name, string? path, DatasetSplit split) => Load(DataSpec.Parse(name, path), split);

    static IImageSource Mnist(ImageSet set, DatasetSplit split)
    {
        if (split != DatasetSplit.Validation) return set;
        if (set.Count <= MnistValidationStart) throw new InvalidDataException($"{set.Name} has {set.Count} training images; the validation split needs more than {MnistValidationStart}.");
        int per = set.Channels * set.Height * set.Width;
        return new ImageSet(set.Name + " (validation)", set.Pixels.AsSpan(MnistValidationStart * per).ToArray(), set.Count - MnistValidationStart,
            set.Channels, set.Height, set.Width, set.Labels?.AsSpan(MnistValidationStart).ToArray());
    }

    static IImageSource CelebAImages(DataSpec spec, DatasetSplit split, IProgress<int>? progress)
    {
        string root = spec.Path ?? throw new ArgumentException("--dataset celeba needs --data FOLDER, the folder holding img_align_celeba/ and list_eval_partition.txt.");
        var celeba = CelebA.Open(root, split switch { DatasetSplit.Train => CelebASplit.Train, DatasetSplit.Validation => CelebASplit.Validation, _ => CelebASplit.Test });
        var files = Enumerable.Range(0, celeba.Count).Select(celeba.PathOf).ToArray();
        foreach (var f in files)
            if (!File.Exists(f)) throw new FileNotFoundException($"CelebA: image '{f}' is listed in {CelebA.PartitionFile} but missing; is the {CelebA.ImageFolder} folder complete?", f);
        return ImageFolder.Decode(System.IO.Path.Combine(root, CelebA.ImageFolder), files, celeba.Height, celeba.CropSize, spec.SkipDamaged, progress);
    }

    static IImageSource Folder(DataSpec spec, DatasetSplit split, IProgress<int>? progress)
    {
        string root = spec.Path is { Length: > 0 } p ? p : throw new ArgumentException("--data folder:PATH needs a folder after 'folder:'.");
        if (spec.ImageSize is not (28 or 64)) throw new ArgumentException($"--image-size {spec.ImageSize}: the auto-encoder takes 28 or 64.");
        var all = ImageFolder.List(root);
        var chosen = all.Where(f => SplitOf(System.IO.Path.GetRelativePath(root, f)) == split).ToArray();
        if (chosen.Length == 0)
            throw new InvalidDataException($"image folder '{root}' has {all.Length} images, none of them in the {split.ToString().ToLowerInvariant()} split (10 % of the files by name); add images.");
        return ImageFolder.Decode(root, chosen, spec.ImageSize, 0, spec.SkipDamaged, progress);
    }

    /// <summary>Split of a file in a folder: FNV-1a hash of its relative path (with '/' separators) modulo 20: 0-1 test, 2-3 validation, else train.</summary>
    public static DatasetSplit SplitOf(string relativePath)
    {
        uint hash = 2166136261;
        foreach (char c in relativePath.Replace('\\', '/'))
        {
            hash ^= c;
            hash *= 16777619;
        }
        return (hash % 20) switch { 0 or 1 => DatasetSplit.Test, 2 or 3 => DatasetSplit.Validation, _ => DatasetSplit.Train };
    }

    /// <summary>The first <paramref name="count"/> images (all when 0 or more than there are).</summary>
    public static IImageSource Limit(IImageSource source, int count) =>
        count <= 0 || count >= source.Count ? source : source is ImageSet set ? set.Take(count) : new Prefix(source, count);

    sealed class Prefix(IImageSource inner, int count) : IImageSource
    {
        public int Count => count;
        public int Channels => inner.Channels;
        public int Height => inner.Height;
        public int Width => inner.Width;
        public void ReadBatch(ReadOnlySpan<int> indices, Span<float> destination)
        {
            foreach (int i in indices) if ((uint)i >= (uint)count) throw new ArgumentOutOfRangeException(nameof(indices));
            inner.ReadBatch(indices, destination);
        }
    }
}
