using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using TorchSharp.Modules;
using Toolkit.Data.Images;
using Toolkit.Reporting;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Wwae.Evaluation;

/// <summary>
/// A small CNN classifier trained on the data set itself; its 128-d penultimate activations are the
/// "classifier features" for Frechet distance and KID (a data-set-specific substitute for Inception).
/// Two 3x3 conv blocks (32, 64 channels, batch norm, ReLU, 2x2 max pool), then 128 ReLU units, then the classes.
/// </summary>
public sealed class DatasetClassifier : Module<Tensor, Tensor>
{
    /// <summary>Length of the penultimate features.</summary>
    public const int FeatureSize = 128;

    readonly Sequential body;
    readonly Sequential head;

    public int Channels { get; }
    public int ImageSize { get; }
    public int Classes { get; }

    public DatasetClassifier(int channels, int imageSize, int classes) : base("DatasetClassifier")
    {
        Channels = channels; ImageSize = imageSize; Classes = classes;
        body = Sequential(
            ("conv1", Conv2d(channels, 32, 3, padding: 1, bias: false)), ("bn1", BatchNorm2d(32)), ("relu1", ReLU()), ("pool1", MaxPool2d(2)),
            ("conv2", Conv2d(32, 64, 3, padding: 1, bias: false)), ("bn2", BatchNorm2d(64)), ("relu2", ReLU()), ("pool2", MaxPool2d(2)),
            ("flatten", Flatten()),
            ("fc", Linear(64 * (imageSize / 4) * (imageSize / 4), FeatureSize)), ("relu3", ReLU()));
        head = Sequential(("dropout", Dropout(0.3)), ("out", Linear(FeatureSize, classes)));
        RegisterComponents();
    }

    /// <summary>Penultimate features (N x 128).</summary>
    public Tensor Features(Tensor x) => body.forward(x);

    /// <summary>Class logits.</summary>
    public override Tensor forward(Tensor x) => head.forward(body.forward(x));

    /// <summary>File name of the shape next to the weights.</summary>
    static string ShapeFile(string weights) => weights + ".shape";

    /// <summary>Saves weights and shape (atomically).</summary>
    public void Save(string path)
    {
        Files.WriteAtomically(path, t => this.save(t));
        Files.WriteAllTextAtomically(ShapeFile(path), $"{Channels} {ImageSize} {Classes}");
    }

    /// <summary>Loads a classifier saved by <see cref="Save"/>.</summary>
    public static DatasetClassifier Load(string path)
    {
        if (!File.Exists(path) || !File.Exists(ShapeFile(path)))
            throw new FileNotFoundException($"classifier '{path}' (or its .shape file) is missing; train one with 'wwae train-classifier --out {path}'.", path);
        var text = File.ReadAllText(ShapeFile(path)).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var parts = text.Select(t => int.TryParse(t, out int v) ? v : -1).ToArray();
        if (parts.Length != 3 || parts[0] is not (1 or 3) || parts[1] is < 4 or > 1024 || parts[1] % 4 != 0 || parts[2] is < 2 or > 1000)
            throw new InvalidDataException($"classifier shape file '{ShapeFile(path)}' must hold 'CHANNELS SIZE CLASSES' (e.g. '1 28 10'); it is damaged, train the classifier again with 'wwae train-classifier'.");
        var model = new DatasetClassifier(parts[0], parts[1], parts[2]);
        try
        {
            Wwae.Training.WeightFile.Load(model, path, "classifier weights", "train the classifier again with 'wwae train-classifier'");
        }
        catch
        {
            model.Dispose();
            throw;
        }
        model.eval();
        return model;
    }

    /// <summary>Trains on <paramref name="train"/> (Adam, lr 1e-3, batch 128) and returns the model with its test accuracy.</summary>
    public static (DatasetClassifier Model, double TestAccuracy) Train(ImageSet train, ImageSet test, int epochs, Device device, int seed, ILogger? logger = null)
    {
        logger ??= NullLogger.Instance;
        if (train.Labels == null || test.Labels == null) throw new ArgumentException("the classifier needs a labelled data set (MNIST-style).");
        manual_seed(seed);
        var model = new DatasetClassifier(train.Channels, train.Height, Math.Max(train.ClassCount, test.ClassCount));
        model.to(device);
        var optimizer = optim.Adam(model.parameters(), lr: 1e-3);
        var pixels = tensor(train.Pixels, ScalarType.Byte).reshape(train.Count, train.Channels, train.Height, train.Width).to(device);
        var labels = tensor(train.Labels, ScalarType.Byte).to(ScalarType.Int64).to(device);
        var random = new Random(seed);
        const int batch = 128;
        for (int epoch = 1; epoch <= epochs; epoch++)
        {
            model.train();
            var order = Enumerable.Range(0, train.Count).ToArray();
            random.Shuffle(order);
            for (int start = 0; start + batch <= train.Count; start += batch)
            {
                using var scope = NewDisposeScope();
                var index = tensor(order[start..(start + batch)]).to(device);
                var x = pixels.index_select(0, index).to(float32) / 255f;
                var loss = functional.cross_entropy(model.forward(x), labels.index_select(0, index));
                optimizer.zero_grad();
                loss.backward();
                optimizer.step();
            }
            logger.LogInformation("classifier epoch {Epoch}/{Epochs} done", epoch, epochs);
        }
        pixels.Dispose();
        labels.Dispose();
        model.eval();
        return (model, model.Accuracy(test, device));
    }

    /// <summary>Fraction of <paramref name="data"/> classified correctly.</summary>
    public double Accuracy(ImageSet data, Device device)
    {
        using var _ = no_grad();
        int correct = 0;
        for (int start = 0; start < data.Count; start += 500)
        {
            using var scope = NewDisposeScope();
            int n = Math.Min(500, data.Count - start);
            var input = new float[n * Channels * ImageSize * ImageSize];
            data.ReadBatch(Enumerable.Range(start, n).ToArray(), input);
            var predicted = forward(tensor(input).reshape(n, Channels, ImageSize, ImageSize).to(device)).argmax(1).cpu().data<long>().ToArray();
            for (int i = 0; i < n; i++) if (predicted[i] == data.Labels![start + i]) correct++;
        }
        return correct / (double)data.Count;
    }
}

/// <summary>Feature extractor over a trained <see cref="DatasetClassifier"/>.</summary>
public sealed class ClassifierFeatures(DatasetClassifier classifier, Device device, string trainedOn) : IFeatureExtractor
{
    /// <inheritdoc/>
    public string Name => $"classifier trained on {trainedOn}, penultimate layer";
    /// <inheritdoc/>
    public int Dimension => DatasetClassifier.FeatureSize;

    /// <inheritdoc/>
    public double[] Extract(ReadOnlySpan<float> images, int count, int channels, int size, IProgress<int>? progress = null)
    {
        if (channels != classifier.Channels || size != classifier.ImageSize)
            throw new ArgumentException($"the classifier takes {classifier.Channels}x{classifier.ImageSize}x{classifier.ImageSize} images, not {channels}x{size}x{size}.");
        classifier.to(device).eval();
        using var _ = no_grad();
        int per = channels * size * size;
        var result = new double[(long)count * Dimension];
        for (int start = 0; start < count; start += 500)
        {
            using var scope = NewDisposeScope();
            int n = Math.Min(500, count - start);
            var x = tensor(images.Slice(start * per, n * per).ToArray()).reshape(n, channels, size, size).to(device);
            var f = classifier.Features(x).to(float64).cpu().data<double>();
            f.CopyTo(result.AsSpan(start * Dimension, n * Dimension));
            progress?.Report(start + n);
        }
        return result;
    }

    /// <inheritdoc/>
    public void Dispose() => classifier.Dispose();
}
