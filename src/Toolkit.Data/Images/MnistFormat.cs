namespace Toolkit.Data.Images;

/// <summary>Which part of a data set.</summary>
public enum DataSplit
{
    /// <summary>The training part.</summary>
    Train,
    /// <summary>The held-out test part.</summary>
    Test,
}

/// <summary>
/// MNIST-format data sets (MNIST, Fashion-MNIST): a folder with the four IDX files
/// train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte,
/// each optionally gzipped (.gz), or named with a dot before idx (train-images.idx3-ubyte).
/// </summary>
public static class MnistFormat
{
    /// <summary>Where the Debian package dataset-fashion-mnist installs Fashion-MNIST.</summary>
    public const string FashionMnistDebianDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>Environment variable that overrides the Fashion-MNIST folder.</summary>
    public const string FashionMnistVariable = "FASHION_MNIST_DIR";

    /// <summary>Loads Fashion-MNIST from <paramref name="directory"/>, else $FASHION_MNIST_DIR, else the Debian package's folder.</summary>
    public static ImageSet LoadFashionMnist(DataSplit split, string? directory = null)
    {
        directory ??= Environment.GetEnvironmentVariable(FashionMnistVariable);
        if (string.IsNullOrWhiteSpace(directory))
        {
            directory = FashionMnistDebianDirectory;
            if (!Directory.Exists(directory))
                throw new DirectoryNotFoundException(
                    $"Fashion-MNIST was not found in {FashionMnistDebianDirectory}. Install it with 'apt-get install dataset-fashion-mnist', " +
                    $"or pass the folder holding the four IDX files (or set {FashionMnistVariable}).");
        }
        return Load(directory, split, "Fashion-MNIST");
    }

    /// <summary>Loads one split of an MNIST-format data set from <paramref name="directory"/>.</summary>
    public static ImageSet Load(string directory, DataSplit split, string datasetName = "MNIST")
    {
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"{datasetName}: folder '{directory}' does not exist; pass the folder holding the four IDX files.");
        string prefix = split == DataSplit.Train ? "train" : "t10k";
        string imagesPath = Find(directory, prefix, "images", 3, datasetName);
        string labelsPath = Find(directory, prefix, "labels", 1, datasetName);
        var images = IdxFile.Read(imagesPath);
        var labels = IdxFile.Read(labelsPath);
        if (images.Dimensions.Length != 3)
            throw new InvalidDataException($"IDX file '{imagesPath}' has {images.Dimensions.Length} dimensions; an image file has 3 (count x height x width).");
        if (labels.Dimensions.Length != 1)
            throw new InvalidDataException($"IDX file '{labelsPath}' has {labels.Dimensions.Length} dimensions; a label file has 1.");
        if (images.Count != labels.Count)
            throw new InvalidDataException($"'{imagesPath}' holds {images.Count} images but '{labelsPath}' holds {labels.Count} labels; the files do not belong together.");
        return new ImageSet($"{datasetName} {split.ToString().ToLowerInvariant()}", images.Data, images.Count, 1,
            images.Dimensions[1], images.Dimensions[2], labels.Data);
    }

    static string Find(string directory, string prefix, string kind, int rank, string datasetName)
    {
        string[] names = [$"{prefix}-{kind}-idx{rank}-ubyte", $"{prefix}-{kind}.idx{rank}-ubyte"];
        foreach (var n in names)
            foreach (var candidate in new[] { n + ".gz", n })
            {
                string path = Path.Combine(directory, candidate);
                if (File.Exists(path)) return path;
            }
        throw new FileNotFoundException($"{datasetName}: '{directory}' has no {names[0]}(.gz); expected the four IDX files of the data set there.");
    }
}
