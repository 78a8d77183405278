namespace Toolkit.Data.Images;

/// <summary>
/// A source of equally sized images, channel-first, read in batches as floats in [0, 1]. In-memory sets
/// (IDX) and streamed ones (CelebA, decoded on demand) share this shape so that training code does not care.
/// </summary>
public interface IImageSource
{
    /// <summary>Number of images.</summary>
    int Count { get; }
    /// <summary>Channels (1 or 3).</summary>
    int Channels { get; }
    /// <summary>Height in pixels.</summary>
    int Height { get; }
    /// <summary>Width in pixels.</summary>
    int Width { get; }
    /// <summary>Writes images <paramref name="indices"/> into <paramref name="destination"/> (C*H*W floats each, in [0, 1]).</summary>
    void ReadBatch(ReadOnlySpan<int> indices, Span<float> destination);
}

/// <summary>An in-memory set of 8-bit images with optional class labels (MNIST-style).</summary>
public sealed class ImageSet : IImageSource
{
    /// <summary>Wraps <paramref name="pixels"/> (count x channels x height x width bytes) and optional labels.</summary>
    public ImageSet(string name, byte[] pixels, int count, int channels, int height, int width, byte[]? labels)
    {
        if ((long)count * channels * height * width != pixels.Length)
            throw new ArgumentException($"{name}: {pixels.Length} bytes do not hold {count} images of {channels}x{height}x{width}");
        if (labels != null && labels.Length != count)
            throw new InvalidDataException($"{name}: {count} images but {labels.Length} labels; the image and label files do not belong together.");
        Name = name; Pixels = pixels; Count = count; Channels = channels; Height = height; Width = width; Labels = labels;
    }

    /// <summary>Where the set came from (for messages and reports).</summary>
    public string Name { get; }
    /// <summary>Raw pixels, count x channels x height x width.</summary>
    public byte[] Pixels { get; }
    /// <summary>Class labels, one per image, or null.</summary>
    public byte[]? Labels { get; }
    /// <inheritdoc/>
    public int Count { get; }
    /// <inheritdoc/>
    public int Channels { get; }
    /// <inheritdoc/>
    public int Height { get; }
    /// <inheritdoc/>
    public int Width { get; }
    /// <summary>Number of classes (largest label + 1), or 0 without labels.</summary>
    public int ClassCount => Labels == null || Labels.Length == 0 ? 0 : Labels.Max() + 1;

    /// <inheritdoc/>
    public void ReadBatch(ReadOnlySpan<int> indices, Span<float> destination)
    {
        int per = Channels * Height * Width;
        if (destination.Length < indices.Length * per)
            throw new ArgumentException($"destination holds {destination.Length} floats, {indices.Length * per} needed");
        for (int i = 0; i < indices.Length; i++)
        {
            int index = indices[i];
            if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(indices), $"image {index} of {Count}");
            var source = Pixels.AsSpan(index * per, per);
            var target = destination.Slice(i * per, per);
            for (int j = 0; j < per; j++) target[j] = source[j] * (1f / 255f);
        }
    }

    /// <summary>The first <paramref name="count"/> images (a view for quick runs and evaluation subsets).</summary>
    public ImageSet Take(int count)
    {
        count = Math.Min(count, Count);
        int per = Channels * Height * Width;
        return new ImageSet(Name, Pixels.AsSpan(0, count * per).ToArray(), count, Channels, Height, Width, Labels?.AsSpan(0, count).ToArray());
    }
}
