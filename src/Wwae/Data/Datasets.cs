using Toolkit.Data.Images;

namespace Wwae.Data;

/// <summary>The data sets the tool knows, by their command-line names.</summary>
public static class Datasets
{
    /// <summary>Accepted names for --dataset.</summary>
    public static readonly string[] Names = ["fashion-mnist", "mnist", "celeba"];

    /// <summary>
    /// Loads one split. fashion-mnist: <paramref name="path"/> or the Debian package's folder; mnist: a folder
    /// with the four IDX files (required); celeba: the folder holding img_align_celeba/ and list_eval_partition.txt
    /// (required; images are decoded on demand).
    /// </summary>
    public static IImageSource Load(string name, string? path, DataSplit split) => name switch
    {
        "fashion-mnist" => MnistFormat.LoadFashionMnist(split, path),
        "mnist" => MnistFormat.Load(path ?? throw new ArgumentException("--dataset mnist needs --data FOLDER, the folder holding the four MNIST IDX files (train-images-idx3-ubyte.gz, ...)."), split),
        "celeba" => CelebA.Open(path ?? throw new ArgumentException("--dataset celeba needs --data FOLDER, the folder holding img_align_celeba/ and list_eval_partition.txt."),
            split == DataSplit.Train ? CelebASplit.Train : CelebASplit.Test),
        _ => throw new ArgumentException($"unknown data set '{name}'; use one of {string.Join(", ", Names)}."),
    };

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
