using TorchSharp;
using Toolkit.Data.Images;
using Wwae.Models;
using static TorchSharp.torch;

namespace Wwae.Reports;

/// <summary>Images made by a trained model: prior samples, reconstructions, interpolations (float CHW in [0, 1]).</summary>
public static class ModelImages
{
    /// <summary>Decodes <paramref name="count"/> codes drawn from N(0, I) (the prior all three models share).</summary>
    public static float[] Sample(GaussianAutoEncoder model, int count, Device device, int seed, int batchSize = 500)
    {
        var c = model.Config;
        int per = c.Channels * c.ImageSize * c.ImageSize;
        var result = new float[(long)count * per];
        using var _ = no_grad();
        model.eval();
        // Codes are drawn on the CPU, so a seed gives the same images on every device.
        var generator = new Generator((ulong)seed, CPU);
        for (int start = 0; start < count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            int n = Math.Min(batchSize, count - start);
            var z = randn([n, c.Latent], generator: generator).to(device);
            model.Decode(z).cpu().data<float>().CopyTo(result.AsSpan(start * per, n * per));
        }
        return result;
    }

    /// <summary>Reconstructions of images <paramref name="indices"/> through the posterior mean (deterministic).</summary>
    public static float[] Reconstruct(GaussianAutoEncoder model, IImageSource data, int[] indices, Device device)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        model.eval();
        var x = ReadImages(model.Config, data, indices, device);
        return model.Decode(model.Encode(x, sample: false).Mean).cpu().data<float>().ToArray();
    }

    /// <summary>Mean per-image squared L2 and L1 errors of reconstructions (posterior mean) over the first <paramref name="limit"/> images.</summary>
    public static (double SquaredL2, double L1, int Images) ReconstructionError(GaussianAutoEncoder model, IImageSource data, Device device, int limit = 10_000, int batchSize = 500)
    {
        int count = Math.Min(limit, data.Count);
        double l2 = 0, l1 = 0;
        for (int start = 0; start < count; start += batchSize)
        {
            int n = Math.Min(batchSize, count - start);
            var indices = Enumerable.Range(start, n).ToArray();
            var c = model.Config;
            var input = new float[n * c.Channels * c.ImageSize * c.ImageSize];
            data.ReadBatch(indices, input);
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            model.eval();
            var x = tensor(input).reshape(n, c.Channels, c.ImageSize, c.ImageSize).to(device);
            var diff = model.Decode(model.Encode(x, sample: false).Mean) - x;
            l2 += diff.square().sum().item<float>();
            l1 += diff.abs().sum().item<float>();
        }
        return (l2 / count, l1 / count, count);
    }

    /// <summary>
    /// Rows of <paramref name="steps"/> images decoded along straight lines between the codes of image pairs
    /// (0, 1), (2, 3), ... of <paramref name="indices"/>.
    /// </summary>
    public static float[] Interpolate(GaussianAutoEncoder model, IImageSource data, int[] indices, int steps, Device device)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        model.eval();
        var x = ReadImages(model.Config, data, indices, device);
        var z = model.Encode(x, sample: false).Mean;
        var rows = new List<Tensor>();
        for (int p = 0; p + 1 < indices.Length; p += 2)
        {
            var t = linspace(0, 1, steps, device: device).unsqueeze(1);
            rows.Add(z[p].unsqueeze(0) * (1 - t) + z[p + 1].unsqueeze(0) * t);
        }
        return model.Decode(cat(rows, 0)).cpu().data<float>().ToArray();
    }

    /// <summary>Images <paramref name="indices"/> of <paramref name="data"/> as a [N, C, H, W] tensor on <paramref name="device"/>.</summary>
    static Tensor ReadImages(AutoEncoderConfig c, IImageSource data, int[] indices, Device device)
    {
        var input = new float[indices.Length * c.Channels * c.ImageSize * c.ImageSize];
        data.ReadBatch(indices, input);
        return tensor(input).reshape(indices.Length, c.Channels, c.ImageSize, c.ImageSize).to(device);
    }
}
