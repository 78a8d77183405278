using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Wwae.Training;

/// <summary>
/// Adam (Kingma and Ba; the same update as torch.optim.Adam without weight decay) over all parameters at
/// once: the gradients are concatenated into one flat vector, the moment estimates live in flat vectors, and
/// the update is one set of element-wise operations, then one in-place add per parameter. TorchSharp's Adam
/// runs about ten small kernels per parameter; for small networks those launches, not arithmetic, bound the
/// step time on a GPU (PyTorch's default multi-tensor Adam avoids them the same way).
/// </summary>
public sealed class FlatAdam : IDisposable
{
    readonly Parameter[] parameters;
    readonly long[] sizes;
    readonly Tensor m, v;
    readonly double beta1, beta2, eps;
    double lr;
    long step;

    public FlatAdam(IEnumerable<Parameter> parameters, double lr, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8)
    {
        this.parameters = parameters.Where(p => p.requires_grad).ToArray();
        if (this.parameters.Length == 0) throw new ArgumentException("no trainable parameters");
        var first = this.parameters[0];
        if (this.parameters.Any(p => p.dtype != first.dtype || p.device_type != first.device_type || p.device_index != first.device_index))
            throw new ArgumentException("FlatAdam needs all parameters on one device with one dtype.");
        sizes = this.parameters.Select(p => p.numel()).ToArray();
        long total = sizes.Sum();
        m = zeros(total, dtype: first.dtype, device: first.device);
        v = zeros(total, dtype: first.dtype, device: first.device);
        this.lr = lr; this.beta1 = beta1; this.beta2 = beta2; this.eps = eps;
    }

    /// <summary>The learning rate of the next step (a schedule sets it before each step).</summary>
    public double LearningRate { get => lr; set => lr = value > 0 && double.IsFinite(value) ? value : throw new ArgumentOutOfRangeException(nameof(value)); }

    /// <summary>Steps taken so far.</summary>
    public long StepCount => step;

    /// <summary>Drops the gradients (the next backward allocates them afresh).</summary>
    public void ZeroGrad()
    {
        foreach (var p in parameters)
        {
            var g = p.grad;
            if (g is not null) { p.grad = null; g.Dispose(); }
        }
    }

    /// <summary>One Adam update from the current gradients (parameters without a gradient count as zero gradient).</summary>
    public void Step()
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var grads = parameters.Select(p => p.grad is { } g ? g.flatten() : zeros(p.numel(), dtype: p.dtype, device: p.device)).ToList();
        var grad = cat(grads, 0);
        step++;
        m.mul_(beta1).add_(grad, alpha: 1 - beta1);
        v.mul_(beta2).addcmul_(grad, grad, value: 1 - beta2);
        double biasCorrection1 = 1 - Math.Pow(beta1, step);
        double biasCorrection2 = 1 - Math.Pow(beta2, step);
        var denominator = (v / biasCorrection2).sqrt_().add_(eps);
        var update = (m / denominator).mul_(-lr / biasCorrection1);
        long offset = 0;
        for (int i = 0; i < parameters.Length; i++)
        {
            parameters[i].add_(update.narrow(0, offset, sizes[i]).view(parameters[i].shape));
            offset += sizes[i];
        }
    }

    /// <summary>Writes the step count and both moment vectors.</summary>
    public void Save(string path)
    {
        using var stream = File.Create(path);
        using var writer = new BinaryWriter(stream);
        writer.Write(step);
        writer.Write(m.numel());
        foreach (var t in new[] { m, v })
        {
            var values = t.cpu().data<float>().ToArray();
            foreach (var x in values) writer.Write(x);
        }
    }

    /// <summary>Reads what <see cref="Save"/> wrote, checking that it belongs to parameters of this size.</summary>
    public void Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"optimizer state '{path}' is missing; the checkpoint is incomplete, train again.", path);
        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream);
        if (stream.Length < 16) throw new InvalidDataException($"optimizer state '{path}' is truncated ({stream.Length} bytes); the checkpoint is damaged, train again.");
        long savedStep = reader.ReadInt64();
        long count = reader.ReadInt64();
        if (count != m.numel()) throw new InvalidDataException($"optimizer state '{path}' holds {count} values per moment, the model has {m.numel()} parameters.");
        if (stream.Length != 16 + 8 * count || savedStep < 0)
            throw new InvalidDataException($"optimizer state '{path}' has {stream.Length} bytes, {16 + 8 * count} expected; the checkpoint is damaged, train again.");
        foreach (var t in new[] { m, v })
        {
            var values = new float[count];
            for (long i = 0; i < count; i++) values[i] = reader.ReadSingle();
            using var loaded = tensor(values).to(t.device);
            t.copy_(loaded);
        }
        step = savedStep;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        m.Dispose();
        v.Dispose();
    }
}
