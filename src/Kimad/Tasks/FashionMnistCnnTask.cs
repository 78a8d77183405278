using Toolkit.Data.Images;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kimad.Tasks;

/// <summary>
/// A small CNN on Fashion-MNIST (real data from the Debian package dataset-fashion-mnist):
/// conv 1->8 5x5, max-pool, conv 8->16 5x5, max-pool, fc 256->64, fc 64->10 (about 20k parameters, 8 tensors).
/// Worker i trains on training images i, i+n, i+2n, ...; evaluation uses the first EvalExamples test images.
/// Runs on the CPU with one intra-op thread (several processes share the cores).
/// </summary>
public sealed class FashionMnistCnnTask : ITrainingTask
{
    readonly ImageSet train, test;
    readonly Net net;
    readonly int batch, seed;
    readonly string[] names;
    readonly int[] lengths, rows;

    public FashionMnistCnnTask(TaskOptions options)
    {
        Toolkit.Runtime.LibTorch.EnsureLoaded();
        torch.set_num_threads(1);
        batch = options.BatchSize;
        seed = options.Seed;
        train = MnistFormat.LoadFashionMnist(DataSplit.Train, options.DataDirectory);
        if (options.TrainExamples > 0) train = train.Take(options.TrainExamples);
        test = MnistFormat.LoadFashionMnist(DataSplit.Test, options.DataDirectory).Take(options.EvalExamples);
        torch.manual_seed(options.Seed);
        net = new Net();
        var parameters = net.named_parameters().ToList();
        names = parameters.Select(p => p.name).ToArray();
        lengths = parameters.Select(p => (int)p.parameter.numel()).ToArray();
        rows = parameters.Select(p => p.parameter.dim() >= 2 ? (int)p.parameter.shape[0] : 1).ToArray();
    }

    public string Name => "cnn";
    public IReadOnlyList<string> LayerNames => names;
    public IReadOnlyList<int> LayerLengths => lengths;
    public IReadOnlyList<int> LayerRows => rows;
    public float DefaultLearningRate => 0.1f;

    public float[][] InitialParameters() => net.parameters().Select(p => p.data<float>().ToArray()).ToArray();

    void Load(float[][] values)
    {
        using var _ = torch.no_grad();
        int l = 0;
        foreach (var p in net.parameters())
        {
            using var t = torch.tensor(values[l++], p.shape);
            p.copy_(t);
        }
    }

    int[] MinibatchIndices(int worker, int workers, long round)
    {
        int shard = (train.Count - worker + workers - 1) / workers;
        var rng = new Random(HashCode.Combine(seed, worker, round));
        var indices = new int[batch];
        for (int b = 0; b < batch; b++) indices[b] = worker + workers * rng.Next(shard);
        return indices;
    }

    /// <summary>The minibatch loss without a backward pass (one forward).</summary>
    public double Loss(float[][] parameters, int worker, int workers, long round)
    {
        Load(parameters);
        using var _ = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var (x, y) = Batch(train, MinibatchIndices(worker, workers, round));
        return F.cross_entropy(net.forward(x), y).item<float>();
    }

    public double Gradient(float[][] parameters, float[][] gradient, int worker, int workers, long round)
    {
        Load(parameters);
        using var scope = torch.NewDisposeScope();
        var (x, y) = Batch(train, MinibatchIndices(worker, workers, round));
        net.zero_grad();
        var loss = F.cross_entropy(net.forward(x), y);
        loss.backward();
        int l = 0;
        foreach (var p in net.parameters()) p.grad!.data<float>().CopyTo(gradient[l++]);
        return loss.item<float>();
    }

    public Evaluation Evaluate(float[][] parameters)
    {
        Load(parameters);
        using var _ = torch.no_grad();
        double loss = 0; long correct = 0;
        for (int start = 0; start < test.Count; start += 500)
        {
            using var scope = torch.NewDisposeScope();
            var idx = Enumerable.Range(start, Math.Min(500, test.Count - start)).ToArray();
            var (x, y) = Batch(test, idx);
            var logits = net.forward(x);
            loss += F.cross_entropy(logits, y, reduction: nn.Reduction.Sum).item<float>();
            correct += logits.argmax(1).eq(y).sum().item<long>();
        }
        return new Evaluation(loss / test.Count, (double)correct / test.Count);
    }

    static (Tensor X, Tensor Y) Batch(ImageSet set, int[] indices)
    {
        var pixels = new float[indices.Length * set.Height * set.Width];
        set.ReadBatch(indices, pixels);
        var labels = indices.Select(i => (long)set.Labels![i]).ToArray();
        return (torch.tensor(pixels, [indices.Length, 1, set.Height, set.Width]), torch.tensor(labels));
    }

    public void Dispose() => net.Dispose();

    sealed class Net : nn.Module<Tensor, Tensor>
    {
        readonly nn.Module<Tensor, Tensor> conv1 = nn.Conv2d(1, 8, 5), conv2 = nn.Conv2d(8, 16, 5), fc1 = nn.Linear(256, 64), fc2 = nn.Linear(64, 10);

        public Net() : base("cnn") => RegisterComponents();

        public override Tensor forward(Tensor x)
        {
            x = F.max_pool2d(F.relu(conv1.forward(x)), 2);
            x = F.max_pool2d(F.relu(conv2.forward(x)), 2);
            x = F.relu(fc1.forward(x.flatten(1)));
            return fc2.forward(x);
        }
    }
}
